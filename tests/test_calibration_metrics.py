"""Calibration maths on hand-computed cases, scaling fits on synthetic judges, and the
store side of calibration (sampling, human labels, stored fits, --calibrated)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vdbench.calibration import (
    agreement,
    agreement_report,
    apply_calibration,
    apply_latest_calibration,
    brier_score,
    calibrate_frame,
    cohens_kappa,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    fit_vector,
    load_calibration,
    macro_f1,
    negative_log_likelihood,
    per_class_f1,
    reliability_bins,
)
from vdbench.calibration import run as cal
from vdbench.calibration.scaling import cross_validated_probs
from vdbench.cli import main
from vdbench.errors import InputError
from vdbench.store import Store

REF = ["support", "support", "neutral", "oppose", "oppose", "oppose"]
PRED = ["support", "neutral", "neutral", "oppose", "support", "oppose"]


# ---------------------------------------------------------------- agreement


def test_confusion_rows_are_reference_columns_are_judge() -> None:
    assert confusion_matrix(REF, PRED).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert confusion_matrix([0, 2], [2, 2]).tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 1]]


def test_agreement_f1_and_kappa_by_hand() -> None:
    assert agreement(REF, PRED) == pytest.approx(4 / 6)
    # support: tp 1, 2 ref, 2 pred → 0.5; neutral: 1, 1, 2 → 2/3; oppose: 2, 3, 2 → 0.8
    assert per_class_f1(REF, PRED) == pytest.approx([0.5, 2 / 3, 0.8])
    assert macro_f1(REF, PRED) == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    # p_o = 4/6; marginals ref (2,1,3)/6, judge (2,2,2)/6 → p_e = 12/36; κ = (2/3−1/3)/(2/3)
    assert cohens_kappa(REF, PRED) == pytest.approx(0.5)


def test_macro_f1_leaves_out_a_stance_nobody_used() -> None:
    assert macro_f1(["support", "neutral"], ["support", "neutral"]) == 1.0
    assert math.isnan(per_class_f1(["support"], ["support"])[2])


def test_kappa_undefined_when_both_always_say_the_same_stance() -> None:
    assert math.isnan(cohens_kappa(["neutral"] * 4, ["neutral"] * 4))
    report = agreement_report([[0.1, 0.8, 0.1]] * 4, ["neutral"] * 4)
    assert report["cohens_kappa"] is None  # JSON null, never NaN
    json.dumps(report, allow_nan=False)


def test_kappa_is_negative_for_systematic_disagreement() -> None:
    assert cohens_kappa(["support", "oppose"] * 3, ["oppose", "support"] * 3) == pytest.approx(-1.0)


def test_unknown_label_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown stance label 'agree'"):
        agreement(["agree"], ["support"])


# ---------------------------------------------------------------- calibration error


ECE_PROBS = [
    [0.9, 0.05, 0.05],  # confident support, right
    [0.9, 0.05, 0.05],  # confident support, wrong (neutral)
    [0.2, 0.6, 0.2],  # neutral at 0.6, right
    [0.45, 0.1, 0.45],  # tie → support (first), wrong (oppose); confidence 0.45
]
ECE_REF = ["support", "neutral", "neutral", "oppose"]


def test_ece_by_hand() -> None:
    # bin (0.8, 0.9]: 2 rows, acc 0.5, conf 0.9 → 2/4·0.4; bin (0.5, 0.6]: acc 1, conf 0.6
    # → 1/4·0.4; bin (0.4, 0.5]: acc 0, conf 0.45 → 1/4·0.45.
    assert expected_calibration_error(ECE_PROBS, ECE_REF) == pytest.approx(0.2 + 0.1 + 0.1125)
    bins = reliability_bins(ECE_PROBS, ECE_REF)
    assert [b["count"] for b in bins] == [0, 0, 0, 0, 1, 1, 0, 0, 2, 0]
    assert bins[8]["accuracy"] == 0.5 and bins[8]["confidence"] == pytest.approx(0.9)
    # Two bins: (0, 0.5] holds the 0.45 row, (0.5, 1] the other three (acc 2/3, conf 0.8).
    assert expected_calibration_error(ECE_PROBS, ECE_REF, n_bins=2) == pytest.approx(
        0.25 * 0.45 + 0.75 * abs(2 / 3 - 0.8)
    )


def test_bins_are_right_closed_despite_float_rounding() -> None:
    # 0.7·10 is 7.000000000000001 in floating point; it still belongs to (0.6, 0.7].
    bins = reliability_bins([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], ["support", "oppose"])
    assert bins[6]["count"] == 1 and bins[7]["count"] == 1


def test_nll_and_brier_by_hand() -> None:
    probs = [[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]
    ref = ["support", "oppose"]
    assert negative_log_likelihood(probs, ref) == pytest.approx(
        -(math.log(0.5) + math.log(0.8)) / 2
    )
    # (0.25 + 0.0625 + 0.0625) and (0.01 + 0.01 + 0.04)
    assert brier_score(probs, ref) == pytest.approx((0.375 + 0.06) / 2)
    assert math.isfinite(negative_log_likelihood([[1.0, 0.0, 0.0]], ["oppose"]))  # clipped


# ---------------------------------------------------------------- scaling


def test_apply_temperature_and_vector_by_hand() -> None:
    p = np.array([[0.5, 0.25, 0.25]])
    # softmax(log p / 2) = sqrt(p) renormalised
    root = np.sqrt(p) / np.sqrt(p).sum()
    assert apply_calibration(p, {"method": "temperature", "T": 2.0}) == pytest.approx(root)
    assert apply_calibration(p, {"method": "temperature", "T": 1.0}) == pytest.approx(p)
    uniform = np.full((1, 3), 1 / 3)
    vector = {"method": "vector", "scale": [1, 1, 1], "bias": [math.log(2), 0, 0]}
    assert apply_calibration(uniform, vector) == pytest.approx(np.array([[0.5, 0.25, 0.25]]))
    with pytest.raises(ValueError, match="unknown calibration method"):
        apply_calibration(p, {"method": "platt"})
    with pytest.raises(ValueError, match="positive"):
        apply_calibration(p, {"method": "temperature", "T": 0})


def overconfident_judge(n: int, sharpen: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated q; the judge reports softmax(sharpen · log q)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.2, size=(n, 3))
    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in q])
    judge = np.exp(sharpen * np.log(q))
    return judge / judge.sum(axis=1, keepdims=True), labels


def test_temperature_scaling_recovers_overconfidence_and_lowers_nll_and_ece() -> None:
    probs, labels = overconfident_judge(3000, sharpen=3.0)
    params = fit_temperature(probs, labels)
    assert params["T"] == pytest.approx(3.0, rel=0.12)
    fixed = apply_calibration(probs, params)
    assert negative_log_likelihood(fixed, labels) < negative_log_likelihood(probs, labels) - 0.1
    assert expected_calibration_error(fixed, labels) < 0.5 * expected_calibration_error(
        probs, labels
    )
    # Temperature never changes the argmax, so agreement is untouched.
    assert (fixed.argmax(axis=1) == probs.argmax(axis=1)).all()


def test_temperature_below_one_for_an_underconfident_judge() -> None:
    probs, labels = overconfident_judge(3000, sharpen=0.4, seed=1)
    assert fit_temperature(probs, labels)["T"] == pytest.approx(0.4, rel=0.15)


def test_vector_scaling_corrects_a_judge_biased_toward_support() -> None:
    probs, labels = overconfident_judge(3000, sharpen=1.0, seed=2)
    biased = probs * np.array([4.0, 1.0, 1.0])
    biased /= biased.sum(axis=1, keepdims=True)
    params = fit_vector(biased, labels)
    fixed = apply_calibration(biased, params)
    # The bias needed is about −log 4 for support relative to the others.
    assert params["bias"][0] - np.mean(params["bias"][1:]) == pytest.approx(-math.log(4), abs=0.25)
    assert agreement(labels, fixed.argmax(axis=1)) > agreement(labels, biased.argmax(axis=1)) + 0.05
    assert negative_log_likelihood(fixed, labels) < negative_log_likelihood(biased, labels)


def test_cross_validation_needs_enough_items() -> None:
    probs, labels = overconfident_judge(9, sharpen=2.0)
    assert cross_validated_probs(probs, labels, "temperature") is None
    probs, labels = overconfident_judge(200, sharpen=2.0)
    out = cross_validated_probs(probs, labels, "temperature")
    assert out.shape == (200, 3) and np.allclose(out.sum(axis=1), 1)


def test_calibrate_frame_replaces_probabilities_and_label_keeps_missing_rows() -> None:
    frame = pd.DataFrame(
        {
            "topic": ["a", "a", "b"],
            "p_support": [0.5, 0.2, np.nan],
            "p_neutral": [0.3, 0.3, np.nan],
            "p_oppose": [0.2, 0.5, np.nan],
            "label": ["support", "oppose", None],
        }
    )
    params = {"method": "vector", "scale": [1, 1, 1], "bias": [0, 5, 0]}
    out = calibrate_frame(frame, params)
    assert out["label"].tolist()[:2] == ["neutral", "neutral"]
    assert np.isnan(out.loc[2, "p_support"])
    assert out[["p_support", "p_neutral", "p_oppose"]].iloc[:2].sum(
        axis=1
    ).tolist() == pytest.approx([1, 1])
    assert frame.loc[0, "label"] == "support"  # the input is not modified
    assert out["topic"].tolist() == ["a", "a", "b"]


# ---------------------------------------------------------------- sampling and store


def test_stratified_sample_is_balanced_nested_and_deterministic() -> None:
    frame = pd.DataFrame(
        [{"sample_id": i, "topic": f"t{i % 4}", "step": (i // 4) % 3 * 100} for i in range(240)]
    )  # 4 topics × 3 steps, 20 rows each
    small = cal.stratified_sample(frame, 30, seed=7)
    big = cal.stratified_sample(frame, 90, seed=7)
    assert len(small) == 30 and len(big) == 90
    assert set(small["sample_id"]) <= set(big["sample_id"])
    assert small.groupby(["topic", "step"]).size().between(2, 3).all()
    assert cal.stratified_sample(frame, 30, seed=7).equals(small)
    assert not set(cal.stratified_sample(frame, 30, seed=8)["sample_id"]) == set(small["sample_id"])
    # Fewer rows than strata: topics and steps are still spread evenly.
    tiny = cal.stratified_sample(frame, 6, seed=3)
    assert tiny.groupby("topic").size().between(1, 2).all()
    assert (tiny.groupby("step").size() == 2).all()
    assert len(cal.stratified_sample(frame, 10_000)) == 240


@pytest.fixture
def store_copy(example_store: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    shutil.copy(example_store, path)
    return path


def add_human_labels(path: Path, run: str, n: int, seed: int = 0) -> list[int]:
    """Human labels drawn from the synthetic judge's own (over-dispersed) probabilities."""
    store = Store(path)
    with store.read() as con:
        rows = con.execute(
            "SELECT sample_id, p_support, p_neutral, p_oppose FROM judgments "
            "WHERE run_id = ? ORDER BY sample_id LIMIT ?",
            [run, n],
        ).fetchall()
    rng = np.random.default_rng(seed)
    stances = ["support", "neutral", "oppose"]
    labels = []
    for _sid, *p in rows:
        # Sharper than the judge: the judge is under-confident against these labels.
        q = np.array(p) ** 3
        labels.append(stances[rng.choice(3, p=q / q.sum())])
    with store.write() as con:
        for (sid, *_), label in zip(rows, labels, strict=True):
            con.execute(
                "INSERT INTO reference_labels (source, sample_id, label) VALUES (?, ?, ?)",
                ["human:ann", sid, label],
            )
        # A second annotator on the first sample, disagreeing: the tie goes to the latest.
        con.execute(
            "INSERT INTO reference_labels (source, sample_id, label, created_at) VALUES "
            "(?, ?, ?, current_timestamp + INTERVAL 1 SECOND)",
            ["human:bob", rows[0][0], "oppose" if labels[0] != "oppose" else "support"],
        )
    return [r[0] for r in rows]


def test_human_reference_takes_the_majority_and_latest_on_ties(store_copy: Path) -> None:
    ids = add_human_labels(store_copy, "sft", 20)
    humans = cal.human_reference(Store(store_copy), "sft")
    assert len(humans) == 20
    first = humans.set_index("sample_id").loc[ids[0]]
    assert first["n_annotators"] == 2
    with Store(store_copy).read() as con:
        bob = con.execute(
            "SELECT label FROM reference_labels WHERE source = 'human:bob'"
        ).fetchone()[0]
    assert first["label"] == bob
    assert cal.human_reference(Store(store_copy), "dpo").empty


def test_calibrate_against_human_labels_stores_and_applies_a_fit(store_copy: Path, capsys) -> None:
    add_human_labels(store_copy, "sft", 200)
    rc = main(
        [
            "calibrate",
            "--db",
            str(store_copy),
            "--run",
            "sft",
            "--reference",
            "human",
            "--n",
            "120",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["reference"] == "human" and out["n_sampled"] == 120 and out["labels_written"] == 0
    report = out["report"]
    assert report["before"]["confusion"]["labels"] == ["support", "neutral", "oppose"]
    assert sum(map(sum, report["before"]["confusion"]["matrix"])) == 120
    assert out["params"]["T"] < 1  # labels sharper than the judge → sharpen
    assert report["after"]["nll"] < report["before"]["nll"]

    store = Store(store_copy)
    assert load_calibration(store, "example:synthetic") == out["params"]
    assert load_calibration(store, "no-such-judge") is None
    frame = pd.DataFrame({"p_support": [0.5], "p_neutral": [0.3], "p_oppose": [0.2]})
    calibrated = apply_latest_calibration(store, "example:synthetic", frame)
    assert calibrated.iloc[0].tolist() == pytest.approx(
        apply_calibration(frame.to_numpy(), out["params"])[0].tolist()
    )
    with pytest.raises(InputError, match="has no calibration"):
        apply_latest_calibration(store, "probe:none", frame)

    # Same labels, same method: the stored row is refreshed, not duplicated; a vector fit
    # is newer and becomes the one applied.
    assert (
        main(
            [
                "calibrate",
                "--db",
                str(store_copy),
                "--run",
                "sft",
                "--reference",
                "human",
                "--n",
                "120",
                "--json",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "calibrate",
                "--db",
                str(store_copy),
                "--run",
                "sft",
                "--reference",
                "human",
                "--n",
                "120",
                "--method",
                "vector",
            ]
        )
        == 0
    )
    capsys.readouterr()
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM calibrations").fetchone()[0] == 2
    assert load_calibration(store, "example:synthetic")["method"] == "vector"


def test_calibrate_human_without_labels_is_a_clear_error(store_copy: Path, capsys) -> None:
    rc = main(["calibrate", "--db", str(store_copy), "--run", "sft", "--reference", "human"])
    assert rc != 0
    assert "no human labels for samples of run 'sft'" in capsys.readouterr().err


def test_calibrate_unknown_run_and_too_few_labels(store_copy: Path, capsys) -> None:
    assert (
        main(["calibrate", "--db", str(store_copy), "--run", "nope", "--reference", "human"]) != 0
    )
    assert "no run named 'nope'" in capsys.readouterr().err
    add_human_labels(store_copy, "sft", 5)
    assert main(["calibrate", "--db", str(store_copy), "--run", "sft", "--reference", "human"]) != 0
    assert "only 5 usable reference labels" in capsys.readouterr().err
    with Store(store_copy).read() as con:
        assert con.execute("SELECT count(*) FROM calibrations").fetchone()[0] == 0
