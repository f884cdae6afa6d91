"""Write transactions for the audit's bulk tables, with bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from vdbench.store import Store


@contextmanager
def bulk_write(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    """`store.write()` with DuckDB's checkpoint-time vacuum off.

    Every audit write appends or updates in place, leaving nothing to vacuum; yet at
    checkpoint DuckDB's vacuum merges the small row groups that batched appends leave,
    reading them back into memory, so peak memory grows with the table (about +300 MB at
    a million pairs, measured with benchmarks/bench_audit_import.py). Off, each batch's
    cost stays flat; the table keeps batch-sized row groups, which scans do not mind.
    """
    with store.write() as con:
        con.execute("SET max_vacuum_tasks = 0")
        yield con
