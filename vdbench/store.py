"""The DuckDB store: versioned schema, short-lived connections, idempotent bulk writes.

Concurrency model: DuckDB lets one process hold a file read-write, or many hold it
read-only, never both at once. Every vdbench process therefore holds the file only for
the length of one transaction (a checkpoint's samples, a batch of judgments, one TUI
query) and retries with backoff while another process holds it. A writer killed mid-
transaction leaves only its uncommitted work behind, which DuckDB discards on the next
open; natural primary keys plus ``INSERT OR IGNORE`` make a re-run add only what is
missing.

At cluster scale, workers never open the store: they write Parquet shards that one
``vdbench ingest`` loads (see :func:`ingest_parquet`).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

from vdbench.errors import StoreError

LOCK_TIMEOUT_S = float(os.environ.get("VDBENCH_LOCK_TIMEOUT", "60"))
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

# Tables a bulk write may target; names are never taken from user input.
BULK_TABLES = frozenset(
    {
        "runs",
        "checkpoints",
        "eval_sets",
        "topics",
        "prompts",
        "samples",
        "judges",
        "judgments",
        "pref_datasets",
        "pref_pairs",
        "pair_judgments",
        "calibrations",
        "reference_labels",
        "capability",
    }
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_dir() -> Path:
    """Where the migration files live: storage/migrations, reached through the package's
    ``_migrations`` link so editable and wheel installs find the same files."""
    return Path(str(resources.files("vdbench") / "_migrations"))


def load_migrations() -> list[Migration]:
    """All migrations, ordered by version; gaps or duplicates are a packaging bug."""
    found = []
    for path in sorted(migrations_dir().glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path.stem, path.read_text("utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations in {migrations_dir()} are not numbered 1..n: {versions}")
    return found


SCHEMA_VERSION = len(load_migrations())


def stable_id(*parts: object) -> int:
    """A deterministic signed 64-bit id from the parts (same parts → same id, any process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def sample_id(run_id: str, step: int, eval_set: str, prompt_id: str, sample_idx: int) -> int:
    """The natural key of a sample as one BIGINT."""
    return stable_id("sample", run_id, step, eval_set, prompt_id, sample_idx)


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflict" in text or "could not set" in text or "held" in text)


def _connect(path: Path, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_error(exc):
                raise StoreError(f"cannot open store: {exc}", where=str(path)) from exc
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"store is busy (locked by another process for {timeout_s:.0f} s)",
                    where=str(path),
                    hint="another vdbench process is writing; retry, or raise VDBENCH_LOCK_TIMEOUT",
                ) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The store's applied schema version (0 for an empty file)."""
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not has or not has[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection, path: Path, target: int | None = None) -> int:
    """Apply the migrations the store lacks, each in its own transaction; return the version.

    A store newer than this vdbench is refused rather than touched.
    """
    migrations = load_migrations()
    target = len(migrations) if target is None else target
    current = schema_version(con)
    if current > len(migrations):
        raise StoreError(
            f"store schema version {current} is newer than this vdbench supports ({len(migrations)})",
            where=str(path),
            hint="upgrade vdbench (pip install -U vdbench) to open this store",
        )
    if current == 0:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
    for migration in migrations[current:target]:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_version (version, name) VALUES (?, ?)",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return max(current, target)


class Store:
    """A vdbench store file. Connections are opened per unit of work and closed after."""

    def __init__(self, path: str | os.PathLike[str], lock_timeout_s: float = LOCK_TIMEOUT_S):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._migrated = False

    def _ensure_schema(self) -> None:
        if self._migrated:
            return
        if self.path.parent and not self.path.parent.exists():
            raise StoreError(
                "directory does not exist", where=str(self.path.parent),
                hint="create it first or choose another --db path",
            )
        con = _connect(self.path, read_only=False, timeout_s=self.lock_timeout_s)
        try:
            migrate(con, self.path)
        finally:
            con.close()
        self._migrated = True

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction: committed on success, rolled back on any error."""
        self._ensure_schema()
        con = _connect(self.path, read_only=False, timeout_s=self.lock_timeout_s)
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection; an older store is upgraded first, a newer one refused."""
        if not self.path.exists():
            raise StoreError(
                "no store here", where=str(self.path),
                hint="create one with a command that writes (e.g. `vdbench prompts import`)",
            )
        if not self._migrated:
            con = _connect(self.path, read_only=True, timeout_s=self.lock_timeout_s)
            try:
                version = schema_version(con)
            finally:
                con.close()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store schema version {version} is newer than this vdbench supports "
                    f"({SCHEMA_VERSION})",
                    where=str(self.path),
                    hint="upgrade vdbench to open this store",
                )
            if version < SCHEMA_VERSION:
                self._ensure_schema()
            self._migrated = True
        con = _connect(self.path, read_only=True, timeout_s=self.lock_timeout_s)
        try:
            yield con
        finally:
            con.close()

    def version(self) -> int:
        with self.read() as con:
            return schema_version(con)


def insert_arrow(
    con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table, *, on_conflict: str = "ignore"
) -> int:
    """Bulk-insert an Arrow table by column name; rows whose key exists are ignored or replaced.

    Returns the number of rows in `rows` that were not already stored (ignore mode).
    """
    if table not in BULK_TABLES:
        raise ValueError(f"not a store table: {table}")
    if rows.num_rows == 0:
        return 0
    verb = {"ignore": "INSERT OR IGNORE", "replace": "INSERT OR REPLACE"}[on_conflict]
    view = f"_bulk_{table}"
    con.register(view, rows)
    try:
        # DuckDB reports the rows actually inserted (conflicts ignored are not counted).
        added = con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM {view}").fetchall()[0][0]
    finally:
        con.unregister(view)
    return int(added)


def ingest_parquet(store: Store, table: str, files: list[Path]) -> int:
    """Load Parquet shards written by workers on other hosts, in one transaction."""
    return ingest_parquet_tables(store, [(table, files)])[table]


def ingest_parquet_tables(store: Store, batches: list[tuple[str, list[Path]]]) -> dict[str, int]:
    """Load shards of several tables (in the order given) in one transaction; new rows per table."""
    for table, _ in batches:
        if table not in BULK_TABLES:
            raise StoreError(f"not a store table: {table}")
    added: dict[str, int] = {}
    with store.write() as con:
        for table, files in batches:
            added.setdefault(table, 0)
            for file in files:
                try:
                    # straight from the file: no Arrow copy in Python (table checked above)
                    added[table] += int(con.execute(
                        f"INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM read_parquet(?)",
                        [str(file)]).fetchall()[0][0])
                except duckdb.Error as exc:
                    # the whole ingest is one transaction: a bad shard leaves nothing half-loaded
                    raise StoreError(f"cannot ingest into {table}: {exc}", where=str(file),
                                     hint="shards must have the store table's columns") from exc
    return added
