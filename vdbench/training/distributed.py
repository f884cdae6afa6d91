"""The few collectives vdbench needs, as no-ops outside a process group.

Rules that keep many processes from hanging: every rank calls the same collectives in
the same order (each helper here is called by all ranks or by none), and only rank 0
touches the store.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

T = TypeVar("T")


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def rank() -> int:
    dist = _dist()
    if dist is not None:
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    dist = _dist()
    if dist is not None:
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    dist = _dist()
    if dist is not None:
        dist.barrier()


def broadcast_object(obj: T) -> T:
    """Rank 0's `obj` on every rank."""
    dist = _dist()
    if dist is None:
        return obj
    box: list[Any] = [obj if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any) -> list[Any] | None:
    """Every rank's `obj`, in rank order, on rank 0; None on the other ranks."""
    dist = _dist()
    if dist is None:
        return [obj]
    out: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def weights_are_sharded() -> bool:
    """True under DeepSpeed ZeRO-3 or FSDP: every rank must join every forward pass."""
    try:
        from transformers.integrations import is_deepspeed_zero3_enabled

        if is_deepspeed_zero3_enabled():
            return True
    except ImportError:  # transformers without the deepspeed integration module
        pass
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in {"1", "true"}
