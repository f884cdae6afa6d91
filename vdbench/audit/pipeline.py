"""`vdbench audit` end to end: import → topics → judge → statistics, each step resumable."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vdbench.audit.importer import (
    DEFAULT_BATCH_SIZE,
    ImportReport,
    import_pairs,
    stored_import_report,
)
from vdbench.audit.judging import DEFAULT_JUDGE_BATCH, judge_pairs
from vdbench.audit.report import (
    check_min_confidence,
    gap_report,
    judge_ood_threshold,
    judged_pairs,
)
from vdbench.audit.stats import DEFAULT_BINS
from vdbench.audit.topics import DEFAULT_THRESHOLD, Embedder, assign_topics, topic_coverage
from vdbench.errors import InputError
from vdbench.evalsets.model import EvalSet
from vdbench.judge_health import DEFAULT_MIN_CONFIDENCE
from vdbench.judges.base import Judge
from vdbench.judges.registry import DEFAULT_JUDGE
from vdbench.progress import ProgressFn, no_progress
from vdbench.store import Store


@dataclass(frozen=True)
class AuditOptions:
    input: str | None = None
    format: str | None = None
    dataset: str | None = None  # audit a dataset already in the store instead of --input
    name: str | None = None
    split: str | None = None
    limit: int | None = None
    on_error: str = "stop"
    batch_size: int = DEFAULT_BATCH_SIZE
    eval_set: str = "vprism"
    threshold: float = DEFAULT_THRESHOLD
    topic_map: str | None = None
    topics: bool = True  # embed prompts to assign topics (False: --no-topics)
    judge: str = DEFAULT_JUDGE
    run_judge: bool = True  # False: --no-judge
    judge_batch: int = DEFAULT_JUDGE_BATCH
    n_boot: int = 1000
    confidence: float = 0.95
    seed: int = 0
    bins: int = DEFAULT_BINS
    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # judge health: below it a judgment is flagged


def resolve_eval_set(store: Store, name: str) -> EvalSet:
    """A built-in set, a file, or a set imported into the store."""
    from vdbench.evalsets import get_eval_set

    try:
        return get_eval_set(name)
    except InputError:
        if Path(name).exists() or not store.path.exists():
            raise
        from vdbench.evalsets.stored import load_stored_eval_set, stored_eval_set_names

        if name in stored_eval_set_names(store):
            return load_stored_eval_set(store, name)
        raise


def run_audit(
    store: Store,
    opts: AuditOptions,
    *,
    judge: Judge | None = None,
    embedder: Embedder | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    progress: ProgressFn = no_progress,
) -> dict:
    """Run every step the options ask for and return the full report (JSON-ready).

    `log` gets human lines; `progress(phase, done, total)` gets the same steps as numbers.
    """
    started = time.perf_counter()
    if not 0.5 <= opts.confidence < 1:
        raise InputError(f"--confidence must be in [0.5, 1), got {opts.confidence}")
    if opts.n_boot < 1:
        raise InputError(f"--n-boot must be at least 1, got {opts.n_boot}")
    if opts.batch_size < 1 or opts.judge_batch < 1:
        raise InputError("--batch-size must be at least 1")
    if opts.bins < 1:
        raise InputError(f"--bins must be at least 1, got {opts.bins}")
    # Checked here too, before the import writes anything (topics.py checks it for its callers).
    if not -1.0 <= opts.threshold <= 1.0:
        raise InputError(f"--threshold is a cosine similarity in [-1, 1], got {opts.threshold}")
    check_min_confidence(opts.min_confidence)
    evalset = resolve_eval_set(store, opts.eval_set)

    if opts.dataset:
        imported = stored_import_report(store, opts.dataset)
        if imported is None:
            raise InputError(
                f"no preference dataset {opts.dataset!r} in the store",
                where=str(store.path),
                hint="list them with `vdbench audit --db DB --list`",
            )
    else:
        if not opts.input or not opts.format:
            raise InputError("--input and --format are required (or --dataset to re-audit)")
        log(f"importing {opts.input} as {opts.format} …")
        imported = import_pairs(
            store,
            opts.input,
            opts.format,
            on_error=opts.on_error,
            limit=opts.limit,
            batch_size=opts.batch_size,
            name=opts.name,
            split=opts.split,
            progress=lambda n: (log(f"  {n:,} pairs written"), progress("import", n, 0)),
        )
        log(
            f"{'imported' if imported.created else 'already in the store:'} "
            f"{imported.dataset_id}: {imported.n_pairs:,} pairs, {imported.n_skipped:,} skipped"
        )
    dataset_id = imported.dataset_id

    if opts.topics:
        log(f"assigning topics of {evalset.name} (threshold {opts.threshold}) …")
    topics = assign_topics(
        store,
        dataset_id,
        evalset,
        threshold=opts.threshold,
        topic_map=opts.topic_map,
        embed=opts.topics,
        embedder=embedder,
        progress=lambda done, total: (log(f"  embedded {done:,}/{total:,} prompts"),
                                      progress("embed prompts", done, total)),
    )

    judging = gap = None
    if opts.run_judge:
        if judge is None:
            from vdbench.judges.registry import load_judge

            log(f"loading judge {opts.judge} …")
            judge = load_judge(opts.judge)
        log(f"judging with {judge.identity.judge_id} …")
        judging = judge_pairs(
            store,
            dataset_id,
            judge,
            evalset.topics,
            batch_pairs=opts.judge_batch,
            progress=lambda done, total: (log(f"  judged {done:,}/{total:,} pairs"),
                                          progress("judge pairs", done, total)),
        )
        stats_started = time.perf_counter()
        df = judged_pairs(store, dataset_id, judge.identity.judge_id)
        gap = gap_report(
            df,
            n_boot=opts.n_boot,
            confidence=opts.confidence,
            seed=opts.seed,
            bins=opts.bins,
            min_confidence=opts.min_confidence,
            ood_threshold=judge_ood_threshold(store, judge.identity.judge_id),
        )
        judging["pairs_judged"] = len(df)
        gap["seconds"] = round(time.perf_counter() - stats_started, 3)

    return {
        "dataset": _dataset_section(imported),
        "topics": topics,
        "judge": judging,
        "gap": gap,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _dataset_section(report: ImportReport) -> dict:
    out = report.as_dict()
    out["n_identical"] = report.flags.get("identical", 0)
    return out


def list_datasets(store: Store) -> list[dict]:
    """Preference datasets in the store with their pair counts and topic coverage."""
    if not store.path.exists():
        return []
    with store.read() as con:
        rows = con.execute(
            "SELECT dataset_id, format, source, n_pairs, n_skipped, created_at FROM pref_datasets "
            "ORDER BY created_at"
        ).fetchall()
    out = []
    for dataset_id, fmt, source, n_pairs, n_skipped, created in rows:
        coverage = topic_coverage(store, dataset_id)
        out.append(
            {
                "dataset_id": dataset_id,
                "format": fmt,
                "source": source,
                "n_pairs": n_pairs,
                "n_skipped": n_skipped,
                "on_topic": coverage["on_topic"],
                "created_at": created,
            }
        )
    return out
