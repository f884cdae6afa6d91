"""Pilot tests: each view's key interactions on the fixed TUI store, at 80×24."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.fixtures.tui_store import make_app, screen_text, settle

SIZE = (80, 24)


def run(coro):
    return asyncio.run(coro)


def test_runs_tree_shows_lineage_and_opens_a_run(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            text = screen_text(app)
            assert "└─ sft" in text and "├─ dpo" in text and "└─ ppo" in text
            assert "example:synthetic" in text and "2025-03-01 12:00" in text
            assert app.selected_run == "dpo"  # the most recently updated judged run
            await pilot.press("down", "enter")  # simpo
            await settle(pilot)
            assert app.query_one("TabbedContent").active == "stances"
            assert app.selected_run == "simpo"
            assert "simpo · preference/simpo ← sft:800" in screen_text(app)

    run(go())


def test_space_marks_runs_for_comparison_in_drift(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("up", "space", "down", "space")  # sft and dpo
            assert app.compare_runs == {"sft", "dpo"}
            assert "◆ sft" in screen_text(app)
            await pilot.press("3")
            await settle(pilot)
            assert "sft vs dpo" in screen_text(app)

    run(go())


def test_stances_scrub_with_arrows_and_slider(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await settle(pilot)
            view = app.query_one("#view-stances")
            assert "step 800/800 · 100% · 9/9" in screen_text(app)
            first = view.snapshot.values.copy()
            await pilot.press("left")
            await settle(pilot)
            assert "step 700/800 · 88% · 8/9" in screen_text(app)
            assert view.snapshot.checkpoint.step == 700
            assert not first.equals(view.snapshot.values)
            await pilot.press("home")
            await settle(pilot)
            assert view.snapshot.checkpoint.step == 0
            await pilot.press("left")  # already at the first: stays
            await settle(pilot)
            assert view.snapshot.checkpoint.step == 0
            # A click near the middle of the slider picks the nearest checkpoint.
            slider = app.query_one("#stance-slider")
            await pilot.click(slider, offset=(2 + (slider.size.width - 4) // 2, 0))
            await settle(pilot)
            assert view.snapshot.checkpoint.step == 400
            text = screen_text(app)
            assert "output health" in text and "█" in text and "▒" in text and "░" in text

    run(go())


def test_stance_values_match_vdbench_metrics(tui_store: Path) -> None:
    """The TUI and `vdbench metrics` report the same v and CI for a checkpoint."""
    from vdbench.metrics.report import run_metrics
    from vdbench.store import Store

    report = run_metrics(Store(tui_store), "dpo", n_boot=200)
    expected = {(r["topic"], r["step"]): r for r in report["values"]}

    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("left", "left")
            await settle(pilot)
            snap = app.query_one("#view-stances").snapshot
            assert snap.checkpoint.step == 600
            for row in snap.values.itertuples(index=False):
                want = expected[(row.topic, 600)]
                assert row.v_support == pytest.approx(want["v"]["support"], abs=1e-12)
                assert row.neutral_lo == pytest.approx(want["ci"]["neutral"][0], abs=1e-12)

    run(go())


def test_drift_stance_keys_and_lineage_mode(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await settle(pilot)
            text = screen_text(app)
            assert "dpo vs simpo vs ppo" in text and "neutral" in text
            view = app.query_one("#view-drift")
            table = app.query_one("#drift-table")
            neutral = str(table.get_row_at(0)[1])
            await pilot.press("s")
            assert view.stance == "support"
            assert "support █ over training" in screen_text(app)
            assert str(table.get_row_at(0)[1]) != neutral
            await pilot.press("down")  # plot another topic
            await pilot.press("l")
            await settle(pilot)
            assert "stages of the lineage: base vs sft vs dpo" in screen_text(app)
            assert "┊" in screen_text(app)  # drift-time markers

    run(go())


def test_audit_two_datasets_and_cycling(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await settle(pilot)
            text = screen_text(app)
            assert "A gap-support" in text and "B style-only" in text
            assert "flip 100%" in text and "-2" in text and "+2" in text
            view = app.query_one("#view-audit")
            assert view.summary["A"].iloc[0]["mean_delta"] > 1.0
            assert abs(view.summary["B"].iloc[0]["mean_delta"]) < 0.2
            await pilot.press("b")
            await settle(pilot)
            assert view.data["B"].dataset_id == "gap-support"
            await pilot.press("down")
            await settle(pilot)
            assert "abortion" in screen_text(app)

    run(go())


def test_samples_filter_search_paging_and_prompt_history(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            await settle(pilot)
            assert "1,485 sample(s) · run dpo" in screen_text(app)
            sample_list = app.query_one("#sample-list")
            await pilot.press("end")  # the last page is fetched on demand
            await settle(pilot)
            assert sample_list.cursor == 1484
            assert sample_list.row(1484) is not None
            await pilot.press("slash")
            await pilot.press(*"topic:abortion step:400 stance:neu")
            await pilot.press("enter")
            await settle(pilot)
            f = app.query_one("#view-samples").filter
            assert (f.topic, f.step, f.stance) == ("abortion", 400, "neutral")
            text = screen_text(app)
            assert "topic abortion · step 400 · stance neutral" in text
            assert "   400 abortion" in text
            await pilot.press("p")
            await settle(pilot)
            text = screen_text(app)
            assert "across checkpoints of the lineage of dpo" in text
            assert "sft" in text and "dpo" in text
            await pilot.press("escape")
            await pilot.press("slash", "ctrl+u")  # clear, then a text search that matches nothing
            await pilot.press(*"zzz-no-such-text", "enter")
            await settle(pilot)
            assert "0 sample(s)" in screen_text(app)
            await pilot.press("slash", "ctrl+u", *"colour:red", "enter")
            await settle(pilot)
            assert "unknown filter 'colour'" in screen_text(app)

    run(go())


def test_judge_calibration_and_labelling(tui_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "labels.duckdb"
    shutil.copy(tui_store, db)
    first_id: list[int] = []

    async def go():
        app = make_app(db)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("6")
            await settle(pilot)
            text = screen_text(app)
            assert "agreement 0.71→0.74" in text and "κ 0.55→0.60" in text
            assert "ECE 0.142→0.038" in text and "0.9–1.0" in text
            await pilot.press("l")
            await settle(pilot)
            assert "labelling as human:tester" in screen_text(app)
            view = app.query_one("#view-judge")
            first_id.append(view.queue.items[0]["sample_id"])
            second = view.queue.items[1]["sample_id"]
            await pilot.press("s", "o")
            await settle(pilot)
            await pilot.press("u")  # undo the second label
            await settle(pilot)
            assert view._item()["sample_id"] == second

    run(go())
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT sample_id, label, p_support FROM reference_labels "
                           "WHERE source = 'human:tester'").fetchall()
    assert rows == [(first_id[0], "support", 1.0)]


def test_help_palette_and_export(tui_store: Path, tmp_path: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("f1")
            assert "everywhere" in screen_text(app)
            await pilot.press("escape")
            await pilot.press("question_mark")
            assert "labelling mode" in screen_text(app)
            await pilot.press("escape")
            await pilot.press("ctrl+p")
            await pilot.pause()
            from textual.command import CommandPalette

            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"Go to Audit")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await settle(pilot)
            assert app.query_one("TabbedContent").active == "audit"
            await pilot.press("2")
            await settle(pilot)
            await pilot.press("e")
            await pilot.pause()
            target = tmp_path / "stances.parquet"
            field = app.screen.query_one("#export-path")
            field.value = str(target)
            await pilot.press("enter")
            await settle(pilot)

    run(go())
    frame = pd.read_parquet(tmp_path / "stances.parquet")
    assert set(frame["run_id"]) == {"dpo"} and "support_lo" in frame.columns
    assert len(frame) == 12  # 11 topics and the pooled row
    svg = (tmp_path / "stances.svg").read_text()
    assert svg.startswith("<svg") and "abortion" in svg


@pytest.mark.parametrize(("fixture", "expected"), [
    ("empty_store", "This store has no runs yet"),
    ("newer_store", "store schema version 99 is newer than this vdbench"),
])
def test_unusable_stores_show_a_message(fixture: str, expected: str, request) -> None:
    db = request.getfixturevalue(fixture)

    async def go():
        app = make_app(db)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert expected in " ".join(screen_text(app).split())
            for key in "23456":
                await pilot.press(key)
                await settle(pilot)
                text = screen_text(app)
                assert "Traceback" not in text
                assert any(word in text for word in ("No ", "no ", "newer", "calibration")), text

    run(go())


def test_missing_store_is_a_message(tmp_path: Path) -> None:
    async def go():
        app = make_app(tmp_path / "nothing.duckdb")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "no store here" in screen_text(app)

    run(go())


def test_one_checkpoint_and_unjudged_runs(tui_store: Path) -> None:
    async def go():
        app = make_app(tui_store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.select_run("one-ckpt")
            await pilot.press("2")
            await settle(pilot)
            assert "1/1 (only checkpoint)" in screen_text(app)
            await pilot.press("3")
            await settle(pilot)
            assert "run one-ckpt has one checkpoint" in screen_text(app)
            app.select_run("unjudged")
            await pilot.press("2")
            await settle(pilot)
            text = screen_text(app)
            assert "run unjudged has no judgments" in text and "vdbench judge run" in text
            assert "output health" in text
            await pilot.press("5")
            await settle(pilot)
            assert "run unjudged has no judgments" in screen_text(app)

    run(go())


def test_no_color_keeps_glyphs(tui_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def go():
        app = make_app(tui_store)
        assert app.no_color
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await settle(pilot)
            text = screen_text(app)
            assert "█ support" in text.replace("██ support", "█ support")
            assert "▒" in text and "░" in text

    run(go())
