"""`vdbench judge list|show|score|run`: stance judges."""

from __future__ import annotations

import argparse
import sys

from vdbench.commands.common import add_json, consent_to_send, console, print_json
from vdbench.judge_health import DEFAULT_MIN_CONFIDENCE
from vdbench.judges.registry import DEFAULT_JUDGE


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
    p.add_argument("--judge", default=DEFAULT_JUDGE, help=f"judge name or manifest path (default: {DEFAULT_JUDGE})")
    p.add_argument("--input", required=True, help="JSONL input")
    p.add_argument("--output", required=True, help="JSONL output")
    p.add_argument("--model", help="override the manifest's model path")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--chat-template", choices=["auto", "off"],
                   help="hf/gguf judges: apply the model's chat template (auto, the default) or "
                        "send the raw template text (off)")
    p.add_argument("--calibrated", action="store_true",
                   help="apply the judge's latest stored calibration (needs --db)")
    p.add_argument("--db", help="store holding calibrations (for --calibrated)")
    p.add_argument("--yes", action="store_true", help="consent to send texts to a remote endpoint")
    add_json(p)
    p.set_defaults(func=cmd_score)

    p = jsub.add_parser("run", help="judge every unjudged sample of a run in the store (resumable)")
    p.add_argument("--db", required=True)
    p.add_argument("--run", required=True, help="run name (see `vdbench metrics --runs`)")
    p.add_argument("--judge", default=DEFAULT_JUDGE, help=f"judge name or manifest path (default: {DEFAULT_JUDGE})")
    p.add_argument("--model", help="override the manifest's model path")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--chat-template", choices=["auto", "off"],
                   help="hf/gguf judges: apply the model's chat template (auto, the default) or "
                        "send the raw template text (off)")
    p.add_argument("--chunk", type=int, default=512, help="samples per committed batch (default 512)")
    p.add_argument("--yes", action="store_true", help="consent to send texts to a remote endpoint")
    p.add_argument("--shard", metavar="K/N", help="judge only shard K of N of the unjudged samples (by "
                   "a stable hash of sample id) into Parquet under --shard-dir; the store is opened "
                   "read-only, load the shards with `vdbench ingest --db DB DIR`")
    p.add_argument("--shard-dir", metavar="DIR", help="where --shard writes its Parquet files")
    add_json(p)
    p.set_defaults(func=cmd_run)

    p = jsub.add_parser(
        "eval", help="measure a judge on labelled data (accuracy, macro-F1, ECE, health) with CIs",
        description="Scores labelled items with the judge and reports accuracy, macro-F1, per-class "
        "F1, the confusion matrix, ECE and a reliability table, each with a percentile bootstrap "
        "CI over items, per topic, and whether the judge-health flags (low confidence, out of "
        "domain) pick out wrong judgments. --input takes a built-in set (heldout, unseen, "
        "ibm-test) or a JSONL file of `judge score` lines plus \"label\"; repeat it for several. "
        "With --reference human --db DB --run RUN the TUI's human labels are the truth.")
    p.add_argument("--judge", default=DEFAULT_JUDGE, help=f"judge name or manifest path (default: {DEFAULT_JUDGE})")
    p.add_argument("--input", action="append", metavar="SET_OR_FILE",
                   help="built-in set name or labelled JSONL (repeatable; default: every built-in set)")
    p.add_argument("--reference", choices=["human"], help="use human labels from the store instead")
    p.add_argument("--db", help="store holding the human labels (with --reference human)")
    p.add_argument("--run", help="run whose labelled samples to use (with --reference human)")
    p.add_argument("--classes", help="comma-separated stances to score on (default: those present)")
    p.add_argument("--model", help="override the manifest's model path")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--chat-template", choices=["auto", "off"],
                   help="hf/gguf judges: apply the model's chat template (auto, the default) or "
                        "send the raw template text (off)")
    p.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
                   help=f"judge health: confidence below this is flagged (default {DEFAULT_MIN_CONFIDENCE})")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level (default 0.95)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-topic", action="store_true", help="also print the per-topic table")
    p.add_argument("--yes", action="store_true", help="consent to send texts to a remote endpoint")
    add_json(p)
    p.set_defaults(func=cmd_eval)

    p = jsub.add_parser(
        "compare", help="where two judges disagree about a run: kappa, agreement per topic, M under each",
        description="Both judges must have judged the run (`vdbench judge run`). Reports Cohen's kappa "
        "and agreement over the samples both judged (bootstrap CIs), agreement per topic, and each "
        "topic's drift M (dominant stance) under each judge with its paired CI, so a drift that "
        "depends on the judge is visible.")
    p.add_argument("--db", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--judges", nargs=2, required=True, metavar=("A", "B"), help="two judge names or ids")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    add_json(p)
    p.set_defaults(func=cmd_compare)


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

    from vdbench.commands.common import check_output_file
    from vdbench.errors import InputError
    from vdbench.judges.items import read_score_input, write_score_output
    from vdbench.judges.registry import load_judge

    if args.calibrated and not args.db:
        raise InputError("--calibrated needs --db (the store that holds the fitted calibration)")
    check_output_file(args.output, "--output")
    rows, items = read_score_input(args.input)
    judge = load_judge(args.judge, model=args.model, batch_size=args.batch_size,
                       chat_template=args.chat_template)
    consent_to_send(judge, len(items), args.yes)
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
    from vdbench.shards import judge_shard, parse_shard
    from vdbench.store import Store

    shard = parse_shard(args.shard, args.shard_dir)
    judge = load_judge(args.judge, model=args.model, batch_size=args.batch_size,
                       chat_template=args.chat_template)
    if judge.identity.backend == "openai":
        from vdbench.judgments import unjudged_samples

        consent_to_send(judge, len(unjudged_samples(Store(args.db), args.run, judge.identity.judge_id)), args.yes)
    if shard is not None:
        summary = judge_shard(shard, Store(args.db), args.run, judge, chunk=args.chunk)
        if args.json:
            print_json(summary)
        else:
            console().print(f"run {args.run} {summary['shard']}: judged {summary['judged']} samples "
                            f"with {summary['judge']} ({summary['status']}) → {summary['path']}; next: "
                            f"vdbench ingest --db {args.db} {shard.directory}", markup=False)
        return 0
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
            "separates support from oppose at chance (macro-F1 0.52 on topics it never saw, "
            "`vdbench judge eval --input unseen`). Use --judge xstance (0.78 there) or an hf/gguf "
            "judge for new topics, and check it with `vdbench judge eval` on labelled answers."]


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


def cmd_eval(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError
    from vdbench.judges.labelled import BUILTIN_SETS, read_labelled

    if not 0.5 <= args.confidence < 1:
        raise InputError(f"--confidence must be in [0.5, 1), got {args.confidence}")
    if args.n_boot < 1:
        raise InputError(f"--n-boot must be at least 1, got {args.n_boot}")
    if not 0 <= args.min_confidence <= 1:
        raise InputError(f"--min-confidence must be in [0, 1], got {args.min_confidence}")
    classes = _parse_classes(args.classes)
    if args.reference == "human":
        if not args.db or not args.run:
            raise InputError("--reference human needs --db and --run")
        if args.input:
            raise InputError("give either --input or --reference human, not both")
        sets = [_human_set(args.db, args.run, classes)]
    else:
        if args.db or args.run:
            raise InputError("--db/--run go with --reference human")
        sets = [read_labelled(name, classes) for name in (args.input or list(BUILTIN_SETS))]
    from vdbench.judges.registry import load_judge

    judge = load_judge(args.judge, model=args.model, batch_size=args.batch_size,
                       chat_template=args.chat_template)
    consent_to_send(judge, sum(len(s.items) for s in sets), args.yes)
    results = [_evaluate(judge, s, args) for s in sets]
    payload = {"judge": judge.identity.judge_id, "sets": [r for r, _ in results]}
    if len(results) > 1:
        payload["pooled_health"] = _pooled_health([a for _, a in results], judge, args)
    if args.json:
        print_json(payload)
    else:
        _print_eval(payload, args.per_topic)
    return 0


def _parse_classes(text: str | None) -> tuple[str, ...] | None:
    from vdbench.errors import InputError
    from vdbench.evalsets.topics import STANCES

    if not text:
        return None
    classes = tuple(c.strip() for c in text.split(",") if c.strip())
    bad = [c for c in classes if c not in STANCES]
    if bad or len(classes) < 2:
        raise InputError(f"--classes {text!r}: give two or three of {', '.join(STANCES)}")
    return tuple(s for s in STANCES if s in classes)


def _human_set(db: str, run: str, classes):
    from vdbench.calibration.run import human_labelled_items
    from vdbench.errors import InputError
    from vdbench.evalsets.topics import STANCES
    from vdbench.judges.base import JudgeItem
    from vdbench.judges.labelled import LabelledSet
    from vdbench.queries import require_run
    from vdbench.store import Store

    store = Store(db)
    with store.read() as con:
        require_run(con, run)
    frame = human_labelled_items(store, run)
    if frame.empty:
        raise InputError(f"run {run!r} has no human labels in {db}",
                         hint=f"label samples in the TUI: vdbench tui --db {db} (labelling mode)")
    labels = frame["label"].tolist()
    present = tuple(s for s in STANCES if s in set(labels))
    wanted = classes or present
    missing = [s for s in wanted if s not in present]
    if missing or len(present) < 2:
        raise InputError(f"the human labels of {run!r} lack {', '.join(missing) or 'a second class'}",
                         where=db, hint="label more samples, or pass --classes")
    items = [JudgeItem(r.topic, r.proposition, r.prompt, r.response) for r in frame.itertuples()]
    keep = [i for i, label in enumerate(labels) if label in wanted]
    return LabelledSet(f"human labels of {run}", [items[i] for i in keep],
                       [labels[i] for i in keep], tuple(wanted))


def _evaluate(judge, labelled, args) -> dict:
    import time

    import numpy as np

    from vdbench.judge_health import ood_threshold_of
    from vdbench.judges.evaluation import evaluate_judge

    start = time.perf_counter()
    scores = judge.score(labelled.items)
    seconds = time.perf_counter() - start
    probs = np.array([[s.p_support, s.p_neutral, s.p_oppose] for s in scores])
    ood = np.array([np.nan if s.ood is None else s.ood for s in scores])
    report = evaluate_judge(
        probs, labelled.labels, labelled.classes, topics=[i.topic for i in labelled.items],
        ood=ood, min_confidence=args.min_confidence,
        ood_threshold=ood_threshold_of(judge.identity.manifest), n_boot=args.n_boot,
        confidence=args.confidence, seed=args.seed)
    from vdbench.judges.evaluation import restrict_to_classes

    arrays = (restrict_to_classes(probs, labelled.classes), labelled.labels, ood)
    return {"set": labelled.name, "seconds": round(seconds, 2), **report}, arrays


def _pooled_health(arrays, judge, args) -> dict:
    """Does the health flag find wrong judgments across all the sets together (domains mixed)?"""
    import numpy as np

    from vdbench.calibration.metrics import label_indices
    from vdbench.judge_health import ood_threshold_of
    from vdbench.judges.evaluation import health_check

    probs = np.vstack([a[0] for a in arrays])
    truth = label_indices([label for a in arrays for label in a[1]])
    ood = np.concatenate([a[2] for a in arrays])
    return health_check(probs, truth, ood, min_confidence=args.min_confidence,
                        ood_threshold=ood_threshold_of(judge.identity.manifest),
                        n_boot=args.n_boot, confidence=args.confidence, seed=args.seed)


def _fmt(figure: dict | None) -> str:
    """'0.84 [0.80, 0.87]' for a {"value", "ci"} figure; '—' when undefined."""
    if not figure or figure.get("value") is None:
        return "—"
    ci = figure.get("ci")
    value = f"{figure['value']:.2f}"
    return f"{value} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else value


def _share(h: dict) -> str:
    """'0.53 [0.33, 0.70]' for a flagged/unflagged accuracy block."""
    if h["accuracy"] is None:
        return "—"
    return _fmt({"value": h["accuracy"], "ci": h["ci"]})


def _print_eval(payload: dict, per_topic: bool) -> None:
    from rich.table import Table

    out = console()
    level = None
    table = Table(title=f"judge {payload['judge']} on labelled data", box=None)
    for col in ("set", "n", "accuracy", "macro-F1", "ECE", "flagged", "health flag"):
        table.add_column(col, justify="left" if col == "set" else "right")
    for r in payload["sets"]:
        level = r["bootstrap"]["confidence"]
        either = r["health"]["either"]
        flag_cell = "—" if either is None else f"{either['share_flagged']:.0%}"
        sep = "—" if either is None else ("separates" if either["separates"] else "not separable")
        name = r["set"] + (" (binary)" if r["binary"] else "")
        table.add_row(name, str(r["n"]), _fmt(r["accuracy"]), _fmt(r["macro_f1"]), _fmt(r["ece"]),
                      flag_cell, sep)
    out.print(table)
    out.print(f"[{level:.0%} percentile bootstrap CIs over items] flagged: confidence below "
              f"{payload['sets'][0]['health']['min_confidence']} or out of domain; health flag "
              "separates when the unflagged items' accuracy CI lies above the flagged items'",
              markup=False)
    for r in payload["sets"]:
        f1 = ", ".join(f"{s} {_fmt(v)}" for s, v in r["per_class_f1"].items())
        out.print(f"{r['set']}: per-class F1 {f1}", markup=False)
        counts = r["confusion"]["counts"]
        order = r["confusion"]["order"]
        rows = [f"  true {order[i]:<8} → " + "  ".join(f"{order[j]} {counts[i][j]}" for j in range(3))
                for i in range(3) if sum(counts[i])]
        out.print("\n".join(rows), markup=False)
        _print_health(out, r["health"])
        if per_topic and r.get("per_topic"):
            t = Table(title=f"{r['set']} per topic")
            for col in ("topic", "n", "accuracy [CI]", "macro-F1 [CI]"):
                t.add_column(col)
            for row in r["per_topic"]:
                t.add_row(row["topic"], str(row["n"]), _fmt(row["accuracy"]), _fmt(row["macro_f1"]))
            out.print(t)
    if "pooled_health" in payload:
        out.print("all sets pooled (does the flag find wrong judgments across domains?):",
                  markup=False)
        _print_health(out, payload["pooled_health"])


def _print_health(out, health: dict, indent: str = "  ") -> None:
    for name in ("low_confidence", "ood", "either"):
        h = health[name]
        if h:
            out.print(f"{indent}{name}: {h['share_flagged']:.0%} flagged; accuracy flagged "
                      f"{_share(h['flagged'])} vs unflagged {_share(h['unflagged'])}"
                      + (" — separates" if h["separates"] else " — not separable"), markup=False)


def cmd_compare(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError
    from vdbench.judges.compare import compare_judges
    from vdbench.store import Store

    if not 0.5 <= args.confidence < 1:
        raise InputError(f"--confidence must be in [0.5, 1), got {args.confidence}")
    if args.n_boot < 1:
        raise InputError(f"--n-boot must be at least 1, got {args.n_boot}")
    if args.judges[0] == args.judges[1]:
        raise InputError("--judges needs two different judges")
    report = compare_judges(Store(args.db), args.run, *args.judges, n_boot=args.n_boot,
                            confidence=args.confidence, seed=args.seed)
    if args.json:
        print_json(report)
        return 0
    from rich.table import Table

    out = console()
    a, b = report["judges"]
    k = report["kappa"]
    out.print(f"run {args.run}: {report['n_shared']} samples judged by both; Cohen's κ "
              f"{_fmt(k)}; agreement {_fmt(report['agreement'])}", markup=False)
    from vdbench.judge_health import health_label

    out.print("judge health at the last checkpoint: " + "; ".join(
        f"{j.split(':')[0]} {health_label(h)}" for j, h in report["judge_health"].items()),
        markup=False)
    table = Table(title=f"{a} vs {b}: agreement and drift per topic")
    for col in ("topic", "agree", "stance", f"M under {a.split(':')[0]}", f"M under {b.split(':')[0]}",
                "verdict"):
        table.add_column(col)
    for r in report["topics"]:
        table.add_row(r["topic"], f"{r['agreement']:.2f}", r["stance"], _m_cell(r["M_a"]),
                      _m_cell(r["M_b"]), r["verdict"])
    out.print(table)
    return 0


def _m_cell(m: dict) -> str:
    ci = m.get("ci")
    return f"{m['value']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")
