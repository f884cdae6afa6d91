"""`vdbench calibrate`: compare a local judge with a reference (an OpenAI-compatible
endpoint or stored human labels) on a stratified sample of a run, fit temperature or
vector scaling, and store the fit for `--calibrated` views."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vdbench.commands.common import add_db, add_json, confirm_send, console, print_json

REFERENCE_JUDGE = "openai-gpt4o"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="compare a local judge with GPT-4o-class or human labels; fit and store a scaling",
        description="Draw a stratified sample (topic × checkpoint) of a run's samples judged by the "
        "local judge, take reference labels from an OpenAI-compatible endpoint (resumable; asks "
        "before sending anything) or from human labels in the store, report agreement, macro-F1, "
        "Cohen's kappa, confusion matrix and expected calibration error before and after fitting "
        "temperature (or vector) scaling, and store the fit. See docs/calibration.md.",
    )
    add_db(p)
    p.add_argument("--run", required=True, help="run whose judged samples are sampled")
    p.add_argument(
        "--judge",
        help="local judge name or id (default: the run's probe judgments, else its only judge)",
    )
    p.add_argument(
        "--reference",
        choices=("openai", "human"),
        default="openai",
        help="where reference labels come from (default openai)",
    )
    p.add_argument(
        "--reference-judge",
        default=REFERENCE_JUDGE,
        metavar="NAME",
        help=f"openai-backend judge manifest for the reference (default {REFERENCE_JUDGE})",
    )
    p.add_argument(
        "--base-url",
        help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
        "(default from the manifest: https://api.openai.com/v1)",
    )
    p.add_argument("--model", help="model name at the endpoint (default from the manifest: gpt-4o)")
    p.add_argument("--n", type=int, default=300, help="samples to draw (default 300)")
    p.add_argument("--seed", type=int, default=0, help="sampling and cross-validation seed")
    p.add_argument(
        "--method",
        choices=("temperature", "vector"),
        default="temperature",
        help="scaling to fit (default temperature)",
    )
    p.add_argument("--bins", type=int, default=10, help="equal-width bins for ECE (default 10)")
    p.add_argument("--max-concurrency", type=int, help="requests in flight (default 4)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="reference labels committed per transaction (default 32)",
    )
    p.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="confirm sending texts to the endpoint without asking",
    )
    add_json(p)
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from vdbench import queries
    from vdbench.calibration import run as cal
    from vdbench.errors import InputError
    from vdbench.store import Store

    if args.n < 1:
        raise InputError(f"--n must be at least 1, got {args.n}")
    if args.bins < 1 or args.batch_size < 1:
        raise InputError("--bins and --batch-size must be at least 1")
    if args.max_concurrency is not None and args.max_concurrency < 1:
        raise InputError(f"--max-concurrency must be at least 1, got {args.max_concurrency}")
    store = Store(args.db)
    with store.read() as con:
        queries.require_run(con, args.run)
        judge_id = queries.resolve_judge(con, args.run, args.judge)
    candidates = cal.judged_candidates(store, args.run, judge_id)
    if candidates.empty:
        raise InputError(f"run {args.run!r} has no samples judged by {judge_id}")

    sent = 0
    target: dict[str, Any] = {}
    if args.reference == "human":
        humans = cal.human_reference(store, args.run)
        pool = candidates[candidates["sample_id"].isin(humans["sample_id"])]
        if pool.empty:
            raise InputError(
                f"no human labels for samples of run {args.run!r} judged by {judge_id}",
                hint="collect some in the TUI's labelling mode (reference_labels source 'human:<you>')",
            )
        sample = cal.stratified_sample(pool, args.n, args.seed)
        reference = humans
        source = "human"
    else:
        sample = cal.stratified_sample(candidates, args.n, args.seed)
        ref_judge = _reference_judge(args)
        source = ref_judge.source
        already = cal.stored_reference(store, source, sample["sample_id"].tolist())
        n_send = len(sample) - len(already)
        target = {"host": ref_judge.host, "model": ref_judge.model}
        _err(
            f"calibrate: {n_send} texts (question + response each) of {len(sample)} sampled "
            f"will be sent to {ref_judge.host} (model {ref_judge.model}); "
            f"{len(already)} already labelled there are reused."
        )
        if n_send:
            ref_judge.check_credentials()
            confirm_send(args.yes, n_send, ref_judge.host)
            sent = cal.label_with_judge(
                store, ref_judge, sample, batch_size=args.batch_size, on_batch=_progress(n_send)
            )
            target["requests"] = ref_judge.requests_sent
            target["usage"] = ref_judge.usage
        reference = cal.stored_reference(store, source, sample["sample_id"].tolist())

    result = cal.fit_from_labels(
        sample,
        reference,
        judge_id=judge_id,
        reference_source=source,
        method=args.method,
        n_bins=args.bins,
        seed=args.seed,
        run_id=args.run,
    )
    cal.store_calibration(store, result)
    payload = {
        "calibration_id": result.calibration_id,
        "run": args.run,
        "judge_id": judge_id,
        "reference": source,
        "method": result.method,
        "params": result.params,
        "n_sampled": len(sample),
        "labels_written": sent,
        **target,
        "report": result.report,
    }
    if args.json:
        print_json(payload)
    else:
        _print_summary(payload)
    return 0


def _reference_judge(args: argparse.Namespace):
    from vdbench.errors import InputError
    from vdbench.judges.openai_judge import OpenAIJudge
    from vdbench.judges.registry import load_judge

    judge = load_judge(
        args.reference_judge,
        model=args.model,
        base_url=args.base_url,
        max_concurrency=args.max_concurrency,
    )
    if not isinstance(judge, OpenAIJudge):
        raise InputError(
            f"--reference-judge {args.reference_judge!r} is not an openai-backend judge"
        )
    return judge


def _progress(total: int):
    """A per-batch progress line on a terminal's stderr; silent otherwise."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, _total: int) -> None:
        sys.stderr.write(f"\rreference labels: {done}/{total}")
        if done >= _total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_summary(payload: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    report = payload["report"]
    out.print(
        f"judge {payload['judge_id']} vs {payload['reference']} on run {payload['run']}: "
        f"{report['n_used']} labelled samples used ({report['n_unusable']} unusable); "
        f"{payload['labels_written']} new reference labels",
        markup=False,
    )
    cv = report["after_cross_validated"]
    table = Table(title=f"{payload['method']} scaling: {_params_text(payload['params'])}")
    for col in ("measure", "before", "after (in-sample)", "after (5-fold CV)"):
        table.add_column(col, justify="right" if col != "measure" else "left")
    for key, name in (
        ("agreement", "agreement"),
        ("macro_f1", "macro-F1"),
        ("cohens_kappa", "Cohen's kappa"),
        ("ece", f"ECE ({report['bins']} bins)"),
        ("nll", "NLL (nats)"),
        ("brier", "Brier"),
    ):
        table.add_row(
            name,
            _fmt(report["before"][key]),
            _fmt(report["after"][key]),
            _fmt(cv[key]) if cv else "-",
        )
    out.print(table)
    matrix = Table(title="confusion before (rows: reference, columns: judge)")
    labels = report["before"]["confusion"]["labels"]
    matrix.add_column("")
    for label in labels:
        matrix.add_column(label, justify="right")
    for label, row in zip(labels, report["before"]["confusion"]["matrix"], strict=True):
        matrix.add_row(label, *map(str, row))
    out.print(matrix)
    out.print(
        f"stored as {payload['calibration_id']}; views apply it with --calibrated", markup=False
    )


def _params_text(params: dict[str, Any]) -> str:
    if params["method"] == "temperature":
        return f"T = {params['T']:.3f}"
    scale = ", ".join(f"{w:.2f}" for w in params["scale"])
    bias = ", ".join(f"{b:+.2f}" for b in params["bias"])
    return f"scale [{scale}], bias [{bias}]"
