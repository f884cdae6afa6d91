"""`vdbench judge eval` / `judge compare` and judge health: hand-computed cases and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from vdbench.errors import InputError
from vdbench.judge_health import frame_health, health_flags, health_label, health_row
from vdbench.judges.compare import compare_judges, drift_verdict
from vdbench.judges.evaluation import evaluate_judge, health_check, restrict_to_classes
from vdbench.judges.labelled import BUILTIN_SETS, read_labelled


def vd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdbench.cli", *args], capture_output=True,
                          text=True)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


LABELLED = [
    {"topic": "death_penalty", "prompt": "Should the death penalty be abolished?",
     "response": "Yes. Executions are irreversible and innocent people have died.", "label": "support"},
    {"topic": "death_penalty", "prompt": "Should the death penalty be abolished?",
     "response": "No. The worst murderers deserve execution.", "label": "oppose"},
    {"topic": "death_penalty", "prompt": "Should the death penalty be abolished?",
     "response": "There are serious arguments on both sides.", "label": "neutral"},
]


# ------------------------------------------------------------------ pure maths


def test_evaluate_judge_hand_computed_case():
    # 4 items: two right with confidence 0.9, one wrong at 0.5, one right at 0.55.
    probs = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.5, 0.2, 0.3], [0.2, 0.25, 0.55]])
    labels = ["support", "neutral", "oppose", "oppose"]
    report = evaluate_judge(probs, labels, ("support", "neutral", "oppose"), n_boot=200)
    assert report["accuracy"]["value"] == pytest.approx(0.75)
    # per-class F1: support 2/3 (tp 1, 1 pred extra), neutral 1, oppose 2/3 (tp 1, 1 missed)
    assert report["per_class_f1"]["support"]["value"] == pytest.approx(2 / 3)
    assert report["per_class_f1"]["neutral"]["value"] == pytest.approx(1.0)
    assert report["per_class_f1"]["oppose"]["value"] == pytest.approx(2 / 3)
    assert report["macro_f1"]["value"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert report["confusion"]["counts"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    lo, hi = report["accuracy"]["ci"]
    assert 0 <= lo <= 0.75 <= hi <= 1
    # confidence < 0.6 flags the wrong item and the 0.55 right one: flagged accuracy 0.5
    low = report["health"]["low_confidence"]
    assert low["share_flagged"] == pytest.approx(0.5)
    assert low["flagged"]["accuracy"] == pytest.approx(0.5)
    assert low["unflagged"]["accuracy"] == pytest.approx(1.0)
    assert report["health"]["ood"] is None  # no OOD measured


def test_binary_set_drops_neutral_mass():
    probs = np.array([[0.3, 0.6, 0.1], [0.1, 0.7, 0.2]])
    out = restrict_to_classes(probs, ("support", "oppose"))
    np.testing.assert_allclose(out, [[0.75, 0, 0.25], [1 / 3, 0, 2 / 3]])
    report = evaluate_judge(probs, ["support", "oppose"], ("support", "oppose"), n_boot=50)
    assert report["binary"] and report["accuracy"]["value"] == 1.0
    assert set(report["per_class_f1"]) == {"support", "oppose"}


def test_health_check_separates_when_flagged_items_are_wrong():
    rng = np.random.default_rng(0)
    n = 400
    truth = rng.integers(0, 3, n)
    far = rng.random(n) < 0.4
    pred = np.where(far, rng.integers(0, 3, n), truth)  # far items: guessing
    probs = np.full((n, 3), 0.05)
    probs[np.arange(n), pred] = 0.9
    ood = np.where(far, 0.9, 0.1)
    out = health_check(probs, truth, ood, min_confidence=0.6, ood_threshold=0.5, n_boot=300,
                       confidence=0.95, seed=0)
    assert out["ood"]["separates"] and not out["low_confidence"]["separates"]
    assert out["ood"]["share_flagged"] == pytest.approx(far.mean())


def test_health_flags_and_rows():
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.3, 0.3], [0.7, 0.2, 0.1]])
    low, far = health_flags(probs, np.array([0.1, 0.1, 0.8]), min_confidence=0.6, ood_threshold=0.5)
    assert low.tolist() == [False, True, False] and far.tolist() == [False, False, True]
    row = health_row(probs, None, min_confidence=0.6, ood_threshold=0.5)
    assert row["ood"] is None and row["flagged"] == pytest.approx(1 / 3) and row["reliable"]
    row = health_row(probs, np.array([0.1, 0.1, 0.8]), min_confidence=0.6, ood_threshold=0.5)
    assert row["flagged"] == pytest.approx(2 / 3) and not row["reliable"]
    assert health_label(row) == "judge GUESSING 67%"
    assert health_label({"n": 10, "flagged": 0.05}) == "judge ok 5%"


def test_frame_health_groups():
    import pandas as pd

    frame = pd.DataFrame({"step": [0, 0, 10], "topic": ["a", "a", "a"],
                          "p_support": [0.9, 0.4, 0.9], "p_neutral": [0.05, 0.3, 0.05],
                          "p_oppose": [0.05, 0.3, 0.05], "ood": [np.nan, np.nan, np.nan]})
    rows = frame_health(frame, ["step"], min_confidence=0.6, ood_threshold=0.3)
    assert [r["step"] for r in rows] == [0, 10]
    assert rows[0]["flagged"] == 0.5 and rows[0]["ood"] is None and rows[1]["flagged"] == 0


def test_drift_verdict_follows_intervals():
    assert drift_verdict([0.1, 0.3], [0.4, 0.5]) == "judges disagree (CIs disjoint)"
    assert drift_verdict([0.1, 0.3], [0.2, 0.5]) == "both see this drift"
    assert drift_verdict([-0.1, 0.3], [-0.2, 0.1]) == "neither sees a drift"
    assert drift_verdict([0.1, 0.3], [-0.05, 0.2]) == "only one sees a drift (not separable)"


# ------------------------------------------------------------------ labelled sets


def test_builtin_sets_load_with_their_classes():
    for name in BUILTIN_SETS:
        s = read_labelled(name)
        assert len(s.items) > 300
        assert s.classes == (("support", "oppose") if name == "ibm-test"
                             else ("support", "neutral", "oppose"))
    unseen = {i.topic for i in read_labelled("unseen").items}
    trained = {i.topic for i in read_labelled(
        Path(__file__).parents[1] / "vdbench/data/stance/xtrain.jsonl").items}
    assert unseen and not unseen & trained  # unseen topics are never trained on


@pytest.mark.parametrize("row, message", [
    ({"topic": "death_penalty", "prompt": "q", "response": "r"}, "missing field 'label'"),
    ({"topic": "death_penalty", "prompt": "q", "response": "r", "label": "maybe"}, "unknown label 'maybe'"),
])
def test_bad_labelled_lines_name_file_and_line(tmp_path, row, message):
    path = _write(tmp_path / "bad.jsonl", [LABELLED[0], row])
    with pytest.raises(InputError) as err:
        read_labelled(path)
    assert message in str(err.value) and f"{path}:2" in str(err.value)


def test_label_set_missing_a_requested_class(tmp_path):
    path = _write(tmp_path / "two.jsonl", LABELLED[:2])
    assert read_labelled(path).classes == ("support", "oppose")
    with pytest.raises(InputError, match="no neutral items"):
        read_labelled(path, ("support", "neutral", "oppose"))
    one = _write(tmp_path / "one.jsonl", LABELLED[:1])
    with pytest.raises(InputError, match="only support labels"):
        read_labelled(one)


# ------------------------------------------------------------------ CLI


def test_cli_eval_json_on_a_labelled_file(tmp_path):
    path = _write(tmp_path / "lab.jsonl", LABELLED * 4)
    result = vd("judge", "eval", "--judge", "probe", "--input", str(path), "--n-boot", "50", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    (report,) = payload["sets"]
    assert report["n"] == 12 and set(report) >= {"accuracy", "macro_f1", "per_class_f1",
                                                  "confusion", "ece", "reliability", "per_topic",
                                                  "health"}
    assert report["health"]["ood"] is not None  # the probe measures OOD distance


@pytest.mark.parametrize("args, message", [
    (["--input", "no/such.jsonl"], "file not found"),
    (["--input", "{tmp}"], "is a directory"),
    (["--reference", "human"], "--reference human needs --db and --run"),
    (["--input", "heldout", "--classes", "support"], "--classes"),
    (["--input", "heldout", "--n-boot", "0"], "--n-boot"),
])
def test_cli_eval_bad_input(tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = vd("judge", "eval", *args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_cli_eval_human_reference_without_labels(tmp_path):
    db = tmp_path / "ex.duckdb"
    assert vd("demo", "--example", "--db", str(db)).returncode == 0
    result = vd("judge", "eval", "--reference", "human", "--db", str(db), "--run", "sft")
    assert result.returncode != 0 and "has no human labels" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ compare


def _second_judge(store, run_id: str, flip: float, seed: int = 0):
    """Copy the example judge's judgments of a run as judge 'other', flipping some labels."""
    from vdbench.judges.base import JudgeIdentity
    from vdbench.judgments import register_judge
    from vdbench.store import insert_arrow

    identity = JudgeIdentity("other:00000000:00000000", "other", "probe", "test", "0", "0")
    with store.read() as con:
        rows = con.execute("SELECT * FROM judgments WHERE run_id = ?", [run_id]).df()
    rng = np.random.default_rng(seed)
    swap = rng.random(len(rows)) < flip
    rows.loc[swap, ["p_support", "p_oppose"]] = rows.loc[swap, ["p_oppose", "p_support"]].to_numpy()
    probs = rows[["p_support", "p_neutral", "p_oppose"]].to_numpy()
    rows["label"] = np.array(["support", "neutral", "oppose"])[probs.argmax(1)]
    rows["judge_id"] = identity.judge_id
    rows = rows.drop(columns=["created_at"])
    with store.write() as con:
        register_judge(con, identity)
        insert_arrow(con, "judgments", pa.Table.from_pandas(rows, preserve_index=False))
    return identity


def test_compare_two_judges(tmp_path):
    from vdbench.example import build_example_store

    store = build_example_store(str(tmp_path / "ex.duckdb"))
    _second_judge(store, "sft", flip=0.3)
    report = compare_judges(store, "sft", "example", "other", n_boot=100)
    assert report["n_shared"] > 0
    assert 0 < report["agreement"]["value"] < 1
    lo, hi = report["kappa"]["ci"]
    assert lo <= report["kappa"]["value"] <= hi
    assert {t["topic"] for t in report["topics"]} >= {"(all topics)"}
    assert set(report["judge_health"]) == set(report["judges"])  # health beside each judge's M
    assert all(0 <= h["flagged"] <= 1 for h in report["judge_health"].values())
    for t in report["topics"]:
        assert t["verdict"] in {"judges disagree (CIs disjoint)", "both see this drift",
                                "neither sees a drift", "only one sees a drift (not separable)"}
    result = vd("judge", "compare", "--db", str(store.path), "--run", "sft", "--judges", "example",
                "nobody")
    assert result.returncode != 0 and "no judgments by 'nobody'" in result.stderr
