"""`vdbench ingest`: load Parquet shards written by workers on many hosts into the store.

At cluster scale no two hosts write the DuckDB file: sampling or judging workers write
Parquet shards (same columns as the store table), and one `vdbench ingest` loads them in
one transaction. Re-ingesting a shard adds nothing (natural keys).
"""

from __future__ import annotations

import argparse
import glob

from vdbench.commands.common import add_db, add_json, console, print_json

TABLES = ("samples", "judgments", "checkpoints", "pair_judgments", "reference_labels")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="load Parquet shards from workers (samples, judgments, ...)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_db(p)
    p.add_argument("--table", required=True, choices=TABLES, help="store table the shards hold")
    p.add_argument("files", nargs="+", help="Parquet files or globs (e.g. 'shards/*.parquet')")
    add_json(p)
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vdbench.errors import InputError
    from vdbench.store import Store, ingest_parquet

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
