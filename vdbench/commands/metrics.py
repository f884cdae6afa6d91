"""`vdbench metrics`: per-topic stance values with CIs, drift magnitude and drift time."""

from __future__ import annotations

import argparse

from vdbench.commands.common import add_db, add_json, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metrics", help="stance values v_t(T) with bootstrap CIs, drift magnitude M and drift time η",
        description="Per topic and checkpoint: v_t(T) = mean over prompts of the mean over "
        "samples of p(s|x,y,T), with bootstrap CIs over prompts (each with its samples; rescaled, expanded percentile). Per "
        "stage (run): M_s = v_last − v_first and η = fraction of training at which the stance "
        "first enters the CI of its extreme value. See docs/metrics.md.",
    )
    add_db(p)
    p.add_argument("--run", help="run name (omit with --runs to list runs)")
    p.add_argument("--runs", action="store_true", help="list runs with lineage instead")
    p.add_argument("--judge", help="judge name or id (default: the run's probe judgments, else the only judge)")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level (default 0.95)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--calibrated", action="store_true",
                   help="apply the judge's latest calibration (from `vdbench calibrate`) first")
    p.add_argument("--corrected", action="store_true",
                   help="also report values and M corrected for the judge's misclassification "
                   "rates, estimated from labelled samples in the store (docs/metrics.md)")
    p.add_argument("--reference", metavar="human|SOURCE",
                   help="with --corrected: which labels ('human' = every human:* annotator, or "
                   "an exact reference_labels source; default human if any, else the newest)")
    p.add_argument("--min-labels-per-class", type=int, default=5, metavar="N",
                   help="with --corrected: refuse unless each true stance present has N labels "
                   "(default 5)")
    p.add_argument("--min-confidence", type=float, default=0.6,
                   help="judge health: judgments below this confidence are flagged (default 0.6)")
    p.add_argument("--from-step", type=int, help="also report M between this checkpoint ...")
    p.add_argument("--to-step", type=int, help="... and this one")
    add_json(p)
    p.set_defaults(func=cmd_metrics)


def cmd_metrics(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError
    from vdbench.store import Store

    store = Store(args.db)
    if args.runs:
        return _list_runs(store, args.json)
    if not args.run:
        raise InputError("--run is required (or --runs to list them)")
    if not 0.5 <= args.confidence < 1:
        raise InputError(f"--confidence must be in [0.5, 1), got {args.confidence}")
    if args.n_boot < 1:
        raise InputError(f"--n-boot must be at least 1, got {args.n_boot}")
    if not 0 <= args.min_confidence <= 1:
        raise InputError(f"--min-confidence must be in [0, 1], got {args.min_confidence}")
    if args.reference is not None and not args.corrected:
        raise InputError("--reference chooses the labels for --corrected", hint="add --corrected")
    if args.min_labels_per_class < 1:
        raise InputError(f"--min-labels-per-class must be at least 1, got {args.min_labels_per_class}")
    from vdbench.metrics.report import run_metrics

    report = run_metrics(store, args.run, judge=args.judge, confidence=args.confidence,
                         n_boot=args.n_boot, seed=args.seed, from_step=args.from_step,
                         to_step=args.to_step, calibrated=args.calibrated,
                         corrected=args.corrected, reference=args.reference,
                         min_labels_per_class=args.min_labels_per_class,
                         min_confidence=args.min_confidence)
    if args.json:
        print_json(report)
    else:
        _print_report(report)
    return 0


def _list_runs(store, as_json: bool) -> int:
    from vdbench import queries

    with store.read() as con:
        runs = queries.list_runs(con)
    if as_json:
        print_json(runs)
        return 0
    from rich.table import Table

    table = Table(title=f"runs in {store.path}")
    for col in ("run", "stage", "algorithm", "parent", "checkpoints", "judges"):
        table.add_column(col)
    for r in runs:
        parent = _ref(r["parent_run"], r["parent_step"]) if r["parent_run"] else "-"
        table.add_row(r["run_id"], r["stage"], r["algorithm"], parent, str(r["n_checkpoints"]),
                      r["judges"] or "-")
    console().print(table)
    return 0


def _ref(run: str, step) -> str:
    """RUN:STEP, or RUN alone when the parent has no checkpoint (e.g. a base model)."""
    return run if step is None else f"{run}:{int(step)}"


def _drift_cell(d: dict):
    """M [η] over M's paired bootstrap interval (dim; "no shared prompts" when it has none)."""
    from rich.text import Text

    ci = d.get("M_ci")
    below = f"{ci[0]:+.3f}…{ci[1]:+.3f}" if ci else "no shared prompts"
    return Text(f"{d['M']:+.3f} [{d['eta']:.2f}]\n") + Text(below, style="dim")


def _print_judge_health(out, health: dict | None) -> None:
    """Pooled judge health at the first and last checkpoint, and the topics it fails on."""
    from vdbench.judge_health import health_label

    if not health:
        return
    pooled = [r for r in health["by_checkpoint"] if r["topic"] == "(all topics)"]
    if not pooled:
        return
    first, last = pooled[0], pooled[-1]
    ood = ("OOD not measured by this judge" if not health["ood_measured"]
           else f"OOD {last['ood']:.0%}")
    out.print(f"judge health: {health_label(first)} flagged at step {first['step']} → "
              f"{health_label(last)} at step {last['step']} (confidence < "
              f"{health['min_confidence']} {last['low_confidence']:.0%}; {ood})", markup=False)
    weak = sorted({r["topic"] for r in health["by_checkpoint"]
                   if r["topic"] != "(all topics)" and r["step"] == last["step"] and not r["reliable"]})
    if weak:
        out.print(f"  the judge is guessing (over half flagged) at the last checkpoint on: "
                  f"{', '.join(weak)} — read those stance figures with care", markup=False)


def _print_capability(out, block: dict | None) -> None:
    """One line per capability task: its headline metric first → last, Δ and its CI."""
    from vdbench.metrics.capability import headline_rows

    if not block:
        return
    parts = []
    for r in headline_rows(block):
        if r["delta"] is None:
            parts.append(f"{r['task']} {r['metric']} {r['to']:.3f} at step {r['step_to']}")
            continue
        ci = r["delta_ci"]
        ci_text = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
        parts.append(f"{r['task']} {r['metric']} {r['from']:.3f} at step {r['step_from']} → "
                     f"{r['to']:.3f} at step {r['step_to']} (Δ {r['delta']:+.3f}{ci_text})")
    level = f"{block['confidence'] * 100:g}%"
    out.print(f"capability ({level} CI of Δ): " + "; ".join(parts), markup=False)


def _print_report(report: dict) -> None:
    from rich.table import Table

    out = console()
    parent = report["parent"]
    lineage = f" ← {_ref(parent['run'], parent['step'])}" if parent["run"] else ""
    out.print(f"run {report['run']} ({report['stage']}/{report['algorithm']}{lineage}); "
              f"judge {report['judge']}; {len(report['checkpoints'])} checkpoints; "
              f"{int(report['bootstrap']['confidence'] * 100)}% bootstrap CIs", markup=False)
    level = f"{report['bootstrap']['confidence'] * 100:g}%"
    table = Table(title=f"drift over the stage (M = last − first, its paired {level} CI below; "
                        "η = drift time)")
    table.add_column("topic")
    for s in ("support", "neutral", "oppose"):
        table.add_column(f"{s} M [η]", justify="right")
    table.add_column("dominant")
    for row in report["drift"]:
        cells = [_drift_cell(row["stances"][s]) for s in ("support", "neutral", "oppose")]
        table.add_row(row["topic"], *cells, row["dominant"])
    out.print(table)
    if report["health"]:
        last, first = report["health"][-1], report["health"][0]
        out.print(f"output health: unhealthy share {first['unhealthy']:.2f} at step {first['step']} "
                  f"→ {last['unhealthy']:.2f} at step {last['step']}", markup=False)
    _print_capability(out, report.get("capability"))
    _print_judge_health(out, report.get("judge_health"))
    breaches = [b for e in report.get("events", []) if e["kind"] == "drift_budget"
                for b in e["payload"].get("breaches", [])]
    for b in breaches:
        out.print(f"drift budget exceeded at step {b['step']}: {b['topic']} {b['stance']} "
                  f"M = {b['M']:+.3f} [{b['lo']:+.3f}, {b['hi']:+.3f}] (budget ±{b['budget']:g})",
                  markup=False)
    if report.get("stopped"):
        stop = report["stopped"]
        out.print(f"training stopped at step {stop['step']} of {stop.get('planned_steps')} on its "
                  "drift budget", markup=False)
    if "between" in report:
        b = report["between"]
        out.print(f"M between steps {b['from_step']} and {b['to_step']}:", markup=False)
        for topic, m in b["M"].items():
            out.print(f"  {topic:<24} " + "  ".join(f"{s} {v:+.3f}" for s, v in m.items()), markup=False)
    if "corrected" in report:
        _print_corrected(report["corrected"], level)


def _print_corrected(block: dict, level: str) -> None:
    """The judge's confusion matrix, then corrected M with its paired interval per topic."""
    from rich.table import Table

    out = console()
    stances = ("support", "neutral", "oppose")
    counts = ", ".join(f"{s} {block['n_labels_per_class'][s]}" for s in stances)
    cond = block["condition_number"]
    cond_text = "singular" if cond is None else f"condition {cond:.1f}"
    out.print(f"corrected for misclassification: {block['n_labels']} labels from "
              f"{block['reference']} ({counts}); C solved by {block['solver']} ({cond_text})",
              markup=False)
    conf = Table(title="judge confusion C (rows: reference label, columns: mean judge p)")
    conf.add_column("true")
    for s in stances:
        conf.add_column(s, justify="right")
    for s, row in zip(stances, block["confusion"]["matrix"], strict=True):
        conf.add_row(s, *("-" if x is None else f"{x:.2f}" for x in row))
    out.print(conf)
    table = Table(title=f"corrected drift (M = last − first, its {level} CI below)")
    table.add_column("topic")
    for s in stances:
        table.add_column(f"{s} M", justify="right")
    for row in block["drift"]:
        table.add_row(row["topic"], *(_corrected_cell(row["stances"][s]) for s in stances))
    out.print(table)


def _corrected_cell(d: dict):
    from rich.text import Text

    ci = d["M_ci"]
    below = f"{ci[0]:+.3f}…{ci[1]:+.3f}" if ci else "no shared prompts"
    return Text(f"{d['M']:+.3f}\n") + Text(below, style="dim")
