"""Judge health in the TUI: the per-checkpoint shares (same as vdbench.judge_health and
`vdbench metrics`), their renderings, and how the Stances and Drift views show them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.tui_store import OOD_THRESHOLD, make_app, screen_text, settle
from vdbench import queries
from vdbench.judge_health import frame_health, health_frame, health_label
from vdbench.tui import data, health_data, render

SIZE = (80, 24)


def _hand_frame() -> pd.DataFrame:
    """Topic a: one low-confidence and one out-of-domain judgment; b: OOD not measured."""
    return pd.DataFrame({
        "step": [0, 0, 0, 0], "topic": ["a", "a", "b", "b"],
        "p_support": [0.5, 0.8, 0.7, 0.3], "p_neutral": [0.3, 0.1, 0.2, 0.3],
        "p_oppose": [0.2, 0.1, 0.1, 0.4], "ood": [0.2, 2.0, np.nan, np.nan]})


def test_health_frame_by_hand() -> None:
    out = health_frame(_hand_frame(), ["step", "topic"], min_confidence=0.6,
                                   ood_threshold=1.0).set_index("topic")
    a, b = out.loc["a"], out.loc["b"]
    # a: confidences 0.5 (low) and 0.8 with ood 2.0 > 1.0 (far): both flagged.
    assert (a["n"], a["low_confidence"], a["ood"], a["flagged"]) == (2, 0.5, 0.5, 1.0)
    assert a["mean_confidence"] == pytest.approx(0.65) and not a["reliable"]
    # b: no distance at all → ood None, low confidence only (0.4 < 0.6): half flagged.
    assert b["ood"] is None and b["flagged"] == 0.5 and b["reliable"]
    assert health_label(a.to_dict()) == "judge GUESSING 100%"
    assert health_data.short_label(b.to_dict()) == "weak 50%"
    assert health_data.flag_glyph(a.to_dict()) == "!" and health_data.flag_glyph(None) == "?"
    # Without a threshold nothing is out of domain, whatever the distances.
    none = health_frame(_hand_frame(), ["topic"], min_confidence=0.6, ood_threshold=None)
    assert none["ood"].tolist() == [None, None] and none["flagged"].tolist() == [0.5, 0.5]


def test_health_frame_equals_frame_health_on_the_fixture(tui_store: Path) -> None:
    """The vectorised grouping gives frame_health's numbers (what `vdbench metrics` reports)."""
    backend = data.Backend(tui_store)
    for run in ("dpo", "one-ckpt"):
        with backend.ts.read() as con:
            frame = queries.judgment_confidence(con, run, "example:synthetic")
            health = health_data.load_judge_health(con, run, "example:synthetic")
        assert health.ood_threshold == OOD_THRESHOLD
        assert health.ood_measured == (run == "dpo")
        want = (frame_health(frame.assign(topic=data.ALL_TOPICS), ["step", "topic"],
                             min_confidence=0.6, ood_threshold=OOD_THRESHOLD)
                + frame_health(frame, ["step", "topic"], min_confidence=0.6,
                               ood_threshold=OOD_THRESHOLD))
        got = health.frame.to_dict("records")
        assert len(got) == len(want) > 0
        for g, w in zip(got, want, strict=True):
            assert g.keys() == w.keys()
            for key, value in w.items():
                assert g[key] == (pytest.approx(value, abs=1e-12) if isinstance(value, float)
                                  else value), (run, key)


def test_judge_health_matches_vdbench_metrics(tui_store: Path) -> None:
    """The TUI's shares are the ones `vdbench metrics --json` prints under judge_health."""
    from vdbench.metrics.report import run_metrics
    from vdbench.store import Store

    report = run_metrics(Store(tui_store), "dpo", n_boot=20)
    if "judge_health" not in report:
        pytest.skip("this vdbench metrics has no judge_health block yet")
    want = {(r["step"], r["topic"]): r for r in report["judge_health"]["by_checkpoint"]}
    series = data.load_series(data.TuiStore(tui_store), "dpo")
    got = {(r["step"], r["topic"]): r for r in series.judge_health.frame.to_dict("records")}
    assert got.keys() == want.keys()
    for key, w in want.items():
        assert got[key]["flagged"] == pytest.approx(w["flagged"], abs=1e-12)
        assert got[key]["ood"] == pytest.approx(w["ood"], abs=1e-12)


def test_series_and_snapshot_carry_judge_health(tui_store: Path) -> None:
    backend = data.Backend(tui_store, n_boot=20)
    series = data.load_series(backend.ts, "dpo")
    snap = data.stance_snapshot(None, backend.cache, series, 8, quick=True)  # no bootstrap needed
    pooled = snap.judge_health[data.ALL_TOPICS]
    assert pooled["n"] == 165 and set(snap.judge_health) == set(snap.values["topic"])
    # DPO's answers drift out of the judge's domain: its last checkpoint is mostly flagged.
    assert pooled["flagged"] > 0.5 and not pooled["reliable"]
    first = series.judge_health.at(0)[data.ALL_TOPICS]
    assert first["ood"] < pooled["ood"]
    assert series.judge_health.worst(data.ALL_TOPICS)["step"] == 800
    unjudged = data.load_series(backend.ts, "unjudged")
    assert unjudged.judge_health.frame.empty and unjudged.judge_health.at(500) == {}


def test_judge_strip_places_shares_under_the_checkpoints() -> None:
    marks = [render.HealthMark(0.0, 0.08, "✓"), render.HealthMark(1.0, 0.77, "!", bad=True)]
    strip = render.judge_strip(marks, 26)  # 6-cell gutter + 20 plot columns, as drift_plot
    assert strip.plain == "judge " + "8✓" + " " * 15 + "77!"
    assert len(strip.plain) == 26
    dense = [render.HealthMark(x, 0.3, "~") for x in (0.0, 0.05, 0.1)]
    assert render.judge_strip(dense, 26).plain.rstrip() == "judge ~~~"  # too close for numbers


def test_labelling_queue_of_one_run(tui_store: Path) -> None:
    backend = data.Backend(tui_store, user="ann")
    queue = data.label_queue(backend.ts, backend.label_source, limit=20, run_id="sft")
    assert queue.run_id == "sft" and queue.n_labelled == 0 and queue.n_unlabelled == 9 * 55 * 3
    assert {i["run_id"] for i in queue.items} == {"sft"} and len(queue.items) == 20


# ---------------------------------------------------------------------------- in the app


def run(coro):
    return asyncio.run(coro)


def test_stances_show_judge_health_per_topic_and_pooled(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await settle(pilot)
            view = app.query_one("#view-stances")
            pooled = view.snapshot.judge_health[data.ALL_TOPICS]
            text = screen_text(app)
            assert f"judge health ⚠ GUESSING {pooled['flagged']:.0%} flagged" in text
            assert f"OOD>{OOD_THRESHOLD:g} {pooled['ood']:.0%}" in text
            table = app.query_one("#stance-table")
            cells = [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]
            assert cells[0] == f"GUESSING {pooled['flagged']:.0%}"
            assert all(c.startswith(("ok", "weak", "GUESSING")) for c in cells)
            assert len(text.splitlines()) == SIZE[1] and max(map(len, text.splitlines())) <= SIZE[0]
            app.select_run("sft")  # a judge that mostly knows: no warning
            await pilot.press("2")
            await settle(pilot)
            text = screen_text(app)
            assert "judge health ~ weak 24% flagged" in text and "⚠" not in text
            assert "ok 7%" in text
            app.select_run("one-ckpt")  # OOD never measured for this run's judgments
            await pilot.press("2")
            await settle(pilot)
            assert "OOD not measured" in screen_text(app)

    run(go())


def test_stances_judge_health_reads_without_colour(tui_store: Path, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await settle(pilot)
            text = screen_text(app)
            assert "⚠ GUESSING" in text and "GUESSING 7" in text
            exported = app.query_one("#view-stances").export_frame()
            assert exported is not None
            frame = exported[1]
            assert {"judge_flagged", "judge_low_confidence", "judge_ood"} <= set(frame.columns)
            assert frame["judge_flagged"].iloc[0] > 0.5

    run(go())


def test_drift_shows_judge_health_per_checkpoint(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await settle(pilot)
            text = screen_text(app)
            lines = text.splitlines()
            strip = next(line for line in lines if line.startswith("judge "))
            series = app.query_one("#view-drift").curves[0].series  # dpo, the selected run
            last = series.judge_health.at(800)[data.ALL_TOPICS]
            assert strip.rstrip().endswith(f"{last['flagged'] * 100:.0f}!")
            assert strip.count("!") + strip.count("~") + strip.count("✓") == 9
            assert "judge, all topics, dpo: GUESSING" in text
            table = app.query_one("#drift-table")
            assert str(table.get_row_at(0)[1]).endswith("!")  # dpo's worst checkpoint guesses
            await pilot.press("l")  # lineage: every judged stage's checkpoints on one row
            await settle(pilot)
            strip = next(line for line in screen_text(app).splitlines() if line.startswith("judge "))
            # sft's 9 and dpo's 9 checkpoints (base is unjudged); sft's last and dpo's first
            # share the column where one stage hands over to the next.
            assert sum(strip.count(g) for g in "!~✓") == 17
            assert "judge, all topics, lineage:" in screen_text(app)

    run(go())


def test_labelling_can_be_limited_to_the_selected_run(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("6", "l")
            await settle(pilot)
            view = app.query_one("#view-judge")
            assert view.queue.run_id is None and "all runs" in screen_text(app)
            await pilot.press("r")
            await settle(pilot)
            assert view.queue.run_id == "dpo" and {i["run_id"] for i in view.queue.items} == {"dpo"}
            assert "run dpo · 0 labelled · 1485 unlabelled" in screen_text(app)
            await pilot.press("r")
            await settle(pilot)
            assert view.queue.run_id is None

    run(go())
