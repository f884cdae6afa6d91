"""Shared test set-up: offline, single-threaded, and model fixtures from plugins."""

from __future__ import annotations

import os

# Before torch or any HF library is imported: never reach a hub, never fight for cores.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("VDBENCH_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest_plugins = [
    p for p in ("tests.fixtures.models", "tests.fixtures.stores", "tests.fixtures.tui_store",
              "tests.fixtures.training")
    if (Path(__file__).parent / "fixtures" / (p.rsplit(".", 1)[1] + ".py")).exists()
]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A path for a fresh store (the file is created by the first write)."""
    return tmp_path / "store.duckdb"
