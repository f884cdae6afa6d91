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
    p.add_argument("--filter", default="local", metavar="local|anchors|JUDGE",
                   help="which prompts count as value questions: local (default: the bundled "
                   "intent classifier), anchors (the older embedding + lexical score), or a judge "
                   "name/manifest with an hf, gguf or openai backend (an LLM filter)")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="keep prompts scoring at least T (local and LLM filters: p(value question), "
                   "default from the filter; anchors: default 0.10)")
    p.add_argument("--min-value-score", type=float, default=None,
                   help="older name of --filter anchors --threshold T")
    p.add_argument("--propositions", metavar="FILE",
                   help="JSON/TOML mapping cluster names (from a first build) to the propositions "
                   "you confirmed, e.g. {\"vaccine-mandate-jobs\": \"Vaccine mandates are justified.\"}")
    p.add_argument("--examples", type=int, default=2, metavar="N",
                   help="example prompts shown per cluster (default 2)")
    p.add_argument("--yes", action="store_true", help="consent to send prompts to a remote LLM filter")
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
    from vdbench.commands.common import check_output_file, consent_to_send
    from vdbench.errors import InputError
    from vdbench.evalsets.builder import build_vprism

    if args.examples < 0:
        raise InputError("--examples must be ≥ 0")
    check_output_file(args.output, "--output")

    def consent(judge, n_texts: int) -> None:
        consent_to_send(judge, n_texts, args.yes)

    value_filter = "anchors" if args.min_value_score is not None and args.filter == "local" else args.filter
    report = build_vprism(args.input, args.output, n_topics=args.topics,
                          per_topic=args.per_topic, seed=args.seed, filter=value_filter,
                          threshold=args.threshold, min_value_score=args.min_value_score,
                          propositions=args.propositions, n_examples=args.examples,
                          consent=consent)
    if args.json:
        print_json(report)
        return 0
    out = console()
    distinct = report["kept"] + report["dropped"]
    out.print(f"kept {report['kept']} of {distinct} distinct prompts ({100 * report['kept_share']:.1f} %) "
              f"as value questions (filter {report['filter']}, threshold {report['threshold']:g}); "
              f"wrote {report['written']} prompts in {len(report['topics'])} topics to {args.output}; "
              f"every prompt's score and decision: {report['decisions']}", markup=False)
    for t in report["topics"]:
        where = {"builtin": "built-in topic", "confirmed": "confirmed", "draft": "DRAFT"}[t["proposition_source"]]
        renamed = f" (cluster {t['cluster']})" if t["cluster"] != t["topic"] else ""
        out.print(f"\n{t['topic']}{renamed}: {t['cluster_size']} prompts ({100 * t['share']:.0f} % of kept), "
                  f"{t['n_prompts']} written; top terms: {', '.join(t['top_terms'])}", markup=False)
        out.print(f"  proposition ({where}): {t['proposition']}", markup=False)
        for example in t["examples"]:
            out.print(f"  e.g. {example}", markup=False)
    for warning in report["warnings"]:
        out.print(f"warning: {warning}", markup=False, style="yellow")
    return 0
