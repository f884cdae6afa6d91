"""`vdbench ingest`: load Parquet shards written by workers on many hosts into the store.

At cluster scale no two hosts write the DuckDB file: sampling or judging workers write
Parquet shards (same columns as the store table), and one `vdbench ingest` loads them in
one transaction. Re-ingesting a shard adds nothing (natural keys).

Two forms:
  vdbench ingest --db DB --table samples 'shards/*.parquet'   files of one table
  vdbench ingest --db DB shards/                               a --shard-dir written by
      `vdbench sample --shard` / `vdbench judge run --shard`: every table sub-directory
      (runs, checkpoints, samples, judges, judgments, ...) in dependency order
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

from vdbench.commands.common import add_db, add_json, console, print_json

TABLES = ("samples", "judgments", "checkpoints", "pair_judgments", "reference_labels",
          "runs", "judges", "eval_sets", "topics", "prompts", "capability")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="load Parquet shards from workers (samples, judgments, ...)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_db(p)
    p.add_argument("--table", choices=TABLES,
                   help="store table the shard files hold (omit to load --shard-dir directories)")
    p.add_argument("files", nargs="+", help="Parquet files or globs (e.g. 'shards/*.parquet'), or "
                   "shard directories when --table is omitted")
    add_json(p)
    p.set_defaults(func=cmd_ingest)


def _shard_dir_batches(dirs: list[str]) -> list[tuple[str, list[Path]]]:
    from vdbench.errors import InputError
    from vdbench.shards import SHARD_TABLES

    batches: list[tuple[str, list[Path]]] = []
    for name in dirs:
        root = Path(name)
        if not root.is_dir():
            raise InputError("not a shard directory", where=name,
                             hint="pass the --shard-dir of `vdbench sample/judge run --shard`, or "
                             "--table TABLE with Parquet files")
        unknown = sorted(c.name for c in root.iterdir() if c.is_dir() and c.name not in SHARD_TABLES)
        if unknown:
            raise InputError(f"sub-directory {unknown[0]!r} is not a shard table", where=name,
                             hint=f"shard tables: {', '.join(SHARD_TABLES)}")
        found = [(t, sorted((root / t).glob("*.parquet"))) for t in SHARD_TABLES]
        if not any(files for _, files in found):
            raise InputError("no Parquet shards here", where=name)
        batches.extend((t, files) for t, files in found if files)
    order = {t: i for i, t in enumerate(SHARD_TABLES)}
    return sorted(batches, key=lambda b: order[b[0]])


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest; a store this call created is removed again when the ingest is refused (it
    is one transaction, so the new file would hold an empty schema only)."""
    from vdbench.commands.common import no_store_left_on_refusal

    with no_store_left_on_refusal(args.db):
        return _ingest(args)


def _ingest(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError
    from vdbench.store import Store, ingest_parquet, ingest_parquet_tables

    if args.table is None:
        batches = _shard_dir_batches(args.files)
        added_by_table = ingest_parquet_tables(Store(args.db), batches)
        n_files = sum(len(f) for _, f in batches)
        if args.json:
            print_json({"files": n_files, "added": added_by_table})
        else:
            console().print(f"ingested {n_files} shard(s): " + ", ".join(
                f"{t} +{n}" for t, n in added_by_table.items()), markup=False)
        return 0
    files: list[Path] = []
    for pattern in args.files:
        matched = sorted(glob.glob(pattern)) or ([pattern] if Path(pattern).exists() else [])
        if not matched:
            raise InputError("no file matches", where=pattern)
        files.extend(Path(m) for m in matched)
    added = ingest_parquet(Store(args.db), args.table, files)
    if args.json:
        print_json({"table": args.table, "files": len(files), "added": added})
    else:
        console().print(f"ingested {len(files)} shard(s) into {args.table}: {added} new rows")
    return 0
