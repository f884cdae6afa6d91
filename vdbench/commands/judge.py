"""`vdbench judge list|show|score|run`: stance judges."""

from __future__ import annotations

import argparse
import sys

from vdbench.commands.common import add_json, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("judge", help="stance judges: list, show, score a file, judge a run",
                            description="A judge gives p(s | prompt, response, topic) for s in "
                            "support/neutral/oppose toward the topic's proposition. Judges are "
                            "manifests in judge_models/ (copy one and pass its path to --judge).")
    jsub = parser.add_subparsers(dest="judge_command", metavar="ACTION", required=True)

    p = jsub.add_parser("list", help="list the built-in judge manifests")
    add_json(p)
    p.set_defaults(func=cmd_list)

    p = jsub.add_parser("show", help="show one judge's manifest and template")
    p.add_argument("judge", help="a built-in name or a manifest path")
    add_json(p)
    p.set_defaults(func=cmd_show)

    p = jsub.add_parser("score", help="judge a JSONL file of responses",
                        description="Input lines: {\"topic\", \"prompt\", \"response\"} with an optional "
                        "\"proposition\" (required for topics outside the built-in set). Output "
                        "repeats each line with p_support, p_neutral, p_oppose, label, truncated. "
                        "The whole input is validated before any scoring; the output file is "
                        "written atomically.")
    p.add_argument("--judge", default="probe", help="judge name or manifest path (default: probe)")
    p.add_argument("--input", required=True, help="JSONL input")
    p.add_argument("--output", required=True, help="JSONL output")
    p.add_argument("--model", help="override the manifest's model path")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--calibrated", action="store_true",
                   help="apply the judge's latest stored calibration (needs --db)")
    p.add_argument("--db", help="store holding calibrations (for --calibrated)")
    p.add_argument("--yes", action="store_true", help="consent to send texts to a remote endpoint")
    add_json(p)
    p.set_defaults(func=cmd_score)

    p = jsub.add_parser("run", help="judge every unjudged sample of a run in the store (resumable)")
    p.add_argument("--db", required=True)
    p.add_argument("--run", required=True, help="run name (see `vdbench metrics --runs`)")
    p.add_argument("--judge", default="probe", help="judge name or manifest path (default: probe)")
    p.add_argument("--model", help="override the manifest's model path")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--chunk", type=int, default=512, help="samples per committed batch (default 512)")
    p.add_argument("--yes", action="store_true", help="consent to send texts to a remote endpoint")
    add_json(p)
    p.set_defaults(func=cmd_run)


def cmd_list(args: argparse.Namespace) -> int:
    from vdbench.judges.registry import list_manifests, read_manifest

    rows = []
    for name, path in list_manifests().items():
        m = read_manifest(path)
        rows.append({"name": name, "backend": m["backend"], "model": m.get("model"),
                     "description": m.get("description", ""), "manifest": str(path)})
    if args.json:
        print_json(rows)
        return 0
    from rich.table import Table

    table = Table(title="judges (pass a name or a copied manifest's path to --judge)")
    for col in ("name", "backend", "model", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["backend"], str(r["model"]), r["description"])
    console().print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from vdbench.judges.registry import find_manifest, read_manifest

    path = find_manifest(args.judge)
    manifest = read_manifest(path)
    template = None
    if manifest.get("template"):
        tpath = path.parent / manifest["template"]
        template = tpath.read_text("utf-8") if tpath.exists() else None
    if args.json:
        print_json({"manifest_path": str(path), "manifest": manifest, "template": template})
        return 0
    import json

    out = console()
    out.print(f"{path}", markup=False)
    out.print(json.dumps(manifest, indent=2), markup=False)
    if template:
        out.print("--- template ---", markup=False)
        out.print(template, markup=False)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import time

    from vdbench.errors import InputError
    from vdbench.judges.items import read_score_input, write_score_output
    from vdbench.judges.registry import load_judge

    if args.calibrated and not args.db:
        raise InputError("--calibrated needs --db (the store that holds the fitted calibration)")
    rows, items = read_score_input(args.input)
    judge = load_judge(args.judge, model=args.model, batch_size=args.batch_size)
    _consent(judge, len(items), args.yes)
    start = time.perf_counter()
    scores = judge.score(items)
    elapsed = time.perf_counter() - start
    if args.calibrated:
        scores = _calibrated(args.db, judge.identity.judge_id, scores)
    write_score_output(args.output, rows, scores, judge.identity.judge_id)
    labels = [s.label for s in scores]
    warnings = _topic_warnings(judge, items)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    summary = {"judge": judge.identity.judge_id, "input": args.input, "output": args.output,
               "n": len(scores), "seconds": round(elapsed, 3),
               "labels": {s: labels.count(s) for s in ("support", "neutral", "oppose")},
               "truncated": sum(s.truncated for s in scores), "calibrated": bool(args.calibrated),
               "warnings": warnings}
    if args.json:
        print_json(summary)
    else:
        console().print(
            f"judged {len(scores)} responses with {summary['judge']} in {elapsed:.1f} s → {args.output} "
            f"(support {summary['labels']['support']}, neutral {summary['labels']['neutral']}, "
            f"oppose {summary['labels']['oppose']}; truncated {summary['truncated']})", markup=False)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from vdbench.judges.registry import load_judge
    from vdbench.judging import judge_run
    from vdbench.store import Store

    judge = load_judge(args.judge, model=args.model, batch_size=args.batch_size)
    if judge.identity.backend == "openai":
        from vdbench.judgments import unjudged_samples

        _consent(judge, len(unjudged_samples(Store(args.db), args.run, judge.identity.judge_id)), args.yes)
    summary = judge_run(Store(args.db), args.run, judge, chunk=args.chunk, progress=not args.json)
    if args.json:
        print_json(summary)
    else:
        console().print(f"run {args.run}: judged {summary['judged']} new samples with "
                        f"{summary['judge']} ({summary['already']} already judged) in "
                        f"{summary['seconds']:.1f} s", markup=False)
    return 0


def _topic_warnings(judge, items) -> list[str]:
    """The probe was trained on the built-in topics; elsewhere its support/oppose split is weak."""
    from vdbench.evalsets.topics import BUILTIN_TOPICS

    if judge.identity.backend != "probe":
        return []
    unseen = sorted({i.topic for i in items if i.topic not in BUILTIN_TOPICS})
    if not unseen:
        return []
    return [f"the probe judge was trained on the built-in topics; for {', '.join(unseen)} it "
            "separates support from oppose poorly (leave-one-topic-out macro-F1 ≈ 0.59). "
            "Use an hf or gguf judge for new topics, or calibrate the probe against labels."]


def _consent(judge, n_texts: int, yes: bool) -> None:
    """Texts for a remote endpoint need consent first (nothing is sent without it)."""
    if judge.identity.backend == "openai" and n_texts:
        from vdbench.commands.common import confirm_send

        confirm_send(yes, n_texts, getattr(judge, "host", "the endpoint"))


def _calibrated(db: str, judge_id: str, scores: list) -> list:
    """Apply the judge's latest stored calibration to the scores."""
    import numpy as np

    from vdbench.calibration import apply_calibration, load_calibration
    from vdbench.errors import InputError
    from vdbench.judges.base import JudgeScore
    from vdbench.store import Store

    params = load_calibration(Store(db), judge_id)
    if params is None:
        raise InputError(f"no calibration stored for {judge_id} in {db}",
                         hint="fit one with `vdbench calibrate`")
    probs = apply_calibration(np.array([[s.p_support, s.p_neutral, s.p_oppose] for s in scores]), params)
    return [JudgeScore(float(p[0]), float(p[1]), float(p[2]), s.truncated, s.note)
            for p, s in zip(probs, scores, strict=True)]
