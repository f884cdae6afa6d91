"""The micro world: a tiny Llama, its tokenizer and datasets, built by us from a seed.

Used by `vdbench demo` and the tests to show the paper's findings on CPU in minutes.
See docs/micro_world.md. Importing this package is light: torch and transformers load
only when `build_micro_world` (or the model module) is used, so `vdbench.micro.corpus`
works in processes that must not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vdbench.micro.build import DATASET_FILES, MicroWorld, MicroWorldConfig, build_micro_world

__all__ = ["DATASET_FILES", "MicroWorld", "MicroWorldConfig", "build_micro_world"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from vdbench.micro import build

        return getattr(build, name)
    raise AttributeError(f"module 'vdbench.micro' has no attribute {name!r}")
