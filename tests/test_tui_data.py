"""The TUI's headless parts: queries, audit statistics, filters, calibration reports,
labels, export, renderings, and what importing the app pulls in."""

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
from vdbench.tui import data, render

REPO = Path(__file__).resolve().parents[1]


def test_app_import_pulls_in_no_ml_stack_and_no_heavy_readers() -> None:
    """The TUI never imports torch/transformers/trl; pandas and DuckDB wait for the first worker."""
    code = ("import sys, vdbench.tui.app; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'transformers', 'trl', 'pandas', 'duckdb', 'sklearn', 'accelerate'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True, timeout=60).stdout.split()
    assert out == []


def test_data_and_render_do_not_import_textual() -> None:
    code = ("import sys, vdbench.tui.data, vdbench.tui.render; "
            "print(any(m.split('.')[0] in ('textual', 'torch', 'transformers', 'trl') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True, timeout=60).stdout.strip()
    assert out == "False"


def test_lineage_order_draws_a_tree_and_keeps_orphans() -> None:
    def run(run_id, parent=None):
        return {"run_id": run_id, "stage": "s", "algorithm": "a", "model": None, "parent_run": parent,
                "parent_step": None, "eval_set": None, "seed": None, "hparams": None,
                "n_checkpoints": 1, "judges": None, "updated_at": None}

    rows = [run("base"), run("sft", "base"), run("dpo", "sft"), run("ppo", "sft"),
            run("lost", "deleted-parent")]
    ordered = data.lineage_order(rows)
    assert [(r.run_id, r.guide, r.depth) for r in ordered] == [
        ("base", "", 0), ("sft", "└─ ", 1), ("dpo", "   ├─ ", 2), ("ppo", "   └─ ", 2), ("lost", "", 0)]
    assert [r.run_id for r in data.lineage_chain(ordered, "ppo")] == ["base", "sft", "ppo"]
    assert [r.run_id for r in data.siblings(ordered, "dpo")] == ["dpo", "ppo"]


def test_stance_margin_flip_and_js_by_hand() -> None:
    margins = pd.DataFrame({
        "topic": ["a", "a", "b"],
        "chosen_support": [0.8, 0.5, 0.2], "chosen_neutral": [0.1, 0.3, 0.6], "chosen_oppose": [0.1, 0.2, 0.2],
        "rejected_support": [0.1, 0.5, 0.2], "rejected_neutral": [0.1, 0.3, 0.6],
        "rejected_oppose": [0.8, 0.2, 0.2],
        "chosen_label": ["support", "support", "neutral"],
        "rejected_label": ["oppose", "support", "neutral"],
    })
    margins["delta"] = data.stance_margin(margins)
    margins["flip"] = data.stance_flips(margins)
    assert margins["flip"].tolist() == [True, False, False]
    assert margins["delta"].tolist() == pytest.approx([1.4, 0.0, 0.0])
    summary = data.audit_summary(margins).set_index("topic")
    assert summary.loc[data.ALL_TOPICS, "n"] == 3
    assert summary.loc["a", "flip_rate"] == 0.5
    assert summary.loc["a", "mean_delta"] == pytest.approx(0.7)
    assert summary.loc["b", "js"] == 0.0
    # JS of two point masses is 1 bit; of identical distributions 0.
    assert data.js_divergence(np.array([1, 0, 0]), np.array([0, 0, 1])) == pytest.approx(1.0)
    counts, edges = data.delta_histogram([-2.0, 0.0, 0.01, 2.0], n_bins=4)
    assert counts.tolist() == [1, 0, 2, 1] and edges[0] == -2 and edges[-1] == 2
    assert len(data.delta_histogram([0.5])[0]) == 20  # the bins of `vdbench audit`


def test_parse_filter() -> None:
    fields, words = data.parse_filter("topic:abortion  step:400 stance:opp hello world")
    assert fields == {"topic": "abortion", "step": "400", "stance": "oppose"}
    assert words == "hello world"
    assert data.parse_filter("time: 10:30")[1] == "time: 10:30"  # not a known key, not a filter
    with pytest.raises(InputError, match="unknown filter"):
        data.parse_filter("colour:red")
    with pytest.raises(InputError, match="step must be a number"):
        data.parse_filter("step:late")
    with pytest.raises(InputError, match="unknown stance"):
        data.parse_filter("stance:x")


def test_calibration_report_keys_are_read_tolerantly() -> None:
    documented = data.parse_calibration({
        "calibration_id": "c", "judge_id": "j", "reference": "human", "method": "temperature",
        "created_at": None, "report": json.dumps({
            "n": 10, "agreement": {"before": 0.5, "after": 0.6}, "kappa": 0.3,
            "ece": {"before": 0.2, "after": 0.1}, "confusion": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            "reliability": {"before": [{"lo": 0.0, "hi": 0.5, "n": 4, "confidence": 0.3,
                                        "accuracy": 0.25}]}})})
    assert documented.agreement == (0.5, 0.6) and documented.kappa == (0.3, None)
    assert documented.reliability["before"][0].accuracy == 0.25 and documented.n == 10
    flat = data.parse_calibration({
        "calibration_id": "c", "judge_id": "j", "reference": "r", "method": "vector",
        "created_at": None, "report": {"ece_before": 0.3, "ece_after": 0.05,
                                       "after": {"macro_f1": 0.7}, "macro_f1": 0.6}})
    assert flat.ece == (0.3, 0.05) and flat.macro_f1 == (0.6, 0.7) and flat.confusion is None
    broken = data.parse_calibration({"calibration_id": "c", "judge_id": "j", "reference": "r",
                                     "method": "m", "created_at": None, "report": "not json"})
    assert broken.agreement == (None, None) and broken.reliability == {}


def test_calibration_report_as_vdbench_calibrate_writes_it() -> None:
    """`before`/`after` agreement_report blocks, cohens_kappa, confusion as a dict, bins with count."""
    block = {"n": 50, "agreement": 0.6, "macro_f1": 0.5, "cohens_kappa": 0.4, "ece": 0.2,
             "confusion": {"labels": ["support", "neutral", "oppose"], "rows": "reference",
                           "columns": "judge", "matrix": [[10, 2, 1], [3, 20, 2], [1, 1, 10]]},
             "reliability": [{"lo": 0.9, "hi": 1.0, "count": 7, "confidence": 0.95,
                              "accuracy": 0.8}, {"lo": 0.0, "hi": 0.1, "count": 0,
                                                 "confidence": None, "accuracy": None}]}
    after = {**block, "agreement": 0.62, "cohens_kappa": 0.45, "ece": 0.05}
    view = data.parse_calibration({
        "calibration_id": "cal-1", "judge_id": "probe@x", "reference": "human:ann",
        "method": "temperature", "created_at": None,
        "report": json.dumps({"n_used": 50, "bins": 10, "before": block, "after": after,
                              "after_cross_validated": None})})
    assert view.n == 50 and view.agreement == (0.6, 0.62) and view.kappa == (0.4, 0.45)
    assert view.ece == (0.2, 0.05) and view.macro_f1 == (0.5, 0.5)
    assert view.confusion == [[10, 2, 1], [3, 20, 2], [1, 1, 10]]
    assert view.reliability["after"][0].n == 7 and view.reliability["before"][1].n == 0


def test_store_queries_on_the_fixture(tui_store: Path) -> None:
    backend = data.Backend(tui_store, n_boot=50)
    overview, signature = data.load_overview(backend.ts)
    assert signature == data.store_signature(backend.ts)
    assert [r.run_id for r in overview.runs][:5] == ["base", "sft", "dpo", "simpo", "ppo"]
    assert overview.n_pref_datasets == 2 and overview.n_calibrations == 1
    series = data.load_series(backend.ts, "dpo")
    assert len(series.checkpoints) == 9 and series.judge_id == "example:synthetic"
    snap = data.stance_snapshot(backend.ts, backend.cache, series, 4)
    assert snap.values["topic"].iloc[0] == data.ALL_TOPICS and len(snap.values) == 12
    total = snap.values[[f"v_{s}" for s in render.STANCES]].sum(axis=1)
    assert np.allclose(total, 1.0)
    assert snap.health is not None and snap.health["n_samples"] == 165
    f = data.SampleFilter("dpo", series.judge_id, topic="abortion", stance="support")
    n = data.count_samples(backend.ts, f)
    page = data.sample_page(backend.ts, f, 0, 10)
    assert 0 < n and len(page) == min(10, n)
    assert all(r["topic"] == "abortion" and r["label"] == "support" for r in page)
    history = data.prompt_history(backend.ts, ["sft", "dpo"], page[0]["prompt_id"])
    assert list(history["run_id"].unique()) == ["sft", "dpo"] and len(history) == 2 * 9 * 3
    unjudged = data.load_series(backend.ts, "unjudged")
    assert unjudged.judge_id is None and "no judgments" in unjudged.problem.title


def test_labels_write_replace_and_undo(tui_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    shutil.copy(tui_store, db)
    backend = data.Backend(db, user="ann")
    queue = data.label_queue(backend.ts, backend.label_source, limit=5)
    assert len(queue.items) == 5 and queue.n_labelled == 0
    sid = queue.items[0]["sample_id"]
    data.write_label(backend.ts, backend.label_source, sid, "neutral")
    data.write_label(backend.ts, backend.label_source, sid, "oppose")  # a change of mind replaces
    again = data.label_queue(backend.ts, backend.label_source, limit=5)
    assert again.n_labelled == 1 and sid not in [i["sample_id"] for i in again.items]
    with backend.ts.read() as con:
        assert con.execute("SELECT label FROM reference_labels").fetchall() == [("oppose",)]
    data.delete_label(backend.ts, backend.label_source, sid)
    assert data.label_queue(backend.ts, backend.label_source, limit=5).n_labelled == 0
    with pytest.raises(InputError):
        data.write_label(backend.ts, backend.label_source, sid, "maybe")


def test_export_frame(tmp_path: Path) -> None:
    frame = pd.DataFrame({"topic": ["a"], "v": [0.5]})
    assert pd.read_csv(data.export_frame(frame, tmp_path / "x.csv")).equals(frame)
    assert pd.read_parquet(data.export_frame(frame, tmp_path / "x.parquet")).equals(frame)
    with pytest.raises(InputError, match="csv or .parquet"):
        data.export_frame(frame, tmp_path / "x.xlsx")
    with pytest.raises(InputError, match="does not exist"):
        data.export_frame(frame, tmp_path / "nope" / "x.csv")


def test_problems_never_carry_tracebacks() -> None:
    from vdbench.errors import StoreError

    busy = data.problem_from(StoreError("store is busy (locked by another process for 2 s)"))
    assert busy.busy
    other = data.problem_from(ZeroDivisionError("x"))
    assert other.title == "internal error" and "ZeroDivisionError" in other.detail


def test_renderings_read_without_colour() -> None:
    bar = render.stacked_bar([0.5, 0.3, 0.2], 10)
    assert bar.plain == "█████▒▒▒░░"
    assert render.split_cells([1, 1, 1], 10) == [4, 3, 3]
    assert render.pct_ci(0.45, 0.41, 0.50) == " 45±5 "
    rows = render.histogram([0, 4, 8, 2], height=2)
    assert [r.plain for r in rows] == ["    ██  ", "  ████▄▄"]
    plot = render.drift_plot([render.PlotSeries("a", [(0, 0.2), (1, 0.6)], eta=0.5, band=(0.55, 0.6))],
                             width=30, height=5)
    text = "\n".join(line.plain for line in plot)
    assert "●" in text and "┊" in text and "·" in text and "0.60" in text
    assert render.reliability_row(0.75, 0.5, 10).plain == "█████  ┃  "
