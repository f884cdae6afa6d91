"""The hierarchical bootstrap (seeds, then prompts within each drawn seed) on cases whose
replicate distribution can be worked out by hand, and the contrasts built on it."""

from __future__ import annotations

import numpy as np
import pytest

from vdbench.metrics.hierarchical import (
    hierarchical_interval,
    hierarchical_replicates,
    log_slope,
    point_estimate,
    seed_replicates,
)


def test_two_seeds_one_prompt_each_gives_the_binomial_mixture() -> None:
    # Seeds with values a = 0 and b = 1 and one prompt each: a replicate draws two seeds with
    # replacement, so it is 0 (both a), 0.5 (one each) or 1 (both b) with chances 1/4, 1/2, 1/4.
    groups = [np.array([0.0]), np.array([1.0])]
    reps = hierarchical_replicates(groups, 40_000, np.random.default_rng(0))[:, 0]
    values, counts = np.unique(reps, return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.01)
    assert point_estimate(groups)[0] == 0.5


def test_one_seed_is_the_prompt_bootstrap() -> None:
    # One seed, prompts 0 and 1: the replicate is a two-prompt resample mean.
    reps = hierarchical_replicates([np.array([0.0, 1.0])], 40_000, np.random.default_rng(1))[:, 0]
    values, counts = np.unique(reps, return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.01)


def test_replicate_variance_adds_the_seed_and_prompt_levels() -> None:
    # Seeds [0, 1] and [2, 3]: one draw picks a seed (mean 0.5 or 2.5: variance 1) and then
    # resamples its two prompts (variance 0.25 / 2 = 0.125), so a draw has variance 1.125
    # and the mean of two independent draws 0.5625 — worked out by hand.
    groups = [np.array([0.0, 1.0]), np.array([2.0, 3.0])]
    reps = hierarchical_replicates(groups, 200_000, np.random.default_rng(2))[:, 0]
    assert reps.mean() == pytest.approx(1.5, abs=0.01)
    assert reps.var() == pytest.approx(0.5625, rel=0.02)


def test_a_seed_drawn_twice_gets_two_independent_prompt_draws() -> None:
    # With one seed drawn in both slots the replicate averages two independent prompt means,
    # so a replicate can be 0.25 (prompt draws 0 and 0.5), which one shared draw never gives.
    groups = [np.array([0.0, 1.0]), np.array([10.0])]
    reps = hierarchical_replicates(groups, 20_000, np.random.default_rng(3))[:, 0]
    assert np.any(np.isclose(reps, 0.25))


def test_jointly_resampled_points_make_paired_differences_tight() -> None:
    # Two points that share most of their variation (same seeds, same prompts) differ by
    # exactly 0.1 everywhere: the paired difference has no spread, each point alone has.
    rng = np.random.default_rng(4)
    base = [rng.normal(size=30) + s for s in range(3)]
    groups = [np.column_stack([b + 0.1, b]) for b in base]
    reps = hierarchical_replicates(groups, 2000, np.random.default_rng(5))
    diff = reps @ np.array([1.0, -1.0])
    assert np.allclose(diff, 0.1)
    lo, hi = hierarchical_interval(groups, reps)[:, 0]
    assert hi - lo > 0.5


def test_interval_is_expanded_at_the_seed_level() -> None:
    # Three seeds: rescaled by sqrt(3/2) and read at the t(2)-equivalent level, so the
    # interval is wider than the raw 95 % percentile interval of the same replicates.
    groups = [np.array([0.0, 0.2]), np.array([0.5, 0.7]), np.array([1.0, 1.2])]
    reps = hierarchical_replicates(groups, 4000, np.random.default_rng(6))
    lo, hi = hierarchical_interval(groups, reps)[:, 0]
    raw_lo, raw_hi = np.quantile(reps[:, 0], [0.025, 0.975])
    assert lo < raw_lo and hi > raw_hi
    assert lo <= point_estimate(groups)[0] <= hi


def test_seed_replicates_and_slope_weights() -> None:
    reps = seed_replicates([0.0, 1.0], 40_000, np.random.default_rng(7))
    assert np.unique(reps).tolist() == [0.0, 0.5, 1.0]
    w = log_slope([0.01, 0.1, 1.0])  # log10: -2, -1, 0
    assert w @ np.array([0.0, 1.0, 2.0]) == pytest.approx(1.0)  # slope 1 per decade
    assert w.sum() == pytest.approx(0.0)
    with pytest.raises(ValueError):
        log_slope([0.1, 0.1])
    with pytest.raises(ValueError):
        hierarchical_replicates([np.array([])], 10, np.random.default_rng(0))
