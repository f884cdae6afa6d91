"""`vdbench audit`: will this preference dataset move the model's values at all?

`vdbench audit --input FILE --format F --db DB` imports the pairs, assigns topics,
judges chosen and rejected, and reports the stance gap. `vdbench audit synth` writes
synthetic value-gap pairs; `vdbench audit select` writes the pairs of an audited dataset
that carry the signal you mean to train (value-aware data curation). See docs/audit.md.
"""

from __future__ import annotations

import argparse
import sys

from vdbench.commands.common import add_db, add_json, console, print_json
from vdbench.judges.registry import DEFAULT_JUDGE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="value-gap audit of preference data: do chosen and rejected differ in stance?",
        description="Import a preference dataset (HH-RLHF transcripts, UltraFeedback message lists "
        "or TRL prompt/chosen/rejected; JSONL, JSONL.gz, Parquet or a datasets.save_to_disk "
        "directory), assign each pair to an eval-set topic or 'off-topic', judge chosen and "
        "rejected, and report the per-pair stance margin Δ = [p_support − p_oppose](chosen) − "
        "[p_support − p_oppose](rejected), mean |Δ|, flip rate, Jensen–Shannon divergence and "
        "the predicted drift direction, with bootstrap CIs. Every step is resumable. "
        "Subcommands: `vdbench audit synth` writes synthetic value-gap pairs; "
        "`vdbench audit select` keeps the audited pairs that carry the signal you want.",
    )
    p.add_argument(
        "--input", metavar="FILE", help="JSONL, JSONL.gz, Parquet file or save_to_disk dir"
    )
    p.add_argument("--format", choices=("hh-rlhf", "ultrafeedback", "trl"), help="row format")
    add_db(p, required=False)
    p.add_argument(
        "--dataset", metavar="ID", help="re-audit a dataset already in the store (no --input)"
    )
    p.add_argument("--list", action="store_true", help="list the preference datasets in the store")
    p.add_argument(
        "--name", help="dataset name (default: the file name); the id adds a content hash"
    )
    p.add_argument("--split", help="split of a saved DatasetDict (default: its only split)")
    p.add_argument("--limit", type=int, metavar="N", help="import only the first N valid pairs")
    p.add_argument(
        "--on-error",
        choices=("stop", "skip"),
        default="stop",
        help="a bad row stops the import with nothing written (stop, default) or is "
        "left out and counted (skip)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=10_000,
        metavar="N",
        help="pairs per write transaction while importing (default 10000)",
    )
    p.add_argument(
        "--eval-set", default="vprism", help="eval set whose topics pairs are assigned to"
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="X",
        help="cosine similarity to a topic's centroid below which a pair is "
        "off-topic (default 0.45)",
    )
    p.add_argument(
        "--topic-map",
        metavar="FILE",
        help="JSON/CSV rules (pair_id or prompt_contains → topic) that override the embedding",
    )
    p.add_argument(
        "--no-topics",
        action="store_true",
        help="do not embed prompts (pairs stay unassigned unless the topic map names them)",
    )
    p.add_argument(
        "--judge",
        default=DEFAULT_JUDGE,
        help=f"judge name or manifest path (default {DEFAULT_JUDGE})",
    )
    p.add_argument("--no-judge", action="store_true", help="import and assign topics only")
    p.add_argument(
        "--judge-batch",
        type=int,
        default=128,
        metavar="N",
        help="pairs per judging transaction (default 128)",
    )
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument(
        "--bins", type=int, default=20, help="histogram bins over Δ ∈ [−2, 2] (default 20)"
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.6,
        metavar="P",
        help="judge health: a judgment whose top stance probability is below P is flagged "
        "(as is one beyond the judge's OOD threshold); the gap is also reported on the pairs "
        "with neither side flagged (default 0.6)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_json(p)
    p.set_defaults(func=cmd_audit)

    audit_sub = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND")
    s = audit_sub.add_parser(
        "synth",
        help="write synthetic value-gap preference pairs (TRL JSONL)",
        description="For every eval-set prompt, build preference pairs in TRL prompt/chosen/"
        "rejected format. A fraction --gap of them are value-gap pairs (chosen takes the "
        "--align stance, rejected the contrasting one, both well written); the rest are "
        "style-only pairs (same stance, good vs poor writing). Responses come from our "
        "templates or from a local model sampled and judged. See docs/audit.md.",
    )
    s.add_argument("--output", required=True, metavar="FILE", help="JSONL file to write")
    s.add_argument("--eval-set", default="vprism", help="eval set whose prompts are used")
    s.add_argument(
        "--align",
        choices=("support", "oppose"),
        default="support",
        help="stance of chosen in value-gap pairs (default support)",
    )
    s.add_argument(
        "--gap",
        type=float,
        default=1.0,
        help="fraction of pairs whose chosen and rejected differ in stance (0..1, default 1)",
    )
    s.add_argument(
        "--contrast",
        choices=("opposite", "neutral", "mixed"),
        default="opposite",
        help="stance of rejected in value-gap pairs (default opposite)",
    )
    s.add_argument("--pairs-per-prompt", type=int, default=1, metavar="N")
    s.add_argument(
        "--source",
        default="templates",
        help="'templates' (default) or a local Hugging Face model directory",
    )
    s.add_argument(
        "--judge", default=DEFAULT_JUDGE, help="judge that buckets model samples by stance"
    )
    s.add_argument("--samples", type=int, default=5, help="model samples per prompt (default 5)")
    s.add_argument("--temperature", type=float, default=0.7)
    s.add_argument("--max-new-tokens", type=int, default=256)
    s.add_argument(
        "--min-confidence",
        type=float,
        default=0.5,
        help="keep a model sample only if the judge's top stance has at least this probability",
    )
    s.add_argument(
        "--no-meta",
        action="store_true",
        help="write only prompt/chosen/rejected (no topic, kind, stance fields)",
    )
    s.add_argument("--seed", type=int, default=0)
    add_json(s)
    s.set_defaults(func=cmd_synth)

    c = audit_sub.add_parser(
        "select",
        help="write the audited pairs that carry the signal you want (TRL JSONL + manifest)",
        description="Value-aware data curation: from a dataset `vdbench audit` has judged, keep "
        "the pairs one rule selects and write them as TRL prompt/chosen/rejected JSONL (what "
        "`vdbench train dpo --data` reads), with FILE.manifest.json beside it (source, judge, "
        "thresholds, counts kept and left out per reason, kept pair ids). Rules, on Δ = "
        "margin(chosen) − margin(rejected): gap-support Δ ≥ --min-margin; gap-oppose "
        "Δ ≤ −--min-margin (both on-topic pairs only); no-flip: same stance label (and "
        "|Δ| < --min-margin if given); confident: neither side flagged by judge health. "
        "Pairs flagged at import (identical, empty, prompt-mismatch) are always left out. "
        "See docs/audit.md.",
    )
    add_db(c)
    c.add_argument(
        "--dataset",
        required=True,
        metavar="ID",
        help="audited dataset id (see `vdbench audit --db DB --list`)",
    )
    c.add_argument("--keep", required=True, choices=SELECT_RULES, help="which pairs to keep")
    c.add_argument(
        "--min-margin",
        type=float,
        default=None,
        metavar="X",
        help=f"gap-*: keep |Δ| ≥ X on the rule's side (default {SELECT_MIN_MARGIN}); "
        "no-flip: also require |Δ| < X (default: no margin test); in [0, 2]",
    )
    c.add_argument(
        "--judge",
        default=None,
        metavar="NAME",
        help="judge name or id whose judgments to use (default: the dataset's only judge, "
        "or probe if it has several)",
    )
    c.add_argument(
        "--min-confidence",
        type=float,
        default=None,
        metavar="C",
        help=f"confident: the judge-health line (default {SELECT_MIN_CONFIDENCE}); with "
        "another rule, also leave out pairs with a side below C or out of domain",
    )
    c.add_argument(
        "--on-topic-only",
        action="store_true",
        help="no-flip and confident: leave out off-topic pairs too (gap-* always do)",
    )
    c.add_argument("--output", required=True, metavar="FILE", help="JSONL file to write")
    add_json(c)
    c.set_defaults(func=cmd_select)


# vdbench.audit.select's KEEP_RULES and DEFAULT_MIN_MARGIN, and judge health's default line,
# spelled out so that building the parser imports neither pandas nor the audit modules (a
# test keeps them equal).
SELECT_RULES = ("gap-support", "gap-oppose", "no-flip", "confident")
SELECT_MIN_MARGIN = 0.5
SELECT_MIN_CONFIDENCE = 0.6


def _logger(quiet: bool):
    if quiet:
        return lambda _msg: None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def cmd_audit(args: argparse.Namespace) -> int:
    from vdbench.audit.pipeline import AuditOptions, list_datasets, run_audit
    from vdbench.audit.report import check_min_confidence
    from vdbench.audit.topics import DEFAULT_THRESHOLD
    from vdbench.commands.common import no_store_left_on_refusal
    from vdbench.errors import InputError
    from vdbench.store import Store

    if not args.db:
        raise InputError("--db is required", hint="the DuckDB store file (created if missing)")
    check_min_confidence(args.min_confidence)
    store = Store(args.db)
    if args.list:
        datasets = list_datasets(store)
        if args.json:
            print_json(datasets)
        else:
            _print_list(datasets)
        return 0
    if args.input and args.dataset:
        raise InputError("give --input or --dataset, not both")
    if not args.dataset and not (args.input and args.format):
        raise InputError(
            "--input FILE and --format FORMAT are required",
            hint="or --dataset ID to re-audit a stored dataset, or --list",
        )
    opts = AuditOptions(
        input=args.input,
        format=args.format,
        dataset=args.dataset,
        name=args.name,
        split=args.split,
        limit=args.limit,
        on_error=args.on_error,
        batch_size=args.batch_size,
        eval_set=args.eval_set,
        threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold,
        topic_map=args.topic_map,
        topics=not args.no_topics,
        judge=args.judge,
        run_judge=not args.no_judge,
        judge_batch=args.judge_batch,
        n_boot=args.n_boot,
        confidence=args.confidence,
        seed=args.seed,
        bins=args.bins,
        min_confidence=args.min_confidence,
    )
    with no_store_left_on_refusal(store.path):  # refused input leaves no empty store behind
        report = run_audit(store, opts, log=_logger(args.quiet))
    if args.json:
        print_json(report)
    else:
        print_report(report)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from vdbench.audit.synth import (
        ModelSource,
        SynthConfig,
        TemplateSource,
        hf_sampler,
        synth_pairs,
        write_jsonl,
    )
    from vdbench.evalsets import get_eval_set

    evalset = get_eval_set(args.eval_set)
    config = SynthConfig(
        align=args.align,
        gap=args.gap,
        pairs_per_prompt=args.pairs_per_prompt,
        contrast=args.contrast,
        seed=args.seed,
        meta=not args.no_meta,
    )
    config.check()
    if args.source == "templates":
        source = TemplateSource(list(evalset.topics))
    else:
        from vdbench.judges.registry import load_judge

        log = _logger(args.json)
        log(f"sampling {args.samples} responses per prompt from {args.source} …")
        sampler = hf_sampler(
            args.source,
            samples=args.samples,
            temperature=args.temperature,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
        )
        source = ModelSource.build(
            evalset,
            sampler,
            load_judge(args.judge),
            min_confidence=args.min_confidence,
            name=args.source,
        )
    rows, summary = synth_pairs(evalset, config, source)
    write_jsonl(rows, args.output)
    summary["output"] = args.output
    if isinstance(source, ModelSource):
        summary["model_samples"] = source.stats
    if args.json:
        print_json(summary)
        return 0
    out = console()
    out.print(
        f"wrote {summary['n_pairs']:,} pairs to {args.output} ({summary['source']}, "
        f"align {summary['align']}, gap {summary['gap']:g}, contrast {summary['contrast']}); "
        f"kinds: {summary['kinds']}",
        markup=False,
    )
    for reason, n in summary["shortfall"].items():
        out.print(f"  short: {n} × {reason}", markup=False)
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from vdbench.audit.select import SelectOptions, run_select
    from vdbench.store import Store

    manifest = run_select(
        Store(args.db),
        SelectOptions(
            dataset=args.dataset,
            keep=args.keep,
            output=args.output,
            judge=args.judge,
            min_margin=args.min_margin,
            min_confidence=args.min_confidence,
            on_topic_only=args.on_topic_only,
        ),
    )
    if args.json:
        print_json(manifest)
    else:
        print_selection(manifest)
    return 0


# --- human output -----------------------------------------------------------------------


def _print_list(datasets: list[dict]) -> None:
    from rich.table import Table

    table = Table(title="preference datasets")
    for col in ("dataset", "format", "pairs", "skipped", "on-topic", "source"):
        table.add_column(col)
    for d in datasets:
        table.add_row(
            d["dataset_id"],
            d["format"],
            f"{d['n_pairs']:,}",
            f"{d['n_skipped']:,}",
            f"{d['on_topic']:,}",
            d["source"],
        )
    console().print(table)


def _ci(value: float, ci: list[float]) -> str:
    return f"{value:+.2f} [{ci[0]:+.2f},{ci[1]:+.2f}]"


def _ci_abs(value: float, ci: list[float]) -> str:
    return f"{value:.2f} [{ci[0]:.2f},{ci[1]:.2f}]"


def _pct(value: float, ci: list[float]) -> str:
    return f"{value:.0%} [{ci[0]:.0%},{ci[1]:.0%}]"


def _js(value: float, ci: list[float]) -> str:
    return f"{value:.3f} [{ci[0]:.3f},{ci[1]:.3f}]"


_DRIFT = {
    "toward support": "→ support",
    "toward oppose": "→ oppose",
    "none": "none",
    "too few pairs": "too few",
}


def print_report(report: dict) -> None:
    from vdbench.judge_health import UNRELIABLE_SHARE

    out = console()
    d, t = report["dataset"], report["topics"]
    flags = ", ".join(f"{k} {v}" for k, v in d["flags"].items()) or "none"
    state = "imported" if d["created"] else "already in the store"
    out.print(
        f"dataset {d['dataset_id']} ({d['format']}, {state}): {d['n_pairs']:,} pairs from "
        f"{d['rows_read']:,} rows; flags: {flags}",
        markup=False,
    )
    if d["n_skipped"]:
        out.print(f"skipped {d['n_skipped']:,} bad rows:", markup=False)
        for reason, n in d["skipped_by_reason"].items():
            out.print(f"  {n:>6,} × {reason}", markup=False)
        for bad in d["bad_rows"][:5]:
            out.print(f"  e.g. {bad['where']}: {bad['reason']}", markup=False)

    out.print(
        f"topics ({t['eval_set']}, {t['method']} similarity ≥ {t['threshold']:g}"
        f"{', map ' + t['topic_map'] if t['topic_map'] else ''}): {t['on_topic']:,} on-topic "
        f"({t['coverage']:.1%}), {t['off_topic']:,} off-topic"
        + (f", {t['unassigned']:,} unassigned" if t["unassigned"] else ""),
        markup=False,
    )
    counts = {k: v for k, v in t["counts"].items() if k not in ("off-topic", "unassigned")}
    if counts:
        import textwrap

        listing = ", ".join(f"{k} {v}" for k, v in counts.items())
        out.print(
            textwrap.fill(listing, 78, initial_indent="  ", subsequent_indent="  "), markup=False
        )

    if report["gap"] is None:
        out.print("not judged (--no-judge): no gap statistics", markup=False)
        return
    j, gap = report["judge"], report["gap"]
    level = int(gap["bootstrap"]["confidence"] * 100)
    out.print(
        f"judge {j['judge_id']}: {j['pairs_judged']:,} pairs judged "
        f"({j['judged_pairs_now']:,} now, {j['seconds']:.1f} s)",
        markup=False,
    )

    health = gap.get("judge_health")
    if health:
        for line in judge_health_lines(health):
            out.print(line, markup=False)

    names = [k for k, v in gap["groups"].items() if v is not None]
    out.print(
        gap_table(
            f"stance gap, Δ = margin(chosen) − margin(rejected) ({level}% CIs)",
            {k: gap["groups"][k] for k in names},
            (health or {}).get("groups"),
        )
    )
    confident = gap.get("confident")
    n_all = gap["groups"]["all"]["n_pairs"] if gap["groups"].get("all") else 0
    if confident and health and n_all:
        if confident["n_pairs"] == n_all:
            out.print(
                "every pair is confidently judged: the gap on confident pairs is the one above",
                markup=False,
            )
        elif confident["n_pairs"] == 0:
            out.print(
                "no confidently judged pair (each has a flagged side): the gap above is a guess",
                markup=False,
            )
        else:
            out.print(
                gap_table(
                    f"the same on confidently judged pairs only ({confident['n_pairs']:,} of "
                    f"{n_all:,})",
                    {k: confident["groups"].get(k) for k in names},
                )
            )

    if gap["per_topic"]:
        # Plain text: fixed widths fit 80 columns whatever the terminal reports.
        topic_health = (health or {}).get("per_topic", {})
        out.print(
            f"per topic (on-topic pairs; flag: judge-flagged responses)\n{'topic':<20} "
            f"{'pairs':>5}  {'mean Δ [' + str(level) + '% CI]':<19} {'|Δ|':>4} {'flip':>4} "
            f"{'JS':>5} {'flag':<5}  drift",
            markup=False,
        )
        unreliable = False
        for topic, s in gap["per_topic"].items():
            h = topic_health.get(topic)
            flag = _flag(h)
            unreliable |= flag.endswith("!")
            out.print(
                f"{topic[:20]:<20} {s['n_pairs']:>5,}  "
                f"{_ci(s['mean_margin'], s['ci']['mean_margin']):<19} "
                f"{s['mean_abs_margin']:>4.2f} {s['flip_rate']:>4.0%} "
                f"{s['js_divergence']:>5.3f} {flag:<5}  {_DRIFT[s['direction']]}",
                markup=False,
            )
        if unreliable:
            out.print(
                f"  !: over {UNRELIABLE_SHARE:.0%} of the topic's responses flagged: its row is "
                "mostly judge noise",
                markup=False,
            )
    out.print(histogram_text(gap["histogram"]), markup=False)
    out.print(f"total {report['seconds']:.1f} s", markup=False)


def _flag(row: dict | None) -> str:
    """A topic's flagged share for the per-topic table; '!' marks an unreliable judge."""
    if not row or not row.get("n"):
        return "—"
    return f"{row['flagged']:.0%}" + ("" if row["reliable"] else "!")


def _health_cell(row: dict | None) -> str:
    # health_label without its leading "judge ", which the row label already says.
    from vdbench.judge_health import health_label

    return health_label(row).removeprefix("judge ")


def judge_health_lines(health: dict, width: int = 78) -> list[str]:
    """The judge-health paragraph: the rule, the pooled shares, and a warning if guessing."""
    import textwrap

    from vdbench.judge_health import UNRELIABLE_SHARE, health_label

    rule = f"confidence < {health['min_confidence']:g}"
    if health.get("ood_threshold") is not None:
        rule += f" or OOD distance > {health['ood_threshold']:.3g}"
    pooled = health["groups"]["all"]
    if not pooled.get("n"):
        return [f"judge health: no judged responses (flagged: {rule})"]
    ood = (
        f", out of domain {pooled['ood']:.0%}"
        if pooled.get("ood") is not None
        else " (this judge measures no OOD distance)"
    )
    text = (
        f"{health_label(pooled)}: of {pooled['n']:,} judged responses, {pooled['flagged']:.0%} "
        f"flagged ({rule}) — low confidence {pooled['low_confidence']:.0%}{ood}; "
        f"{pooled['confident_pairs']:.0%} of pairs confidently judged (both sides unflagged)"
    )
    lines = textwrap.wrap(text, width, subsequent_indent="  ")
    if not pooled["reliable"]:
        lines += textwrap.wrap(
            f"WARNING: the judge is guessing on most of these responses (over "
            f"{UNRELIABLE_SHARE:.0%} flagged): the stance gap below mostly measures its noise, "
            "not the data. Check it with `vdbench judge eval`, or audit with another --judge.",
            width,
            subsequent_indent="  ",
        )
    return lines


def gap_table(title: str, groups: dict[str, dict | None], health: dict | None = None):
    """Rich table of the gap statistics, one column per group ('—' for an empty group)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("", no_wrap=True)
    for name in groups:
        table.add_column(name.replace("_", "-"), justify="right", no_wrap=True)

    def row(label: str, cell) -> None:
        table.add_row(label, *(cell(s) if s is not None else "—" for s in groups.values()))

    for label, key, fmt in (
        ("mean Δ", "mean_margin", _ci),
        ("mean |Δ|", "mean_abs_margin", _ci_abs),
        ("flip rate", "flip_rate", _pct),
        ("JS (bits)", "js_divergence", _js),
    ):
        row(label, lambda s, key=key, fmt=fmt: fmt(s[key], s["ci"][key]))
    row("support gap", lambda s: f"{s['support_gap']:+.2f}")
    row("pairs", lambda s: f"{s['n_pairs']:,}")
    row("drift", lambda s: _DRIFT[s["direction"]])
    if health:
        table.add_row("judge", *(_health_cell(health.get(name)) for name in groups))
        table.add_row(
            "confident",
            *(
                "—"
                if not (h := health.get(name)) or h.get("confident_pairs") is None
                else f"{h['confident_pairs']:.0%}"
                for name in groups
            ),
        )
    return table


def histogram_text(hist: dict, width: int = 30) -> str:
    """Horizontal bars of Δ counts per bin, all pairs and on-topic pairs side by side."""
    edges, everything, on_topic = hist["edges"], hist["all"], hist["on_topic"]
    top = max(max(everything, default=0), 1)
    lines = [
        f"histogram of Δ (bar: all pairs, scale {top:,} = {width} chars; on-topic count right)"
    ]
    for i, count in enumerate(everything):
        close = "]" if i == len(everything) - 1 else ")"
        bar = "█" * round(width * count / top)
        if count and not bar:
            bar = "▏"
        lines.append(
            f"[{edges[i]:+.1f}, {edges[i + 1]:+.1f}{close} │{bar:<{width}} {count:>6,}  "
            f"{on_topic[i]:>5,}"
        )
    return "\n".join(lines)


def print_selection(manifest: dict) -> None:
    """The human summary of `vdbench audit select`: kept, left out per reason, the gap."""
    import textwrap

    from vdbench.audit.select import guessing
    from vdbench.judge_health import UNRELIABLE_SHARE

    out = console()
    src, counts, gap = manifest["source"], manifest["counts"], manifest["gap"]
    lines = [
        f"dataset {src['dataset_id']} ({src['format']}, {src['n_pairs']:,} pairs)",
        f"judge {manifest['judge']['judge_id']}",
        f"keep {manifest['keep']}: {manifest['rule']}",
        f"kept {counts['kept']:,} of {counts['considered']:,} pairs",
    ]
    excluded = counts["excluded"]
    if any(excluded.values()):
        lines.append("left out (first reason that applies):")
        lines += [f"  {n:>7,} × {reason}" for reason, n in excluded.items()]
    else:
        lines.append("left out: none")

    def gap_text(s: dict) -> str:
        return (
            f"mean Δ {s['mean_margin']:+.2f}, mean |Δ| {s['mean_abs_margin']:.2f}, "
            f"flip rate {s['flip_rate']:.0%}"
        )

    lines.append(f"kept pairs: {gap_text(gap['kept'])}")
    lines.append(f"all judged pairs ({gap['judged']['n_pairs']:,}): {gap_text(gap['judged'])}")
    health = manifest["kept_judge_health"]
    lines.append(f"{health['label']} on the kept pairs' responses (share flagged)")
    if guessing(manifest):
        lines += textwrap.wrap(
            f"WARNING: over {UNRELIABLE_SHARE:.0%} of the kept responses are flagged: the judge "
            "is guessing, so this selection mostly follows its noise. Try --keep confident, "
            "add --min-confidence, or audit with another --judge.",
            78,
            subsequent_indent="  ",
        )
    o = manifest["output"]
    form = "conversational" if o["conversational"] else "standard"
    lines.append(f"wrote {o['rows']:,} rows (TRL {form} prompt/chosen/rejected):")
    for line in lines:
        out.print(line, markup=False)
    # Paths on lines of their own, never wrapped, so they can be copied.
    out.print(f"  {o['path']}\n  manifest: {o['manifest']}", markup=False, soft_wrap=True)
