"""When to sample during training: pure functions, no torch.

The planned length of a run is known before any model loads (rows, batch size, processes,
epochs or max steps), so a schedule that cannot fit is refused up front.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from vdbench.errors import InputError

DEFAULT_CHECKPOINTS = 10


def planned_total_steps(
    n_rows: int, batch_size: int, grad_accum: int = 1, world_size: int = 1,
    epochs: float = 1.0, max_steps: int | None = None,
) -> int:
    """Optimiser steps a Trainer will run: `max_steps`, else ceil(epochs × updates/epoch).

    Matches transformers' count for a map-style dataset without packing: one epoch is
    ceil(rows / (batch × processes)) batches, grouped into updates of `grad_accum`.
    """
    if max_steps is not None and max_steps > 0:
        return int(max_steps)
    if n_rows <= 0:
        raise InputError("the training data has no rows")
    batches = math.ceil(n_rows / (batch_size * world_size))
    per_epoch = max(batches // grad_accum, 1)
    return max(int(math.ceil(epochs * per_epoch)), 1)


def parse_eval_steps(text: str | None) -> tuple[int, ...]:
    """``"0,5,10,20,40"`` → (0, 5, 10, 20, 40); ``"log:N"`` is expanded later (negative marker).

    ``log:N`` asks for N steps spaced geometrically from 1 to the last step (dense early);
    it is returned as ``(-N,)`` and resolved by :func:`checkpoint_schedule`.
    """
    if not text:
        return ()
    text = text.strip()
    if text.startswith("log:"):
        count = text[4:]
        if not count.isdigit() or int(count) < 2:
            raise InputError(f"--eval-steps {text!r}: expected log:N with N ≥ 2")
        return (-int(count),)
    steps = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise InputError(f"--eval-steps: {part!r} is not a non-negative integer",
                             hint='give steps like "0,5,10,20,40" or "log:12"')
        steps.append(int(part))
    return tuple(steps)


def log_spaced_steps(total: int, count: int) -> list[int]:
    """`count` distinct steps in [1, total], geometric from 1 (dense early), total included."""
    if total <= count:
        return list(range(1, total + 1))
    ratio = total ** (1 / (count - 1))
    steps = sorted({min(total, max(1, round(ratio**i))) for i in range(count)})
    return steps


def checkpoint_schedule(
    total_steps: int, every: int | None = None, eval_steps: Iterable[int] = (),
    n_default: int = DEFAULT_CHECKPOINTS,
) -> list[int]:
    """The sorted steps to sample: 0, every N, the explicit steps, and the last step.

    With neither `every` nor `eval_steps`, about `n_default` evenly spaced checkpoints.
    Raises InputError when `every` exceeds the run or an explicit step lies past its end.
    """
    if total_steps <= 0:
        raise InputError(f"the run has {total_steps} training steps; nothing to train")
    explicit = list(eval_steps)
    steps = {0, total_steps}
    if every is not None:
        if every <= 0:
            raise InputError(f"--every must be a positive number of steps, got {every}")
        if every > total_steps:
            raise InputError(
                f"--every {every} is larger than the run ({total_steps} training steps): "
                "only step 0 and the last step would be sampled",
                hint=f"use --every ≤ {total_steps}, or more --epochs / --max-steps",
            )
        steps.update(range(every, total_steps + 1, every))
    for step in explicit:
        if step < 0:  # log:N marker from parse_eval_steps
            steps.update(log_spaced_steps(total_steps, -step))
        elif step > total_steps:
            raise InputError(
                f"--eval-steps includes step {step}, past the end of the run ({total_steps} steps)",
                hint=f"keep eval steps ≤ {total_steps}",
            )
        else:
            steps.add(step)
    if every is None and not explicit:
        interval = max(1, math.ceil(total_steps / n_default))
        steps.update(range(interval, total_steps + 1, interval))
    return sorted(steps)
