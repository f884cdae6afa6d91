"""Value-gap statistics on small hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vdbench.audit.stats import (
    bootstrap_replicates,
    drift_direction,
    gap_stats,
    js_divergence,
    margin_histogram,
    stance_flips,
    stance_margin,
)

SUPPORT, NEUTRAL, OPPOSE = [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]


def test_stance_margin_is_support_minus_oppose_difference():
    chosen = np.array([[0.7, 0.2, 0.1], SUPPORT, NEUTRAL])
    rejected = np.array([[0.1, 0.3, 0.6], OPPOSE, NEUTRAL])
    # (0.7-0.1) - (0.1-0.6) = 1.1;  1 - (-1) = 2;  0 - 0 = 0
    assert stance_margin(chosen, rejected) == pytest.approx([1.1, 2.0, 0.0])


def test_flip_is_argmax_change_with_first_stance_winning_ties():
    chosen = np.array([SUPPORT, [0.4, 0.4, 0.2], [0.2, 0.4, 0.4]])
    rejected = np.array([SUPPORT, [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]])
    # tie support/neutral -> support (differs from neutral); tie neutral/oppose -> neutral
    assert stance_flips(chosen, rejected).tolist() == [False, True, True]


def test_js_divergence_bits_hand_computed():
    assert js_divergence([1, 0, 0], [1, 0, 0]) == 0.0
    assert js_divergence([1, 0, 0], [0, 0, 1]) == pytest.approx(1.0)  # disjoint: 1 bit
    # p=(.5,.5,0), q=(0,.5,.5), m=(.25,.5,.25): KL(p||m) = .5*log2(2) = .5, KL(q||m) = .5
    assert js_divergence([0.5, 0.5, 0], [0, 0.5, 0.5]) == pytest.approx(0.5)
    # unnormalised inputs are renormalised
    assert js_divergence([2, 2, 0], [0, 1, 1]) == pytest.approx(0.5)
    # p=(1,0,0), q=(.5,.5,0), m=(.75,.25,0): KL(p||m)=log2(4/3), KL(q||m)=.5log2(2/3)+.5log2(2)
    expected = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2
    assert js_divergence([1, 0, 0], [0.5, 0.5, 0]) == pytest.approx(expected)


def test_histogram_bins_cover_minus_two_to_two_inclusive():
    counts, edges = margin_histogram(np.array([-2.0, -0.05, 0.0, 0.05, 1.99, 2.0]), bins=20)
    assert edges[0] == -2 and edges[-1] == 2 and len(edges) == 21
    assert counts[0] == 1  # -2 in the first bin
    assert counts[9] == 1  # -0.05 in [-0.2, 0)
    assert counts[10] == 2  # 0 and 0.05 in [0, 0.2)
    assert counts[19] == 2  # 1.99 and 2 (right edge included)
    assert counts.sum() == 6


def test_gap_stats_hand_computed_two_pairs():
    chosen = np.array([SUPPORT, NEUTRAL])
    rejected = np.array([OPPOSE, NEUTRAL])
    s = gap_stats(chosen, rejected, n_boot=200, seed=1)
    assert s.n_pairs == 2
    assert s.mean_margin == pytest.approx(1.0)  # (2 + 0) / 2
    assert s.mean_abs_margin == pytest.approx(1.0)
    assert s.flip_rate == pytest.approx(0.5)
    assert s.js_divergence == pytest.approx(0.5)  # means (.5,.5,0) vs (0,.5,.5)
    assert s.chosen_mean == pytest.approx((0.5, 0.5, 0.0))
    assert s.rejected_mean == pytest.approx((0.0, 0.5, 0.5))
    # replicates draw each pair 0, 1 or 2 times: mean Δ in {0, 1, 2}
    lo, hi = s.ci["mean_margin"]
    assert 0.0 <= lo <= 1.0 <= hi <= 2.0


def test_cancelling_margins_show_in_abs_and_flips_but_not_mean_or_js():
    chosen = np.array([SUPPORT, OPPOSE] * 50)
    rejected = np.array([OPPOSE, SUPPORT] * 50)
    s = gap_stats(chosen, rejected, n_boot=300, seed=0)
    assert s.mean_margin == pytest.approx(0.0)
    assert s.mean_abs_margin == pytest.approx(2.0)
    assert s.flip_rate == pytest.approx(1.0)
    assert s.js_divergence == pytest.approx(0.0)
    assert s.direction == "none"


def test_identical_sides_give_zero_gap_and_degenerate_intervals():
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    s = gap_stats(probs, probs, n_boot=100, seed=0)
    assert s.mean_abs_margin == 0 and s.flip_rate == 0 and s.js_divergence == 0
    assert s.ci["mean_margin"] == (0.0, 0.0)
    assert s.direction == "too few pairs"  # 3 pairs < min_pairs
    assert gap_stats(probs, probs, n_boot=100, min_pairs=3).direction == "none"


def test_direction_needs_min_pairs_since_one_pair_gives_a_zero_width_interval():
    one = gap_stats(np.array([SUPPORT]), np.array([OPPOSE]), n_boot=50)
    assert one.ci["mean_margin"] == (2.0, 2.0) and one.direction == "too few pairs"
    nine = gap_stats(np.array([SUPPORT] * 9), np.array([OPPOSE] * 9), n_boot=50)
    ten = gap_stats(np.array([SUPPORT] * 10), np.array([OPPOSE] * 10), n_boot=50)
    assert nine.direction == "too few pairs" and ten.direction == "toward support"


def test_consistent_support_gap_predicts_drift_toward_support_and_oppose_mirrors_it():
    rng = np.random.default_rng(0)
    chosen = rng.dirichlet([6, 2, 1], size=200)
    rejected = rng.dirichlet([1, 2, 6], size=200)
    up = gap_stats(chosen, rejected, n_boot=500, seed=0)
    down = gap_stats(rejected, chosen, n_boot=500, seed=0)
    assert up.direction == "toward support" and up.ci["mean_margin"][0] > 0
    assert down.direction == "toward oppose" and down.ci["mean_margin"][1] < 0
    assert down.mean_margin == pytest.approx(-up.mean_margin)
    for name, (lo, hi) in up.ci.items():
        assert lo <= getattr(up, name) <= hi, name


def test_bootstrap_is_deterministic_per_seed_and_replicates_have_right_shape():
    rng = np.random.default_rng(3)
    chosen, rejected = rng.dirichlet([1, 1, 1], 50), rng.dirichlet([1, 1, 1], 50)
    a = bootstrap_replicates(chosen, rejected, n_boot=64, seed=7)
    b = bootstrap_replicates(chosen, rejected, n_boot=64, seed=7)
    c = bootstrap_replicates(chosen, rejected, n_boot=64, seed=8)
    assert all(v.shape == (64,) for v in a.values())
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["mean_margin"], c["mean_margin"])


def test_bootstrap_replicate_equals_direct_resample():
    """A replicate's weighted statistic equals the statistic of the resampled pairs."""
    rng = np.random.default_rng(5)
    chosen, rejected = rng.dirichlet([1, 1, 1], 7), rng.dirichlet([1, 1, 1], 7)
    reps = bootstrap_replicates(chosen, rejected, n_boot=3, seed=np.random.default_rng(11))
    draws = np.random.default_rng(11).integers(0, 7, size=(3, 7))
    for b in range(3):
        c, r = chosen[draws[b]], rejected[draws[b]]
        assert reps["mean_margin"][b] == pytest.approx(stance_margin(c, r).mean())
        assert reps["flip_rate"][b] == pytest.approx(stance_flips(c, r).mean())
        assert reps["js_divergence"][b] == pytest.approx(js_divergence(c.mean(0), r.mean(0)))


def test_drift_direction_needs_interval_excluding_zero():
    assert drift_direction(0.01, 0.3) == "toward support"
    assert drift_direction(-0.3, -0.01) == "toward oppose"
    assert drift_direction(-0.01, 0.3) == "none"
    assert drift_direction(0.0, 0.3) == "none"


def test_empty_group_and_bad_shapes():
    assert gap_stats(np.zeros((0, 3)), np.zeros((0, 3))) is None
    with pytest.raises(ValueError):
        stance_margin(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError):
        gap_stats(np.ones((2, 3)) / 3, np.ones((3, 3)) / 3)
