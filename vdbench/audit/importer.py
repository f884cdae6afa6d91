"""Import a preference dataset into the store: stream, validate, write in bounded batches.

Memory stays bounded: rows are parsed one at a time and written ``batch_size`` pairs per
transaction through Arrow (never row by row). Nothing is half-written: the
``pref_datasets`` row is written last and is the dataset's commit marker, so readers
never see a dataset whose import has not finished; an import that stops on a bad row
(or on a truncated file) deletes the pairs it had written before raising, and a killed
import's leftovers (pairs without a ``pref_datasets`` row) are deleted by the next run.

The dataset id is ``<name>-<hash>`` where the hash covers the file's bytes, the format,
the split and ``--limit``: importing the same file again finds it and does nothing.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from vdbench.audit.formats import FORMATS, RowError
from vdbench.audit.sources import Source, check_columns, content_hash, iter_rows, open_source
from vdbench.audit.storeio import bulk_write
from vdbench.errors import InputError
from vdbench.store import Store, insert_arrow, stable_id

ON_ERROR = ("stop", "skip")
MAX_REPORTED_BAD_ROWS = 50
DEFAULT_BATCH_SIZE = 10_000


@dataclass
class ImportReport:
    """What an import read, kept and skipped; stored with the dataset as JSON."""

    dataset_id: str
    format: str
    source: str
    content_hash: str
    rows_read: int = 0
    n_pairs: int = 0
    n_skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    bad_rows: list[dict[str, str]] = field(default_factory=list)  # first MAX_REPORTED_BAD_ROWS
    flags: dict[str, int] = field(default_factory=dict)
    created: bool = True
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def dataset_id_for(
    source: Source, fmt: str, file_hash: str, limit: int | None, name: str | None = None
) -> str:
    """``<name>-<10 hex>``: same bytes, format, split and limit → same id."""
    key = stable_id("pref-dataset", file_hash, fmt, source.split or "", limit or "")
    return f"{name or source.name}-{key & ((1 << 40) - 1):010x}"


def stored_import_report(store: Store, dataset_id: str) -> ImportReport | None:
    """The report of a finished import of `dataset_id`, or None if there is none."""
    if not store.path.exists():
        return None
    with store.read() as con:
        row = con.execute(
            "SELECT import_report FROM pref_datasets WHERE dataset_id = ?", [dataset_id]
        ).fetchone()
    if row is None:
        return None
    report = ImportReport(**json.loads(row[0]))
    report.created = False
    return report


def delete_dataset_rows(store: Store, dataset_id: str) -> None:
    """Remove a dataset's pairs, judgments and marker in one transaction."""
    with store.write() as con:
        for table in ("pair_judgments", "pref_pairs", "pref_datasets"):
            con.execute(f"DELETE FROM {table} WHERE dataset_id = ?", [dataset_id])


class _PairBuffer:
    """Column lists for one batch of pairs, flushed to the store as one Arrow table."""

    def __init__(self, dataset_id: str):
        self.dataset_id = dataset_id
        self.clear()

    def clear(self) -> None:
        self.cols: dict[str, list] = {
            k: []
            for k in (
                "pair_id",
                "prompt",
                "chosen",
                "rejected",
                "flags",
                "score_chosen",
                "score_rejected",
            )
        }

    def __len__(self) -> int:
        return len(self.cols["pair_id"])

    def flush(self, store: Store) -> None:
        if not len(self):
            return
        c = self.cols
        table = pa.table(
            {
                "dataset_id": pa.array([self.dataset_id] * len(self), pa.string()),
                "pair_id": pa.array(c["pair_id"], pa.int64()),
                "prompt": pa.array(c["prompt"], pa.string()),
                "chosen": pa.array(c["chosen"], pa.string()),
                "rejected": pa.array(c["rejected"], pa.string()),
                "flags": pa.array(c["flags"], pa.string()),
                "score_chosen": pa.array(c["score_chosen"], pa.float64()),
                "score_rejected": pa.array(c["score_rejected"], pa.float64()),
            }
        )
        with bulk_write(store) as con:
            insert_arrow(con, "pref_pairs", table)
        self.clear()


def import_pairs(
    store: Store,
    path: str | Path,
    fmt: str,
    *,
    on_error: str = "stop",
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    name: str | None = None,
    split: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import `path` as preference pairs of format `fmt`; return what was kept and skipped.

    on_error: "stop" raises InputError at the first bad row (file:line and reason) with
    nothing written; "skip" leaves bad rows out and counts them. `limit` keeps the first N
    valid pairs. A dataset imported before is not read again (``created`` is False).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    if on_error not in ON_ERROR:
        raise InputError(f"--on-error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    started = time.perf_counter()
    spec = FORMATS[fmt]
    source = open_source(path, split)
    file_hash = content_hash(source)
    dataset_id = dataset_id_for(source, fmt, file_hash, limit, name)
    stored = stored_import_report(store, dataset_id)
    if stored is not None:
        return stored
    check_columns(source, spec)

    report = ImportReport(dataset_id, fmt, str(source.path), file_hash)
    reasons: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    buffer = _PairBuffer(dataset_id)
    delete_dataset_rows(store, dataset_id)  # leftovers of a killed import, if any
    try:
        for row_no, row in iter_rows(source, spec, batch_size):
            report.rows_read += 1
            try:
                if isinstance(row, RowError):
                    raise row
                pair = spec.parse(row)
            except RowError as exc:
                if on_error == "stop":
                    raise InputError(
                        f"bad row: {exc}",
                        where=source.where(row_no),
                        hint="fix the row, or re-run with --on-error skip to leave bad rows out; "
                        "nothing was written",
                    ) from None
                reasons["invalid JSON" if str(exc).startswith("invalid JSON") else str(exc)] += 1
                if len(report.bad_rows) < MAX_REPORTED_BAD_ROWS:
                    report.bad_rows.append({"where": source.where(row_no), "reason": str(exc)})
                continue
            c = buffer.cols
            c["pair_id"].append(row_no)
            c["prompt"].append(pair.prompt)
            c["chosen"].append(pair.chosen)
            c["rejected"].append(pair.rejected)
            c["flags"].append(",".join(pair.flags) or None)
            c["score_chosen"].append(pair.score_chosen)
            c["score_rejected"].append(pair.score_rejected)
            flags.update(pair.flags)
            report.n_pairs += 1
            if len(buffer) >= batch_size:
                buffer.flush(store)
                if progress:
                    progress(report.n_pairs)
            if limit is not None and report.n_pairs >= limit:
                break
        if report.n_pairs == 0:
            if report.rows_read == 0:
                raise InputError(
                    "the file holds no rows (it is empty)",
                    where=str(source.path),
                    hint="check the path; nothing was written",
                )
            raise InputError(
                f"no valid pairs: all {report.rows_read} rows are bad "
                f"(most common: {reasons.most_common(1)[0][0]})",
                where=str(source.path),
                hint=f"is --format {fmt} right? nothing was written",
            )
        buffer.flush(store)
        report.n_skipped = sum(reasons.values())
        report.skipped_by_reason = dict(reasons.most_common())
        report.flags = dict(flags.most_common())
        report.seconds = round(time.perf_counter() - started, 3)
        with bulk_write(store) as con:
            con.execute(
                "INSERT INTO pref_datasets (dataset_id, format, source, content_hash, n_pairs, "
                "n_skipped, import_report) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    dataset_id,
                    fmt,
                    str(source.path),
                    file_hash,
                    report.n_pairs,
                    report.n_skipped,
                    json.dumps(report.as_dict()),
                ],
            )
    except BaseException:
        try:
            delete_dataset_rows(store, dataset_id)
        except Exception:  # noqa: BLE001 - keep the original error; the next run clears leftovers
            pass
        raise
    if progress:
        progress(report.n_pairs)
    return report
