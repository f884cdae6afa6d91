"""When the drift callback samples: schedules and planned run lengths (pure, no torch)."""

from __future__ import annotations

import pytest

from vdbench.errors import InputError
from vdbench.training.schedule import (
    checkpoint_schedule,
    log_spaced_steps,
    parse_eval_steps,
    planned_total_steps,
)


def test_every_n_includes_zero_and_end_without_duplicates():
    assert checkpoint_schedule(10, every=4) == [0, 4, 8, 10]
    assert checkpoint_schedule(8, every=4) == [0, 4, 8]


def test_explicit_dense_early_steps_merge_with_every():
    assert checkpoint_schedule(100, every=50, eval_steps=(0, 5, 10, 20, 40)) == [0, 5, 10, 20, 40, 50, 100]


def test_default_is_about_ten_checkpoints():
    steps = checkpoint_schedule(100)
    assert steps[0] == 0 and steps[-1] == 100 and len(steps) == 11


def test_every_larger_than_run_is_refused_with_the_run_length():
    with pytest.raises(InputError, match=r"--every 50 is larger than the run \(20 training steps\)"):
        checkpoint_schedule(20, every=50)


def test_eval_step_past_the_end_is_refused():
    with pytest.raises(InputError, match="step 30"):
        checkpoint_schedule(20, eval_steps=(0, 30))


def test_log_schedule_is_dense_early():
    steps = checkpoint_schedule(1000, eval_steps=parse_eval_steps("log:8"))
    assert steps[0] == 0 and steps[-1] == 1000
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False)]
    assert gaps == sorted(gaps)  # gaps grow: denser at the start
    assert log_spaced_steps(5, 10) == [1, 2, 3, 4, 5]


def test_parse_eval_steps_rejects_garbage():
    assert parse_eval_steps("0, 5,10") == (0, 5, 10)
    with pytest.raises(InputError, match="'x'"):
        parse_eval_steps("0,x")
    with pytest.raises(InputError):
        parse_eval_steps("log:1")


def test_planned_total_steps_matches_trainer_arithmetic():
    # 100 rows, batch 8, 2 processes: 7 batches per epoch; grad_accum 2 → 3 updates.
    assert planned_total_steps(100, 8, grad_accum=2, world_size=2, epochs=1) == 3
    assert planned_total_steps(100, 8, epochs=2) == 26
    assert planned_total_steps(100, 8, max_steps=5) == 5
