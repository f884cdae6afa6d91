"""The micro world: a tiny Llama, its tokenizer and datasets, built by us from a seed.

Used by `vdbench demo` and the tests to show the paper's findings on CPU in minutes.
See docs/micro_world.md.
"""

from vdbench.micro.build import DATASET_FILES, MicroWorld, MicroWorldConfig, build_micro_world

__all__ = ["DATASET_FILES", "MicroWorld", "MicroWorldConfig", "build_micro_world"]
