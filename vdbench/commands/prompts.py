"""`vdbench prompts list|show|import|build`: eval sets."""

from __future__ import annotations

import argparse
from collections import Counter

from vdbench.commands.common import add_json, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("prompts", help="eval sets: list, show, import, build (V-PRISM recipe)",
                            description="Eval sets of value-laden prompts grouped by topic; "
                            "each topic carries the proposition stance is measured toward.")
    psub = parser.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)

    p = psub.add_parser("list", help="list an eval set's topics, propositions and prompts")
    p.add_argument("--eval-set", default="vprism", help="vprism, vprism-mini, a stored name or a file")
    p.add_argument("--db", help="also look up eval sets imported into this store")
    add_json(p)
    p.set_defaults(func=cmd_list)

    p = psub.add_parser("show", help="show one topic's prompts, or one prompt")
    p.add_argument("target", help="a topic name or a prompt_id")
    p.add_argument("--eval-set", default="vprism")
    p.add_argument("--db")
    add_json(p)
    p.set_defaults(func=cmd_show)

    p = psub.add_parser("import", help="validate a JSONL/CSV/Parquet eval-set file and store it",
                        description="Columns: topic, prompt (required); proposition (required for "
                        "topics not built in); prompt_id, framing (optional). The whole file is "
                        "validated before anything is written.")
    p.add_argument("file")
    p.add_argument("--db", required=True)
    p.add_argument("--name", help="eval-set name (default: the file's stem)")
    add_json(p)
    p.set_defaults(func=cmd_import)

    p = psub.add_parser("build", help="build a V-PRISM-style eval set from any prompt pool",
                        description="Keep value-laden prompts (documented filter), embed with "
                        "MiniLM, cluster with k-means, name clusters by top terms, sample per "
                        "cluster (seeded), write a file `prompts import` accepts.")
    p.add_argument("--input", required=True, help="prompt pool: JSONL/CSV/Parquet with a 'prompt' "
                   "column, or a .txt file with one prompt per line")
    p.add_argument("--topics", type=int, default=11, help="number of clusters (default 11)")
    p.add_argument("--per-topic", type=int, default=50, help="prompts sampled per cluster (default 50)")
    p.add_argument("--output", required=True, help="eval-set JSONL to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-value-score", type=float, default=None,
                   help="value-ladenness threshold (see docs/vprism_builder.md)")
    add_json(p)
    p.set_defaults(func=cmd_build)


def _evalset(args: argparse.Namespace):
    from vdbench.evalsets.stored import resolve_eval_set
    from vdbench.store import Store

    return resolve_eval_set(args.eval_set, Store(args.db) if args.db else None)


def cmd_list(args: argparse.Namespace) -> int:
    evalset = _evalset(args)
    grouped = evalset.by_topic()
    if args.json:
        print_json({
            "eval_set": evalset.name,
            "n_topics": len(grouped),
            "n_prompts": len(evalset.prompts),
            "topics": [
                {"topic": t, "proposition": evalset.topics[t], "n_prompts": len(ps),
                 "prompts": [{"prompt_id": p.prompt_id, "prompt": p.text, "framing": p.framing}
                             for p in ps]}
                for t, ps in grouped.items()
            ],
        })
        return 0
    from rich.table import Table

    table = Table(title=f"{evalset.name}: {len(grouped)} topics × {len(evalset.prompts)} prompts")
    table.add_column("topic")
    table.add_column("prompts", justify="right")
    table.add_column("framing for/against/open")
    table.add_column("proposition (stance is toward this)")
    for topic, ps in grouped.items():
        framing = Counter(p.framing for p in ps)
        table.add_row(topic, str(len(ps)),
                      f"{framing['for']}/{framing['against']}/{framing['open']}",
                      evalset.topics[topic])
    console().print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError

    evalset = _evalset(args)
    if args.target in evalset.topics:
        prompts = evalset.by_topic()[args.target]
    else:
        prompts = [p for p in evalset.prompts if p.prompt_id == args.target]
        if not prompts:
            raise InputError(f"{args.target!r} is neither a topic nor a prompt_id of {evalset.name}",
                             hint="see `vdbench prompts list`")
    topic = prompts[0].topic
    if args.json:
        print_json({"eval_set": evalset.name, "topic": topic,
                    "proposition": evalset.topics[topic],
                    "prompts": [{"prompt_id": p.prompt_id, "prompt": p.text, "framing": p.framing}
                                for p in prompts]})
        return 0
    out = console()
    out.print(f"{topic} — proposition: {evalset.topics[topic]}", markup=False)
    for p in prompts:
        out.print(f"  {p.prompt_id:<24} ({p.framing or '-':>7}) {p.text}", markup=False)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from vdbench.evalsets.loaders import load_eval_file
    from vdbench.evalsets.stored import register_eval_set
    from vdbench.store import Store

    evalset = load_eval_file(args.file, name=args.name)
    added = register_eval_set(Store(args.db), evalset)
    summary = {"eval_set": evalset.name, "topics": len(evalset.topics),
               "prompts": len(evalset.prompts), "added": added}
    if args.json:
        print_json(summary)
    else:
        state = "imported" if added else "already stored (identical)"
        console().print(f"{evalset.name}: {len(evalset.topics)} topics, "
                        f"{len(evalset.prompts)} prompts — {state} in {args.db}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from vdbench.evalsets.builder import build_vprism

    report = build_vprism(args.input, args.output, n_topics=args.topics,
                          per_topic=args.per_topic, seed=args.seed,
                          min_value_score=args.min_value_score)
    if args.json:
        print_json(report)
    else:
        out = console()
        out.print(f"kept {report['kept']} of {report['pool']} prompts as value-laden; "
                  f"wrote {report['written']} prompts in {len(report['topics'])} topics to {args.output}")
        for t in report["topics"]:
            out.print(f"  {t['topic']:<32} {t['n_prompts']:>4}  cluster size {t['cluster_size']}")
    return 0
