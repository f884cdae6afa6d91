"""Misclassification-corrected values: hand-computed cases, refusals, the CLI block, and
(slow) interval coverage in a small simulation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vdbench.errors import InputError
from vdbench.evalsets.topics import STANCES
from vdbench.metrics import paired_drift_replicates, topic_values
from vdbench.metrics.corrected import (
    MAX_CONDITION,
    check_label_counts,
    corrected_drift,
    corrected_shares,
    corrected_topic_values,
    label_codes,
    paired_endpoint_replicates,
    project_to_simplex,
    rescale,
    select_reference,
    soft_confusion,
    value_replicates,
)

ONE_HOT = {s: tuple(float(s == t) for t in STANCES) for s in STANCES}


def judged(rows: list[tuple[str, int, str, tuple[float, float, float]]]) -> pd.DataFrame:
    """(topic, step, prompt_id, probs) rows → judged samples, sample_idx counting per prompt."""
    df = pd.DataFrame(rows, columns=["topic", "step", "prompt_id", "p"])
    df["sample_idx"] = df.groupby(["topic", "step", "prompt_id"]).cumcount()
    for j, s in enumerate(STANCES):
        df[f"p_{s}"] = df["p"].map(lambda p, j=j: p[j])
    return df.drop(columns="p")


def swap_judge_prompt(true_counts: dict[str, int]) -> tuple[list[str], list[str]]:
    """True labels and a hard judge's labels that swap support ↔ oppose for 20 % of each."""
    truth, seen = [], []
    for s, n in true_counts.items():
        swapped = {"support": "oppose", "oppose": "support"}.get(s, s)
        n_swap = round(0.2 * n) if s != "neutral" else 0
        truth += [s] * n
        seen += [swapped] * n_swap + [s] * (n - n_swap)
    return truth, seen


# ------------------------------------------------------------------ hand-computed cases


def test_judge_swapping_support_and_oppose_20_percent_is_undone() -> None:
    # Each of 5 prompts: 25 support, 15 neutral, 10 oppose answers (true shares .5/.3/.2).
    # The judge calls 5 supports "oppose" and 2 opposes "support", so it reports
    # support (20 + 2)/50 = .44, neutral .30, oppose (5 + 8)/50 = .26. The labelled items
    # (prompt p0's 50 answers) give C = [[.8, 0, .2], [0, 1, 0], [.2, 0, .8]], and
    # C⁻ᵀ v = ((.8·.44 − .2·.26)/.6, .30, (.8·.26 − .2·.44)/.6) = (.5, .3, .2).
    truth, seen = swap_judge_prompt({"support": 25, "neutral": 15, "oppose": 10})
    samples = judged([("t", 0, f"p{k}", ONE_HOT[s]) for k in range(5) for s in seen])
    labelled = pd.DataFrame({"label": truth, **{f"p_{s}": [ONE_HOT[x][j] for x in seen]
                                                 for j, s in enumerate(STANCES)}})
    result = corrected_topic_values(samples, labelled, n_boot=200, seed=1)
    np.testing.assert_allclose(result.confusion.matrix,
                               [[0.8, 0.0, 0.2], [0.0, 1.0, 0.0], [0.2, 0.0, 0.8]], atol=1e-12)
    row = result.values.iloc[0]
    np.testing.assert_allclose([row[f"obs_{s}"] for s in STANCES], [0.44, 0.30, 0.26], atol=1e-12)
    np.testing.assert_allclose([row[f"v_{s}"] for s in STANCES], [0.5, 0.3, 0.2], atol=1e-12)
    assert not row["projected"] and result.confusion.solver == "inverse"
    assert result.confusion.counts.tolist() == [25, 15, 10]
    for s in STANCES:
        assert row[f"{s}_lo"] <= row[f"v_{s}"] <= row[f"{s}_hi"]


def test_perfect_judge_leaves_values_unchanged() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([2, 2, 2], size=40)
    samples = judged([("t", step, f"p{i % 8}", tuple(p)) for step in (0, 10)
                      for i, p in enumerate(probs[:20] if step == 0 else probs[20:])])
    labelled = pd.DataFrame({"label": list(STANCES) * 5,
                             **{f"p_{s}": [ONE_HOT[x][j] for x in list(STANCES) * 5]
                                for j, s in enumerate(STANCES)}})
    result = corrected_topic_values(samples, labelled, n_boot=100)
    np.testing.assert_allclose(result.confusion.matrix, np.eye(3))
    plain = topic_values(samples)
    for s in STANCES:
        np.testing.assert_allclose(result.values[f"v_{s}"], plain[f"v_{s}"], atol=1e-12)
        np.testing.assert_allclose(result.values[f"obs_{s}"], plain[f"v_{s}"], atol=1e-12)
    assert not result.values["projected"].any()
    m = corrected_drift(samples, result, 0, 10)
    for s in STANCES:
        want = plain[f"v_{s}"].iloc[1] - plain[f"v_{s}"].iloc[0]
        assert m[s]["M"] == pytest.approx(want, abs=1e-12)
        assert m[s]["M_ci"][0] <= m[s]["M"] <= m[s]["M_ci"][1]


def test_corrected_drift_undoes_the_swap_at_both_ends() -> None:
    # True shares .5/.3/.2 at step 0 and .2/.3/.5 at step 10: true M = (−.3, 0, +.3); the
    # swapping judge sees (.44, .30, .26) → (.26, .30, .44), M = (−.18, 0, +.18).
    truth0, seen0 = swap_judge_prompt({"support": 25, "neutral": 15, "oppose": 10})
    _, seen1 = swap_judge_prompt({"support": 10, "neutral": 15, "oppose": 25})
    samples = judged([("t", step, f"p{k}", ONE_HOT[s]) for step, seen in ((0, seen0), (10, seen1))
                      for k in range(4) for s in seen])
    labelled = pd.DataFrame({"label": truth0, **{f"p_{s}": [ONE_HOT[x][j] for x in seen0]
                                                  for j, s in enumerate(STANCES)}})
    result = corrected_topic_values(samples, labelled, n_boot=200)
    m = corrected_drift(samples, result, 0, 10)
    assert [m[s]["M"] for s in STANCES] == pytest.approx([-0.3, 0.0, 0.3], abs=1e-12)


def test_projection_onto_the_simplex_by_hand() -> None:
    # [.6, .6, −.2]: τ = (.6 + .6 − 1)/2 = .1 → [.5, .5, 0]. [2, 0, 0] → [1, 0, 0].
    out = project_to_simplex(np.array([[0.6, 0.6, -0.2], [0.2, 0.3, 0.5], [2.0, 0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])


def test_absent_true_class_is_least_squares_then_projected() -> None:
    # Labels cover support and neutral only, judged perfectly: C's rows [1,0,0], [0,1,0].
    # v = (.5, .3, .2): least squares gives (.5, .3), projected onto the 2-simplex (+.1
    # each) → (.6, .4); oppose, absent from the labels, gets 0.
    confusion = soft_confusion(np.array([ONE_HOT["support"]] * 6 + [ONE_HOT["neutral"]] * 6),
                               label_codes(["support"] * 6 + ["neutral"] * 6))
    assert confusion.solver == "least squares" and confusion.classes.tolist() == [0, 1]
    assert np.isnan(confusion.matrix[2]).all()
    shares, moved = corrected_shares(np.array([0.5, 0.3, 0.2]), confusion.present, confusion.classes)
    np.testing.assert_allclose(shares, [0.6, 0.4, 0.0])
    assert moved


def test_singular_confusion_gives_the_minimum_norm_split() -> None:
    # The judge cannot tell neutral from oppose (identical rows): π_s = .4 is identified,
    # only π_n + π_o = .6 is; least squares splits it evenly.
    probs = np.array([[1, 0, 0]] * 5 + [[0, 0.5, 0.5]] * 10, dtype=float)
    confusion = soft_confusion(probs, label_codes(["support"] * 5 + ["neutral"] * 5 + ["oppose"] * 5))
    assert confusion.condition > MAX_CONDITION and confusion.solver == "least squares"
    shares, _ = corrected_shares(np.array([0.4, 0.3, 0.3]), confusion.present, confusion.classes)
    np.testing.assert_allclose(shares, [0.4, 0.3, 0.3], atol=1e-9)


# ------------------------------------------------------------------ refusals


def test_too_few_labels_names_how_many_are_needed_and_had() -> None:
    with pytest.raises(InputError) as err:
        check_label_counts(np.array([6, 3, 0]), 5)
    text = str(err.value)
    assert "at least 5 per true stance present" in text
    assert "support 6, neutral 3, oppose 0" in text and "short: neutral" in text
    assert "vdbench tui" in text and "--min-labels-per-class" in text
    check_label_counts(np.array([6, 3, 0]), 3)  # fine with a lower minimum
    with pytest.raises(InputError, match="cover 1 true stance"):
        check_label_counts(np.array([40, 0, 0]), 5)


def test_corrected_values_refuse_too_few_labels() -> None:
    samples = judged([("t", 0, "p0", ONE_HOT["support"])] * 3)
    labelled = pd.DataFrame({"label": ["support"] * 5 + ["oppose"] * 2,
                             "p_support": 1.0, "p_neutral": 0.0, "p_oppose": 0.0})
    with pytest.raises(InputError, match=r"need at least 5 per true stance present, have "
                                         r"support 5, neutral 0, oppose 2"):
        corrected_topic_values(samples, labelled, n_boot=10)


def labels_frame(rows: list[tuple[int, str, str, str]]) -> pd.DataFrame:
    """(sample_id, source, label, created_at) → what queries.labelled_judgments returns."""
    df = pd.DataFrame(rows, columns=["sample_id", "source", "label", "created_at"])
    df["created_at"] = pd.to_datetime(df["created_at"])
    df["run_id"], df["topic"] = "r", "t"
    df["p_support"], df["p_neutral"], df["p_oppose"] = 0.5, 0.3, 0.2
    return df


def test_no_labels_says_how_to_get_some() -> None:
    with pytest.raises(InputError) as err:
        select_reference(labels_frame([]), None, "probe@x")
    text = str(err.value)
    assert "no reference labels" in text and "vdbench tui" in text and "labelling mode" in text
    assert "vdbench calibrate" in text


def test_reference_choice_prefers_humans_majority_then_newest_source() -> None:
    rows = labels_frame([
        (1, "human:a", "support", "2024-01-01"), (1, "human:b", "oppose", "2024-01-02"),
        (1, "human:c", "oppose", "2024-01-03"), (2, "human:a", "neutral", "2024-01-01"),
        (2, "human:b", "support", "2024-01-05"),  # tie → the newest label
        (1, "openai:gpt-4o@h", "neutral", "2024-02-01"), (3, "openai:old@h", "support", "2023-01-01"),
    ])
    items, name, sources = select_reference(rows, None, "j")
    assert name == "human" and sources == ["human:a", "human:b", "human:c"]
    assert items.set_index("sample_id")["label"].to_dict() == {1: "oppose", 2: "support"}
    assert items["n_annotators"].tolist() == [3, 2]
    items, name, _ = select_reference(rows, "openai:gpt-4o@h", "j")
    assert name == "openai:gpt-4o@h" and items["label"].tolist() == ["neutral"]
    _, name, _ = select_reference(rows[~rows["source"].str.startswith("human:")], None, "j")
    assert name == "openai:gpt-4o@h"  # the source with the newest label
    with pytest.raises(InputError, match="no labels from reference 'openai:gpt-5'") as err:
        select_reference(rows, "openai:gpt-5", "j")
    assert "human:a (2)" in str(err.value)


# ------------------------------------------------------------------ the bootstrap


def soft_world(n_labels: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Soft judge with a known confusion; 20 prompts × 4 samples at two steps."""
    rng = np.random.default_rng(seed)
    conf = np.array([[0.7, 0.2, 0.1], [0.15, 0.7, 0.15], [0.1, 0.2, 0.7]])
    rows, labels = [], []
    for step, share in ((0, [0.5, 0.3, 0.2]), (10, [0.3, 0.3, 0.4])):
        for i in range(80):
            true = rng.choice(3, p=share)
            rows.append(("t", step, f"p{i % 20}", tuple(rng.dirichlet(8 * conf[true]))))
    for k in range(n_labels):
        true = k % 3
        labels.append((STANCES[true], *rng.dirichlet(8 * conf[true])))
    labelled = pd.DataFrame(labels, columns=["label", *(f"p_{s}" for s in STANCES)])
    return judged(rows), labelled


def test_interval_carries_the_judge_uncertainty() -> None:
    # Same samples, same judge: 5 labels per class leave C uncertain, 1000 pin it down.
    samples, few = soft_world(15)
    _, many = soft_world(3000)
    width = {}
    for name, labelled in (("few", few), ("many", many)):
        v = corrected_topic_values(samples, labelled, n_boot=400).values
        width[name] = np.mean([(v[f"{s}_hi"] - v[f"{s}_lo"]).mean() for s in STANCES])
        for s in STANCES:
            assert ((v[f"{s}_lo"] <= v[f"v_{s}"]) & (v[f"v_{s}"] <= v[f"{s}_hi"])).all()
    assert width["few"] > 1.15 * width["many"]


def test_corrected_bootstrap_is_deterministic_per_seed() -> None:
    samples, labelled = soft_world(60)
    a = corrected_topic_values(samples, labelled, n_boot=100, seed=3).values
    b = corrected_topic_values(samples.sample(frac=1, random_state=1), labelled, n_boot=100, seed=3).values
    c = corrected_topic_values(samples, labelled, n_boot=100, seed=4).values
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["support_lo"], c["support_lo"])


def test_rescale_and_prompt_replicates_have_the_unbiased_variance() -> None:
    np.testing.assert_allclose(rescale(np.array([0.0, 2.0]), np.array(1.0), 2),
                               [1 - np.sqrt(2), 1 + np.sqrt(2)])
    # Two prompts with means 0 and 1 (2 samples each): s² = 1/2, so Var(mean) = s²/P = 1/4.
    probs = np.array([[0.0, 1, 0], [0.0, 1, 0], [1.0, 0, 0], [1.0, 0, 0]])
    reps = value_replicates(probs, np.array([0, 0, 1, 1]), 20000, np.random.default_rng(0))
    assert reps[:, 0].var() == pytest.approx(0.25, rel=0.05)


def test_endpoints_are_the_plain_paired_drift_replicates() -> None:
    # One implementation: the corrected M's endpoints are the plain M's draws, per design.
    samples, _ = soft_world(0)
    for design in ("prompts", "two-stage"):
        v_from, v_to = paired_endpoint_replicates(samples, 0, 10, 300, seed=5, design=design)
        np.testing.assert_allclose(
            v_to - v_from, paired_drift_replicates(samples, 0, 10, 300, seed=5, design=design))


# ------------------------------------------------------------------ the store and the CLI


def vd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdbench.cli", *args], capture_output=True, text=True)


def add_labels(path: Path, n: int, source: str = "human:tester", wrong_every: int = 5) -> dict[str, int]:
    """Label n of run sft's judged samples with the judge's argmax (every k-th one shifted)."""
    from vdbench.store import Store

    store = Store(str(path))
    with store.write() as con:
        rows = con.execute("SELECT sample_id, label FROM judgments WHERE run_id = 'sft' "
                           "ORDER BY hash(sample_id) LIMIT ?", [n]).fetchall()
        counts = dict.fromkeys(STANCES, 0)
        for k, (sample_id, label) in enumerate(rows):
            if k % wrong_every == 0:
                label = STANCES[(STANCES.index(label) + 1) % 3]
            counts[label] += 1
            con.execute("INSERT INTO reference_labels (source, sample_id, label, p_support, "
                        "p_neutral, p_oppose) VALUES (?, ?, ?, ?, ?, ?)",
                        [source, sample_id, label, *ONE_HOT[label]])
    return counts


@pytest.fixture
def labelled_store(example_store: Path, tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "labelled.duckdb"
    shutil.copy(example_store, path)
    return path, add_labels(path, 150)


def test_metrics_corrected_json(labelled_store: tuple[Path, dict[str, int]]) -> None:
    path, counts = labelled_store
    out = vd("metrics", "--db", str(path), "--run", "sft", "--corrected", "--json", "--n-boot", "100")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    block = report["corrected"]
    assert block["reference"] == "human" and block["sources"] == ["human:tester"]
    assert block["n_labels_per_class"] == counts and block["n_labels"] == 150
    matrix = np.array(block["confusion"]["matrix"])
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    assert block["solver"] in ("inverse", "least squares") and block["condition_number"] >= 1
    assert len(block["values"]) == len(report["values"])
    for row in block["values"]:
        assert sum(row["v"].values()) == pytest.approx(1.0)
        for s in STANCES:
            lo, hi = row["ci"][s]
            assert 0 <= lo <= hi <= 1
    observed = {(r["topic"], r["step"]): r["v"] for r in report["values"]}
    assert all(r["observed"] == pytest.approx(observed[(r["topic"], r["step"])]) for r in block["values"])
    drift = {d["topic"]: d for d in block["drift"]}
    assert set(drift) == {d["topic"] for d in report["drift"]}
    for s in STANCES:
        m = drift["(all topics)"]["stances"][s]
        assert m["M_ci"][0] <= m["M"] <= m["M_ci"][1]
    text = vd("metrics", "--db", str(path), "--run", "sft", "--corrected", "--n-boot", "50")
    assert text.returncode == 0 and "judge confusion C" in text.stdout and "corrected drift" in text.stdout


def test_corrected_with_calibration_keeps_the_reference_labels(
    labelled_store: tuple[Path, dict[str, int]],
) -> None:
    from vdbench.metrics.report import run_metrics
    from vdbench.store import Store

    path, counts = labelled_store
    store = Store(str(path))
    with store.write() as con:
        con.execute("INSERT INTO calibrations (calibration_id, judge_id, reference, method, params, "
                    "report) VALUES ('cal-1', 'example:synthetic', 'human', 'temperature', "
                    "'{\"method\": \"temperature\", \"T\": 0.5}', '{}')")
    block = run_metrics(store, "sft", n_boot=50, calibrated=True, corrected=True)["corrected"]
    assert block["n_labels_per_class"] == counts  # not the calibrated judge's argmax


@pytest.mark.parametrize("args,message", [
    ([], "vdbench tui"),
    (["--reference", "human"], "--reference chooses the labels for --corrected"),
])
def test_metrics_corrected_without_labels_is_clear(example_store: Path, args: list[str],
                                                    message: str) -> None:
    extra = [] if args else ["--corrected"]
    out = vd("metrics", "--db", str(example_store), "--run", "sft", *extra, *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    if not args:
        assert "vdbench calibrate" in out.stderr


def test_metrics_corrected_refusals(example_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "few.duckdb"
    shutil.copy(example_store, path)
    add_labels(path, 6)
    out = vd("metrics", "--db", str(path), "--run", "sft", "--corrected")
    assert out.returncode == 2 and "need at least 5" in out.stderr and "Traceback" not in out.stderr
    out = vd("metrics", "--db", str(path), "--run", "sft", "--corrected", "--reference", "openai:x")
    assert out.returncode == 2 and "no labels from reference 'openai:x'" in out.stderr
    assert "human:tester (6)" in out.stderr


# ------------------------------------------------------------------ coverage (slow)


@pytest.mark.slow
def test_interval_coverage_small_simulation() -> None:
    """A small run of benchmarks/bench_interval_coverage.py: what metrics reports covers."""
    from benchmarks.bench_interval_coverage import World, run_study

    tally = run_study(World(), n_runs=80, n_boot=200, seed=11)
    assert tally.runs == 80
    reported = {c: h for c, h in tally.hits.items() if c.endswith("*")}  # what metrics prints
    assert len(reported) == 6
    for check, hits in reported.items():
        # 95 % intervals: fewer than 68/80 hits has probability < 0.3 % each.
        assert (hits >= 68).all(), (check, hits.tolist())
