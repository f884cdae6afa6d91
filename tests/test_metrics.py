"""Metrics: topic values, the bootstrap, drift magnitude and drift time (hand-computed)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vdbench.metrics import (
    DriftTime,
    bootstrap_drift_interval,
    bootstrap_replicates,
    bootstrap_topic_values,
    dominant_drift,
    drift_magnitude,
    drift_time,
    paired_drift_replicates,
    percentile_interval,
    stage_drift,
    topic_values,
)
from vdbench.metrics.bootstrap import expanded_confidence, group_rng, value_replicates


def samples(rows: list[tuple[str, int, str, float]], **extra: object) -> pd.DataFrame:
    """Judged samples from (topic, step, prompt_id, p_support); p_neutral = 1 - p_support."""
    df = pd.DataFrame(rows, columns=["topic", "step", "prompt_id", "p_support"])
    df["sample_idx"] = df.groupby(["topic", "step", "prompt_id"]).cumcount()
    df["p_neutral"] = 1.0 - df["p_support"]
    df["p_oppose"] = 0.0
    for k, v in extra.items():
        df[k] = v
    return df


# ---------------------------------------------------------------- topic values


def test_topic_values_mean_of_prompt_means_not_pooled() -> None:
    # p1: 0.9, 0.6, 0.3 -> 0.6; p2: 0.0 -> 0.0; mean of prompt means 0.3, pooled 0.45.
    df = samples(
        [("a", 0, "p1", 0.9), ("a", 0, "p1", 0.6), ("a", 0, "p1", 0.3), ("a", 0, "p2", 0.0)]
    )
    out = topic_values(df)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["v_support"] == pytest.approx(0.3)
    assert row["v_neutral"] == pytest.approx(0.7)
    assert row["v_oppose"] == pytest.approx(0.0)
    pooled = df["p_support"].mean()
    assert pooled == pytest.approx(0.45)
    assert abs(row["v_support"] - pooled) > 0.1
    assert (row["n_prompts"], row["n_samples"]) == (2, 4)


def test_topic_values_unjudged_rows_count_as_missing() -> None:
    # p3's only sample has no probabilities: p3 does not count; p1's NaN sample is dropped.
    df = samples(
        [
            ("a", 0, "p1", 0.8),
            ("a", 0, "p1", float("nan")),
            ("a", 0, "p2", 0.2),
            ("a", 0, "p3", float("nan")),
        ]
    )
    row = topic_values(df).iloc[0]
    assert row["v_support"] == pytest.approx(0.5)
    assert (row["n_prompts"], row["n_samples"]) == (2, 2)


def test_topic_values_groups_by_topic_and_step_and_keeps_fraction() -> None:
    df = samples(
        [("b", 10, "q", 1.0), ("a", 10, "p", 0.5), ("a", 0, "p", 0.25), ("a", 0, "p", 0.75)]
    )
    df["fraction"] = df["step"] / 10
    out = topic_values(df.sample(frac=1.0, random_state=3))
    assert list(zip(out["topic"], out["step"], strict=True)) == [("a", 0), ("a", 10), ("b", 10)]
    assert list(out["fraction"]) == [0.0, 1.0, 1.0]
    assert list(out["v_support"]) == pytest.approx([0.5, 0.5, 1.0])
    assert list(out.columns[:3]) == ["topic", "step", "fraction"]


def test_topic_values_rejects_missing_columns() -> None:
    with pytest.raises(ValueError, match="p_oppose"):
        topic_values(samples([("a", 0, "p", 0.5)]).drop(columns="p_oppose"))


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_two_equal_prompts_matches_exact_variance() -> None:
    # p1 = {0, 1} (mean .5), p2 = {1, 1} (mean 1). Prompts are drawn with their samples:
    # the mean of two drawn prompt means is .5, .75, 1 w.p. 1/4, 1/2, 1/4 (var 1/32), and
    # rescaling about v = .75 by sqrt(2/1) gives .75 -+ .25 sqrt(2): var 1/16, sd .25, the
    # unbiased s^2 / P = (1/8) / 2.
    df = samples(
        [("a", 0, "p1", 0.0), ("a", 0, "p1", 1.0), ("a", 0, "p2", 1.0), ("a", 0, "p2", 1.0)]
    )
    reps = bootstrap_replicates(df, n_boot=20000, seed=1)
    assert reps.shape == (20000, 3)
    np.testing.assert_allclose(reps[:, 0] + reps[:, 1], 1.0)
    values, counts = np.unique(reps[:, 0].round(12), return_counts=True)
    np.testing.assert_allclose(values, [0.75 - 0.25 * 2**0.5, 0.75, 0.75 + 0.25 * 2**0.5])
    np.testing.assert_allclose(counts / 20000, [0.25, 0.5, 0.25], atol=0.01)
    assert reps[:, 0].std() == pytest.approx(0.25, abs=0.006)


def test_bootstrap_unequal_prompts_matches_exact_variance() -> None:
    # p1 = {.9, .6, .3} (mean .6), p2 = {0}: every prompt weighs the same, so v = .3 (not
    # the pooled .45). Drawn prompt means .6 or 0: replicates .3 + (0, -+.3 w.p. 1/2, 1/4
    # each) * sqrt(2): var .09 = s^2 / P with s^2 = .18; a prompt's own samples are not
    # resampled again (that would count their noise twice).
    df = samples(
        [("a", 0, "p1", 0.9), ("a", 0, "p1", 0.6), ("a", 0, "p1", 0.3), ("a", 0, "p2", 0.0)]
    )
    reps = bootstrap_replicates(df, n_boot=20000, seed=2)[:, 0]
    assert reps.mean() == pytest.approx(0.3, abs=0.01)
    assert reps.std() == pytest.approx(0.3, abs=0.006)
    np.testing.assert_allclose(np.unique(reps.round(12)), 0.3 + 0.3 * 2**0.5 * np.array([-1, 0, 1]))


def test_bootstrap_single_prompt_resamples_samples_only() -> None:
    # One prompt {0, 1}: a replicate is the mean of 2 draws (0, .5, 1 w.p. 1/4, 1/2, 1/4),
    # rescaled about .5 by sqrt(2). The bounds (n = 2 units: the extreme replicates) leave
    # [0, 1] and are clipped to it.
    df = samples([("a", 0, "p", 0.0), ("a", 0, "p", 1.0)])
    reps = bootstrap_replicates(df, n_boot=8000, seed=0)[:, 0]
    values, counts = np.unique(reps.round(12), return_counts=True)
    np.testing.assert_allclose(values, 0.5 + 0.5 * 2**0.5 * np.array([-1, 0, 1]))
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.02)
    out = bootstrap_topic_values(df, n_boot=2000)
    assert (out.loc[0, "support_lo"], out.loc[0, "support_hi"]) == (0.0, 1.0)


def test_plain_interval_is_rescaled_expanded_percentile() -> None:
    # Five prompts, one sample each, p_support 0, .25, .5, .75, 1: s^2 = .15625, so the
    # unbiased Var(v) = s^2 / 5 = .03125 (sd .1768); plain prompt resampling gives 4/5 of
    # it, the sqrt(5/4) rescale restores it. Bounds: quantiles at level 1 - 2 Phi(-t_{4,
    # .975}) = 1 - 2 Phi(-2.7764) = .99450 instead of .95.
    df = samples([("a", 0, f"p{i}", x) for i, x in enumerate((0.0, 0.25, 0.5, 0.75, 1.0))])
    assert expanded_confidence(0.95, 5) == pytest.approx(0.994504, abs=1e-6)
    assert expanded_confidence(0.95, 1) == 0.95
    reps = bootstrap_replicates(df, n_boot=40000, seed=4)[:, 0]
    assert reps.mean() == pytest.approx(0.5, abs=0.005)
    assert reps.var() == pytest.approx(0.03125, rel=0.03)
    # The reported bounds are those quantiles of the group's own replicates.
    probs = df[["p_support", "p_neutral", "p_oppose"]].to_numpy()
    own = value_replicates(probs, np.arange(5), 1000, group_rng(0, "a", 0))
    lo, hi = np.quantile(own[:, 0], [0.002748, 0.997252])
    out = bootstrap_topic_values(df, n_boot=1000, seed=0)
    assert (out.loc[0, "support_lo"], out.loc[0, "support_hi"]) == pytest.approx((lo, hi), abs=1e-4)
    assert hi - lo > 0.8  # the 95 % percentiles of the unrescaled replicates: [.2, .8]


def test_bootstrap_single_sample_interval_is_degenerate() -> None:
    out = bootstrap_topic_values(samples([("a", 0, "p", 0.7)]), n_boot=50)
    assert out.loc[0, "support_lo"] == pytest.approx(0.7)
    assert out.loc[0, "support_hi"] == pytest.approx(0.7)
    assert out.loc[0, "oppose_lo"] == out.loc[0, "oppose_hi"] == 0.0


def _synthetic(
    n_prompts: int, topics: tuple[str, ...] = ("a",), steps: tuple[int, ...] = (0,)
) -> pd.DataFrame:
    """Prompts alternate around means .2 / .8; each has 5 samples spread by +-.1."""
    rows = [
        (t, s, f"p{i}", (0.2 if i % 2 else 0.8) + d)
        for t in topics
        for s in steps
        for i in range(n_prompts)
        for d in (-0.1, -0.05, 0.0, 0.05, 0.1)
    ]
    return samples(rows)


def test_bootstrap_is_deterministic_per_seed_and_order_free() -> None:
    df = _synthetic(12, topics=("a", "b"), steps=(0, 5))
    first = bootstrap_topic_values(df, n_boot=300, seed=7)
    again = bootstrap_topic_values(df.sample(frac=1.0, random_state=1), n_boot=300, seed=7)
    pd.testing.assert_frame_equal(first, again)
    other = bootstrap_topic_values(df, n_boot=300, seed=8)
    assert not np.allclose(first["support_lo"], other["support_lo"])
    # A group's interval does not depend on which other groups are present.
    only_b = bootstrap_topic_values(df[df["topic"] == "b"], n_boot=300, seed=7)
    pd.testing.assert_frame_equal(only_b, first[first["topic"] == "b"].reset_index(drop=True))
    a = bootstrap_replicates(df[df["topic"] == "a"], n_boot=100, seed=3)
    np.testing.assert_array_equal(
        a, bootstrap_replicates(df[df["topic"] == "a"], n_boot=100, seed=3)
    )


def test_bootstrap_ci_contains_point_estimate_and_widens_with_confidence() -> None:
    df = _synthetic(20, topics=("a", "b"), steps=(0, 1, 2))
    wide = bootstrap_topic_values(df, n_boot=500, confidence=0.95)
    narrow = bootstrap_topic_values(df, n_boot=500, confidence=0.5)
    for s in ("support", "neutral", "oppose"):
        assert (wide[f"{s}_lo"] <= wide[f"v_{s}"] + 1e-12).all()
        assert (wide[f"v_{s}"] <= wide[f"{s}_hi"] + 1e-12).all()
    w95 = wide["support_hi"] - wide["support_lo"]
    w50 = narrow["support_hi"] - narrow["support_lo"]
    assert (w50 < w95).all()
    assert wide["v_support"].to_numpy() == pytest.approx(0.5)


def test_bootstrap_ci_narrows_with_more_prompts() -> None:
    # Between-prompt sd is .3: the 95% width is about 4 * .3 / sqrt(P): ~.38 at 10, ~.09 at 160.
    few = bootstrap_topic_values(_synthetic(10), n_boot=1000)
    many = bootstrap_topic_values(_synthetic(160), n_boot=1000)
    w_few = float(few["support_hi"].iloc[0] - few["support_lo"].iloc[0])
    w_many = float(many["support_hi"].iloc[0] - many["support_lo"].iloc[0])
    assert 0.25 < w_few < 0.5
    assert w_many < w_few / 3


def test_percentile_interval_and_arguments() -> None:
    reps = np.arange(101, dtype=float)[:, None]
    np.testing.assert_allclose(percentile_interval(reps, 0.9), [[5.0], [95.0]])
    with pytest.raises(ValueError):
        percentile_interval(reps, 1.0)
    with pytest.raises(ValueError):
        bootstrap_replicates(samples([("a", 0, "p", 0.5)]), n_boot=0)


def test_bootstrap_is_fast_enough() -> None:
    rng = np.random.default_rng(0)
    topics, steps, n_p, n_s = 11, 20, 50, 5
    n = topics * steps * n_p * n_s
    p = rng.dirichlet([1.0, 1.0, 1.0], size=n)
    df = pd.DataFrame(
        {
            "topic": np.repeat([f"t{i}" for i in range(topics)], steps * n_p * n_s),
            "step": np.tile(np.repeat(np.arange(steps), n_p * n_s), topics),
            "prompt_id": np.tile(np.repeat(np.arange(n_p), n_s), topics * steps),
            "sample_idx": np.tile(np.arange(n_s), topics * steps * n_p),
            "p_support": p[:, 0],
            "p_neutral": p[:, 1],
            "p_oppose": p[:, 2],
        }
    )
    start = time.process_time()  # CPU time: robust to other load on the machine
    out = bootstrap_topic_values(df, n_boot=1000)
    assert time.process_time() - start < 2.0
    assert len(out) == topics * steps


# ---------------------------------------------------------------- drift magnitude


def test_drift_magnitude_is_signed_to_minus_from() -> None:
    m = drift_magnitude(
        {"support": 0.2, "neutral": 0.5, "oppose": 0.3},
        {"support": 0.5, "neutral": 0.25, "oppose": 0.25},
    )
    assert m == pytest.approx({"support": 0.3, "neutral": -0.25, "oppose": -0.05})
    assert drift_magnitude([0.1, 0.1, 0.8], [0.1, 0.6, 0.3]) == pytest.approx(
        {"support": 0.0, "neutral": 0.5, "oppose": -0.5}
    )
    assert (
        drift_magnitude(
            {"v_support": 1, "v_neutral": 0, "v_oppose": 0},
            {"v_support": 0, "v_neutral": 1, "v_oppose": 0},
        )["support"]
        == -1.0
    )


# ---------------------------------------------------------------- drift magnitude interval


def _shifted(bases: list[float], shift: float, noise: tuple[float, ...] = (0.0,)) -> pd.DataFrame:
    """Topic "a": prompt i at step 0 has samples bases[i] + noise; at step 10, all + shift."""
    return samples(
        [("a", 0, f"p{i}", b + d) for i, b in enumerate(bases) for d in noise]
        + [("a", 10, f"p{i}", b + shift + d) for i, b in enumerate(bases) for d in noise]
    )


def test_drift_interval_identical_steps_one_sample_each_is_zero() -> None:
    df = _shifted([0.1, 0.3, 0.5, 0.9, 0.7], shift=0.0)
    v = topic_values(df).set_index("step")
    m = drift_magnitude(v.loc[0, ["v_support", "v_neutral", "v_oppose"]].to_numpy(),
                        v.loc[10, ["v_support", "v_neutral", "v_oppose"]].to_numpy())
    assert m == {"support": 0.0, "neutral": 0.0, "oppose": 0.0}
    ci = bootstrap_drift_interval(df, 0, 10, n_boot=500)
    # Same prompts drawn at both steps, one sample each: every replicate is exactly 0.
    assert ci == {"support": (0.0, 0.0), "neutral": (0.0, 0.0), "oppose": (0.0, 0.0)}


def test_drift_interval_constant_shift_is_exact() -> None:
    # Every prompt's p_support rises by exactly .2 and no prompt varies within itself.
    df = _shifted([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], shift=0.2, noise=(0.0, 0.0, 0.0))
    ci = bootstrap_drift_interval(df, 0, 10, n_boot=1000)
    assert ci["support"] == pytest.approx((0.2, 0.2), abs=1e-12)
    assert ci["neutral"] == pytest.approx((-0.2, -0.2), abs=1e-12)
    assert ci["oppose"] == (0.0, 0.0)


def test_drift_interval_is_paired_over_prompts() -> None:
    # Prompts spread from .05 to .7 (sd ~.19), each shifts by .2 +- .01 (sd ~.0085).
    # Unpaired, the prompt spread enters twice: width ~ 4 * sqrt(2) * .19 / sqrt(20) ~ .24.
    # Paired, only the spread of the shifts remains: width ~ 4.2 * .0085 / sqrt(20) ~ .008.
    bases = np.linspace(0.05, 0.7, 20)
    jitter = np.resize([-0.01, 0.0, 0.01, 0.005, -0.005], 20)
    df = samples([("a", 0, f"p{i}", b + d) for i, b in enumerate(bases) for d in (-0.02, 0.02)]
                 + [("a", 10, f"p{i}", b + 0.2 + j + d)
                    for i, (b, j) in enumerate(zip(bases, jitter, strict=True))
                    for d in (-0.02, 0.02)])
    lo, hi = bootstrap_drift_interval(df, 0, 10, n_boot=1000)["support"]
    assert lo < 0.2 < hi
    assert hi - lo < 0.03
    unpaired = (bootstrap_replicates(df[df["step"] == 10], n_boot=1000, seed=1)
                - bootstrap_replicates(df[df["step"] == 0], n_boot=1000, seed=2))
    u_lo, u_hi = percentile_interval(unpaired)[:, 0]
    assert u_hi - u_lo > 0.15
    assert hi - lo < (u_hi - u_lo) / 5


def test_drift_interval_resamples_samples_independently_at_each_step() -> None:
    # One prompt: step 0 has samples .2 and .4, step 10 one sample .5. The mean of 2 draws
    # from {.2, .4} is .2, .3, .4 w.p. 1/4, 1/2, 1/4, rescaled about .3 by sqrt(2/1); the one
    # sample at step 10 is not rescaled. So M's replicates are .2 -+ .1 sqrt(2) and .2, and
    # with 2 + 1 - 1 = 2 units (t with 1 degree of freedom) the bounds are the extremes.
    df = samples([("a", 0, "p", 0.2), ("a", 0, "p", 0.4), ("a", 10, "p", 0.5)])
    reps = paired_drift_replicates(df, 0, 10, n_boot=4000, seed=0)[:, 0]
    values, counts = np.unique(reps.round(12), return_counts=True)
    np.testing.assert_allclose(values, [0.2 - 0.1 * 2**0.5, 0.2, 0.2 + 0.1 * 2**0.5])
    np.testing.assert_allclose(counts / 4000, [0.25, 0.5, 0.25], atol=0.03)
    lo, hi = bootstrap_drift_interval(df, 0, 10, n_boot=4000)["support"]
    assert (lo, hi) == pytest.approx((0.2 - 0.1 * 2**0.5, 0.2 + 0.1 * 2**0.5))


def test_drift_interval_is_deterministic_per_seed_and_order_free() -> None:
    df = _synthetic(12, steps=(0, 5, 9))
    df.loc[df["step"] == 9, "p_support"] = df["p_support"] * 0.5
    first = bootstrap_drift_interval(df, 0, 9, n_boot=300, seed=7)
    assert first == bootstrap_drift_interval(df, 0, 9, n_boot=300, seed=7)
    # Row order and rows at other steps do not matter.
    shuffled = df[df["step"] != 5].sample(frac=1.0, random_state=3)
    assert first == bootstrap_drift_interval(shuffled, 0, 9, n_boot=300, seed=7)
    assert first != bootstrap_drift_interval(df, 0, 9, n_boot=300, seed=8)
    np.testing.assert_array_equal(paired_drift_replicates(df, 0, 9, n_boot=50, seed=1),
                                  paired_drift_replicates(df, 0, 9, n_boot=50, seed=1))


def test_drift_interval_drops_prompts_missing_at_either_step() -> None:
    base = _shifted([0.1, 0.3, 0.5, 0.7], shift=0.1, noise=(-0.05, 0.05))
    extra = samples([("a", 0, "only_from", 0.9), ("a", 10, "only_to", 0.0),
                     ("a", 10, "p0", np.nan)])  # an unjudged sample is a missing sample
    extra.loc[2, ["p_neutral", "p_oppose"]] = np.nan
    with_extra = pd.concat([base, extra], ignore_index=True)
    assert (bootstrap_drift_interval(with_extra, 0, 10, n_boot=400)
            == bootstrap_drift_interval(base, 0, 10, n_boot=400))


def test_drift_interval_edge_cases_and_arguments() -> None:
    df = _shifted([0.1, 0.3], shift=0.2, noise=(-0.05, 0.05))
    np.testing.assert_array_equal(paired_drift_replicates(df, 10, 10, n_boot=5), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="no judged samples at step 3"):
        bootstrap_drift_interval(df, 0, 3)
    with pytest.raises(ValueError, match="one topic"):
        bootstrap_drift_interval(pd.concat([df, df.assign(topic="b")]), 0, 10)
    with pytest.raises(ValueError, match="no prompt judged at both steps"):
        renamed = np.where(df["step"] == 10, "new_" + df["prompt_id"], df["prompt_id"])
        bootstrap_drift_interval(df.assign(prompt_id=renamed), 0, 10)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_drift_interval(df, 0, 10, confidence=1.0)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_drift_interval(df, 0, 10, n_boot=0)


def test_drift_interval_is_fast_enough() -> None:
    rng = np.random.default_rng(0)
    n_p, n_s = 55, 4
    p = rng.dirichlet([1.0, 1.0, 1.0], size=2 * n_p * n_s)
    df = pd.DataFrame(
        {
            "topic": "t",
            "step": np.repeat([0, 100], n_p * n_s),
            "prompt_id": np.tile(np.repeat([f"p{i}" for i in range(n_p)], n_s), 2),
            "sample_idx": np.tile(np.arange(n_s), 2 * n_p),
            "p_support": p[:, 0],
            "p_neutral": p[:, 1],
            "p_oppose": p[:, 2],
        }
    )
    bootstrap_drift_interval(df, 0, 100, n_boot=10)  # warm up imports and caches
    start = time.process_time()  # CPU time: robust to other load on the machine
    bootstrap_drift_interval(df, 0, 100, n_boot=1000)
    assert time.process_time() - start < 0.1


def test_run_metrics_reports_a_paired_interval_for_each_drift(example_store: Path) -> None:
    from vdbench.metrics.report import ALL_TOPICS, run_metrics
    from vdbench.store import Store

    store = Store(example_store)
    keys = {"M", "M_ci", "v_from", "v_to", "eta", "direction", "extreme_value",
            "extreme_fraction", "extreme_ci", "first_step"}
    for run in ("sft", "dpo"):
        report = run_metrics(store, run, n_boot=200)
        assert ALL_TOPICS in {d["topic"] for d in report["drift"]}
        for d in report["drift"]:
            for s, e in d["stances"].items():
                assert set(e) == keys
                lo, hi = e["M_ci"]
                assert lo <= e["M"] <= hi, (run, d["topic"], s)
                assert hi - lo < 0.4
    # The moved stances' intervals exclude 0; --from-step/--to-step get their own interval,
    # the same as the drift's when the steps are the stage's ends.
    overall = next(d for d in report["drift"] if d["topic"] == ALL_TOPICS)
    assert overall["stances"]["support"]["M_ci"][0] > 0
    assert overall["stances"]["neutral"]["M_ci"][1] < 0
    ends = run_metrics(store, "dpo", n_boot=200, from_step=0, to_step=800)["between"]
    assert ends["M_ci"][ALL_TOPICS] == {s: e["M_ci"] for s, e in overall["stances"].items()}
    mid = run_metrics(store, "dpo", n_boot=200, from_step=300)["between"]
    for topic, m in mid["M"].items():
        for s, v in m.items():
            lo, hi = mid["M_ci"][topic][s]
            assert lo <= v <= hi, (topic, s)


# ---------------------------------------------------------------- drift time

F5 = [0.0, 0.25, 0.5, 0.75, 1.0]


def test_drift_time_flat_curve_is_zero() -> None:
    dt = drift_time(F5, [0.3] * 5, [0.2] * 5, [0.4] * 5, steps=[0, 10, 20, 30, 40])
    assert dt == DriftTime(0.0, "flat", 0.3, 0.0, 0.2, 0.4, 0)


def test_drift_time_monotone_rise() -> None:
    # Peak .5 at 1.0, CI [.35, .55]: .1, .2, .3 are outside, .4 (fraction .75) is first inside.
    lo, hi = [0.0, 0.1, 0.2, 0.3, 0.35], [0.2, 0.3, 0.4, 0.5, 0.55]
    dt = drift_time(F5, [0.1, 0.2, 0.3, 0.4, 0.5], lo, hi, steps=[0, 5, 10, 15, 20])
    assert (dt.eta, dt.direction, dt.extreme_value, dt.extreme_fraction) == (
        0.75,
        "rising",
        0.5,
        1.0,
    )
    assert (dt.ci_lo, dt.ci_hi, dt.first_step) == (0.35, 0.55, 15)


def test_drift_time_monotone_fall() -> None:
    # Trough .25 at 1.0, CI [.2, .45]: .8, .6 outside, .4 (fraction .5) first inside.
    dt = drift_time(F5, [0.8, 0.6, 0.4, 0.3, 0.25], [0.0] * 4 + [0.2], [1.0] * 4 + [0.45])
    assert (dt.eta, dt.direction, dt.extreme_value, dt.first_step) == (0.5, "falling", 0.25, 2)


def test_drift_time_rise_then_fall_uses_the_peak() -> None:
    # Up .6 vs down 0: rising; peak .7 at .5 with CI [.45, .8]; .5 at .25 is first inside.
    dt = drift_time(
        F5, [0.1, 0.5, 0.7, 0.4, 0.2], [0.0, 0.0, 0.45, 0.0, 0.0], [1.0, 1.0, 0.8, 1.0, 1.0]
    )
    assert (dt.eta, dt.direction, dt.extreme_value, dt.extreme_fraction) == (
        0.25,
        "rising",
        0.7,
        0.5,
    )


def test_drift_time_direction_is_the_larger_excursion() -> None:
    # From .5: down to .2 (.3) then up to .9 (.4): rising, peak .9.
    dt = drift_time([0, 0.5, 1], [0.5, 0.2, 0.9], [0, 0, 0.85], [1, 1, 0.95])
    assert (dt.direction, dt.extreme_value, dt.eta) == ("rising", 0.9, 1.0)
    # Up .4 to .9, then down to .4 (net -.1, min only .1 below v0): still rising, peak .9.
    dt = drift_time([0, 0.5, 1], [0.5, 0.9, 0.4], [0, 0.85, 0], [1, 0.95, 1])
    assert (dt.direction, dt.extreme_value, dt.eta) == ("rising", 0.9, 0.5)
    # Tie (.25 up, .25 down): the net change (.25 - .5 < 0) decides: falling, trough .25.
    dt = drift_time([0, 0.5, 1], [0.5, 0.75, 0.25], [0, 0, 0.2], [1, 1, 0.3])
    assert (dt.direction, dt.extreme_value, dt.eta) == ("falling", 0.25, 1.0)


def test_drift_time_noisy_plateau_is_early() -> None:
    # Rises early then plateaus with noise: the max .63 sits at .8, but .60 at .2 is
    # already inside its CI [.56, .70], so η = .2, not .8.
    f = [0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0]
    v = [0.10, 0.40, 0.60, 0.57, 0.61, 0.63, 0.59]
    lo = [x - 0.07 for x in v]
    hi = [x + 0.07 for x in v]
    dt = drift_time(f, v, lo, hi)
    assert dt.extreme_fraction == 0.8
    assert dt.eta == 0.2
    assert dt.first_step == 2
    assert dt.ci_lo == pytest.approx(0.56) and dt.ci_hi == pytest.approx(0.70)


def test_drift_time_single_checkpoint_and_empty() -> None:
    dt = drift_time([0.0], [0.4], [0.3], [0.5], steps=[100])
    assert dt == DriftTime(0.0, "flat", 0.4, 0.0, 0.3, 0.5, 100)
    with pytest.raises(ValueError):
        drift_time([], [], [], [])
    with pytest.raises(ValueError):
        drift_time([0.0, 1.0], [0.1], [0.0], [0.2])


def test_drift_time_extreme_outside_its_own_ci_and_unordered_input() -> None:
    # The peak .5 lies above its (odd) CI [.6, .7]: the interval widens to [.5, .7].
    dt = drift_time([1.0, 0.0], [0.5, 0.1], [0.6, 0.0], [0.7, 0.2], steps=[8, 0])
    assert (dt.eta, dt.first_step, dt.ci_lo, dt.ci_hi) == (1.0, 8, 0.5, 0.7)
    # NaN bounds collapse onto the extreme value.
    dt = drift_time([0.0, 1.0], [0.1, 0.5], [np.nan, np.nan], [np.nan, np.nan])
    assert (dt.eta, dt.ci_lo, dt.ci_hi) == (1.0, 0.5, 0.5)


# ---------------------------------------------------------------- stage drift


def _stage() -> pd.DataFrame:
    rows = {
        # topic, step, fraction, then (v, lo, hi) for support, neutral, oppose
        ("a", 0, 0.0): [(0.2, 0.1, 0.3), (0.6, 0.5, 0.7), (0.2, 0.1, 0.3)],
        ("a", 50, 0.5): [(0.5, 0.4, 0.6), (0.35, 0.3, 0.4), (0.15, 0.1, 0.2)],
        ("a", 100, 1.0): [(0.6, 0.5, 0.7), (0.25, 0.1, 0.3), (0.15, 0.1, 0.22)],
        ("b", 0, 0.0): [(0.3, 0.2, 0.4), (0.4, 0.3, 0.5), (0.3, 0.2, 0.4)],
        ("b", 50, 0.5): [(0.3, 0.2, 0.4), (0.5, 0.4, 0.6), (0.2, 0.1, 0.3)],
        ("b", 100, 1.0): [(0.3, 0.2, 0.4), (0.7, 0.65, 0.75), (0.2, 0.1, 0.3)],
    }
    records = []
    for (topic, step, frac), cells in rows.items():
        rec: dict[str, object] = {"topic": topic, "step": step, "fraction": frac}
        for s, (v, lo, hi) in zip(("support", "neutral", "oppose"), cells, strict=True):
            rec |= {f"v_{s}": v, f"{s}_lo": lo, f"{s}_hi": hi}
        records.append(rec)
    return pd.DataFrame(records).iloc[::-1]  # reversed: stage_drift must order by step


def test_stage_drift_per_topic_and_stance() -> None:
    out = stage_drift(_stage()).set_index(["topic", "stance"])
    assert len(out) == 6
    a_s, a_n, a_o = out.loc[("a", "support")], out.loc[("a", "neutral")], out.loc[("a", "oppose")]
    # a/support .2 -> .5 -> .6: peak .6, CI [.5, .7], .5 enters at .5.
    assert (a_s["M"], a_s["eta"], a_s["direction"]) == (pytest.approx(0.4), 0.5, "rising")
    # a/neutral .6 -> .35 -> .25: trough .25, CI [.1, .3]: only the last is inside.
    assert (a_n["M"], a_n["eta"], a_n["direction"]) == (pytest.approx(-0.35), 1.0, "falling")
    # a/oppose .2 -> .15 -> .15: trough .15 (first, at .5), CI [.1, .2]: .2 at 0 is inside.
    assert (a_o["M"], a_o["eta"], a_o["extreme_fraction"]) == (pytest.approx(-0.05), 0.0, 0.5)
    assert (a_s["step_from"], a_s["step_to"], a_s["v_from"], a_s["v_to"]) == (0, 100, 0.2, 0.6)
    # b/support is flat; b/neutral .4 -> .7 with CI [.65, .75] enters only at the end.
    assert (out.loc[("b", "support"), "eta"], out.loc[("b", "support"), "direction"]) == (
        0.0,
        "flat",
    )
    assert (out.loc[("b", "neutral"), "eta"], out.loc[("b", "neutral"), "first_step"]) == (1.0, 100)
    dominant = out.index[out["dominant"]].tolist()
    assert dominant == [("a", "support"), ("b", "neutral")]
    dom = dominant_drift(stage_drift(_stage()))
    assert list(zip(dom["topic"], dom["stance"], strict=True)) == [
        ("a", "support"),
        ("b", "neutral"),
    ]


def test_stage_drift_derives_fraction_from_steps_and_breaks_ties_in_stance_order() -> None:
    stage = _stage().drop(columns="fraction")
    stage["step"] = stage["step"] + 1000  # 1000, 1050, 1100 -> fractions 0, .5, 1
    out = stage_drift(stage).set_index(["topic", "stance"])
    assert out.loc[("a", "support"), "eta"] == 0.5
    tie = pd.DataFrame(
        {
            "topic": ["t", "t"],
            "step": [0, 1],
            "v_support": [0.5, 0.25],
            "v_neutral": [0.25, 0.5],
            "v_oppose": [0.25, 0.25],
        }
    )
    for s in ("support", "neutral", "oppose"):
        tie[f"{s}_lo"], tie[f"{s}_hi"] = tie[f"v_{s}"], tie[f"v_{s}"]
    assert dominant_drift(stage_drift(tie))["stance"].tolist() == ["support"]


def test_stage_drift_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="oppose_hi"):
        stage_drift(_stage().drop(columns="oppose_hi"))
    with pytest.raises(ValueError, match="one stage"):
        stage_drift(pd.concat([_stage(), _stage()]))


def test_end_to_end_from_samples_to_stage_drift() -> None:
    # Support rises from .2 to .8 then plateaus: M = +.6. Prompts sit at level +-.05, so the
    # 95% CI of the .8 peak is about +-.035 wide: .79 (3rd checkpoint) is inside, .5 is not.
    levels = {0: 0.2, 10: 0.5, 20: 0.79, 30: 0.8, 40: 0.8}
    rows = [
        ("a", s, f"p{i}", lv + (0.05 if i % 2 else -0.05) + d)
        for s, lv in levels.items()
        for i in range(8)
        for d in (-0.02, 0.0, 0.02)
    ]
    df = samples(rows, fraction=0.0)
    df["fraction"] = df["step"] / 40
    out = stage_drift(bootstrap_topic_values(df, n_boot=400)).set_index("stance")
    assert out.loc["support", "M"] == pytest.approx(0.6)
    assert out.loc["support", "eta"] == 0.5
    assert out.loc["support", "dominant"]
    assert out.loc["neutral", "M"] == pytest.approx(-0.6)
    assert out.loc["oppose", "direction"] == "flat"
