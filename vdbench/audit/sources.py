"""Stream preference rows from JSONL, JSONL.gz, Parquet or a ``datasets.save_to_disk`` dir.

Every reader yields ``(row_number, row)`` one row at a time and holds at most one batch
in memory: JSONL is read line by line (gzip detected by its magic bytes, not the name),
Parquet by record batches, a saved ``datasets`` directory (memory-mapped Arrow) by
batches. Row numbers are 1-based: the line number for JSONL (blank lines count, so the
number is the one an editor shows), the row index for Parquet and ``datasets``.

A row that cannot be decoded is yielded as a :class:`RowError` so the importer can skip or
stop on it; a problem with the whole file (missing, empty, truncated gzip, wrong
columns) raises :class:`InputError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdbench.audit.formats import FormatSpec, RowError
from vdbench.errors import InputError

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_DATASETS_MARKERS = ("state.json", "dataset_info.json", "dataset_dict.json")


@dataclass(frozen=True)
class Source:
    """An input file or directory and how to read it: jsonl | parquet | datasets."""

    path: Path
    kind: str
    split: str | None = None

    def where(self, row: int) -> str:
        """A location a user can open: ``file:line`` for JSONL, ``file row N`` otherwise."""
        return f"{self.path}:{row}" if self.kind == "jsonl" else f"{self.path} row {row}"

    @property
    def name(self) -> str:
        """The file name without data suffixes: ``test.jsonl.gz`` → ``test``."""
        name = self.path.name
        for suffix in (".gz", ".jsonl", ".json", ".parquet"):
            name = name.removesuffix(suffix)
        return name or "dataset"


def open_source(path: str | Path, split: str | None = None) -> Source:
    """Detect what `path` holds; InputError if it is missing or of no known kind."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", where=str(path))
    if path.is_dir():
        if any((path / m).exists() for m in _DATASETS_MARKERS):
            return Source(path, "datasets", split)
        raise InputError(
            "directory is not a saved `datasets` dataset (no state.json or dataset_dict.json)",
            where=str(path),
            hint="pass a JSONL, JSONL.gz or Parquet file, or a save_to_disk directory",
        )
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == _PARQUET_MAGIC or path.suffix == ".parquet":
        return Source(path, "parquet", split)
    return Source(path, "jsonl", split)


def content_hash(source: Source) -> str:
    """blake2b of the file's bytes (a directory: every file's relative path and bytes)."""
    digest = hashlib.blake2b(digest_size=16)
    files = (
        [source.path]
        if source.path.is_file()
        else sorted(p for p in source.path.rglob("*") if p.is_file())
    )
    for file in files:
        if source.path.is_dir():
            digest.update(str(file.relative_to(source.path)).encode() + b"\0")
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def check_columns(source: Source, spec: FormatSpec) -> None:
    """For columnar sources: InputError listing expected vs found columns if any is missing."""
    if source.kind == "jsonl":
        return
    found = _columns(source)
    missing = [c for c in spec.required if c not in found]
    if missing:
        optional = f" (optional: {', '.join(spec.optional)})" if spec.optional else ""
        raise InputError(
            f"wrong columns for --format {spec.name}: expected {', '.join(spec.required)}"
            f"{optional}; found {', '.join(found) or '(none)'}; missing {', '.join(missing)}",
            where=str(source.path),
            hint="choose the --format that matches the data, or rename the columns",
        )


def iter_rows(
    source: Source, spec: FormatSpec, batch_size: int = 10_000
) -> Iterator[tuple[int, Any]]:
    """(row number, row dict or RowError) for every row, streaming."""
    if source.kind == "jsonl":
        yield from _iter_jsonl(source.path)
    elif source.kind == "parquet":
        yield from _iter_parquet(source.path, spec, batch_size)
    else:
        yield from _iter_datasets(source, spec, batch_size)


# --- JSONL -------------------------------------------------------------------------------


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
    opener = gzip.open if gzipped else open
    line_no = 0
    try:
        with opener(path, "rb") as fh:
            for line_no, line in enumerate(fh, start=1):  # noqa: B007 - read after the loop
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    yield line_no, RowError(f"invalid JSON: {exc}")
                    continue
                if not isinstance(row, dict):
                    yield line_no, RowError(f"line is a JSON {type(row).__name__}, not an object")
                    continue
                yield line_no, row
    except EOFError:
        raise InputError(
            f"gzip stream is truncated: the file ends mid-stream; last complete line {line_no}",
            where=str(path),
            hint="the download or copy was cut short; fetch the file again",
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise InputError(
            f"cannot read {'gzip ' if gzipped else ''}data after line {line_no}: {exc}",
            where=str(path),
        ) from None


# --- Parquet and datasets ------------------------------------------------------------------


def _parquet_file(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for corrupt files
        raise InputError(f"not a readable Parquet file: {exc}", where=str(path)) from None


def _load_dataset(source: Source):
    import datasets

    datasets.disable_progress_bars()
    try:
        loaded = datasets.load_from_disk(str(source.path))
    except Exception as exc:
        raise InputError(f"cannot load the saved dataset: {exc}", where=str(source.path)) from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        if source.split is None and len(splits) == 1:
            return loaded[splits[0]]
        if source.split not in loaded:
            raise InputError(
                f"choose a split with --split: this dataset has {', '.join(splits)}",
                where=str(source.path),
            )
        return loaded[source.split]
    return loaded


def _columns(source: Source) -> list[str]:
    if source.kind == "parquet":
        return list(_parquet_file(source.path).schema_arrow.names)
    return list(_load_dataset(source).column_names)


def _wanted(found: list[str], spec: FormatSpec) -> list[str]:
    return [c for c in (*spec.required, *spec.optional) if c in found]


def _iter_parquet(path: Path, spec: FormatSpec, batch_size: int) -> Iterator[tuple[int, Any]]:
    pf = _parquet_file(path)
    columns = _wanted(list(pf.schema_arrow.names), spec)
    row_no = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            for row in batch.to_pylist():
                row_no += 1
                yield row_no, row
    except OSError as exc:
        raise InputError(
            f"cannot read Parquet data after row {row_no}: {exc}", where=str(path)
        ) from None


def _iter_datasets(source: Source, spec: FormatSpec, batch_size: int) -> Iterator[tuple[int, Any]]:
    ds = _load_dataset(source)
    ds = ds.select_columns(_wanted(list(ds.column_names), spec)).with_format("arrow")
    row_no = 0
    for table in ds.iter(batch_size=batch_size):
        for row in table.to_pylist():
            row_no += 1
            yield row_no, row
