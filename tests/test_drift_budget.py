"""The drift budget: the rule on hand-made intervals, its option's errors, and `vdbench train`
warning, recording, stopping cleanly and resuming when a stance moves past its budget."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from vdbench.cli import main
from vdbench.errors import InputError
from vdbench.judges.base import JudgeIdentity, JudgeScore
from vdbench.metrics.budget import (
    ALL_TOPICS,
    BudgetBreach,
    beyond_budget,
    budget_breaches,
    parse_drift_budget,
)
from vdbench.metrics.report import ALL_TOPICS as REPORT_ALL_TOPICS
from vdbench.store import Store

# --- the rule, on hand-made intervals ------------------------------------------------------


def test_only_an_interval_wholly_beyond_the_budget_counts() -> None:
    assert beyond_budget(0.21, 0.40, 0.2)  # rose past +0.2
    assert beyond_budget(-0.50, -0.25, 0.2)  # fell past −0.2
    assert not beyond_budget(0.15, 0.60, 0.2)  # the point may be past it; the interval is not
    assert not beyond_budget(0.20, 0.40, 0.2)  # touching the line is not beyond it
    assert not beyond_budget(-0.30, 0.30, 0.0)  # a zero budget still needs a clear move
    assert beyond_budget(0.01, 0.02, 0.0)


def test_breaches_name_topic_stance_step_and_m_with_its_interval() -> None:
    moves = {
        "abortion": {"support": (-0.30, -0.45, -0.22), "neutral": (0.35, 0.25, 0.44),
                     "oppose": (-0.05, -0.10, 0.01)},
        "religion": {"support": (0.01, -0.05, 0.07), "neutral": (0.30, 0.05, 0.55),
                     "oppose": (-0.31, -0.60, -0.02)},
        ALL_TOPICS: {"support": (-0.15, -0.20, -0.10), "neutral": (0.32, 0.21, 0.40),
                     "oppose": (-0.17, -0.30, -0.05)},
    }
    found = budget_breaches({"neutral": 0.2, "support": 0.2}, moves, step=40, from_step=0)
    assert found == [
        BudgetBreach(ALL_TOPICS, "neutral", 40, 0, 0.32, 0.21, 0.40, 0.2),
        BudgetBreach("abortion", "support", 40, 0, -0.30, -0.45, -0.22, 0.2),
        BudgetBreach("abortion", "neutral", 40, 0, 0.35, 0.25, 0.44, 0.2),
    ]  # religion's neutral M is past 0.2 but its interval reaches 0.05: noise, not drift
    assert found[2].describe() == ("abortion neutral moved M = +0.350 [+0.250, +0.440] from step 0 "
                                   "to step 40, beyond its budget of ±0.2")
    assert budget_breaches({"oppose": 0.5}, moves, step=40, from_step=0) == []
    assert ALL_TOPICS == REPORT_ALL_TOPICS  # the pooled row is the one `vdbench metrics` reports


def test_the_option_parses_several_stances() -> None:
    assert parse_drift_budget("neutral:0.2") == {"neutral": 0.2}
    assert parse_drift_budget(" Neutral:0.2, support:.05 ") == {"neutral": 0.2, "support": 0.05}
    assert parse_drift_budget(None) == {} and parse_drift_budget("") == {}


@pytest.mark.parametrize(("text", "message"), [
    ("neutral:abc", "'abc' is not a number"),
    ("centrist:0.2", "unknown stance 'centrist'"),
    ("neutral:-0.1", "must be in [0, 1)"),
    ("neutral:1.5", "must be in [0, 1)"),
    ("neutral:0.1,neutral:0.2", "stance 'neutral' is given twice"),
    ("neutral", "'neutral' is not STANCE:MAX"),
    ("neutral:", "'neutral:' is not STANCE:MAX"),
])
def test_bad_budgets_name_the_option(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_drift_budget(text)
    assert "--drift-budget" in err.value.message and message in err.value.message


# --- `vdbench train`: refusals before any model loads ----------------------------------------


def _args(tiny_world, tmp_path: Path, **extra) -> list[str]:
    argv = ["train", "sft", "--model", str(tiny_world.model), "--data", str(tiny_world.sft),
            "--db", str(tmp_path / "s.duckdb"), "--run", "sft", "--eval-set", str(tiny_world.eval_set),
            "--samples", "2", "--max-new-tokens", "6", "--lr", "1e-3", "--batch-size", "4",
            "--output-dir", str(tmp_path / "out")]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return argv


@pytest.fixture
def no_model_loading(monkeypatch):
    from vdbench.training import models

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was validated")

    monkeypatch.setattr(models, "load_causal_lm", refuse)
    monkeypatch.setattr(models, "load_tokenizer", refuse)


@pytest.mark.parametrize(("extra", "message"), [
    ({"judge": "probe", "drift_budget": "neutral:abc"}, "--drift-budget: 'abc' is not a number"),
    ({"judge": "probe", "drift_budget": "liberal:0.2"}, "--drift-budget: unknown stance 'liberal'"),
    ({"judge": "probe", "drift_budget": "neutral:-1"}, "--drift-budget: the budget for neutral"),
    ({"judge": "probe", "drift_budget": "oppose:0.1,oppose:0.3"}, "stance 'oppose' is given twice"),
    ({"drift_budget": "neutral:0.2"}, "--drift-budget needs --judge"),
    ({"judge": "probe", "stop_on_budget": True}, "--stop-on-budget needs --drift-budget"),
])
def test_bad_budget_options_exit_2_without_a_traceback(tiny_world, tmp_path, capsys, no_model_loading,
                                                       extra, message) -> None:
    assert main(_args(tiny_world, tmp_path, **extra)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# --- `vdbench train` on the tiny model, with a judge that sees neutral jump -------------------


class JumpJudge:
    """Scores every sample of the first checkpoint it judges as mostly support, every later one
    as mostly neutral: M_neutral = +0.8 with a zero-width interval, whatever the model says."""

    identity = JudgeIdentity("jump:0:0", "jump", "stub", "none", "0" * 16, "0" * 16)

    def __init__(self):
        self.calls = 0

    def score(self, items):
        self.calls += 1
        score = JudgeScore(0.8, 0.1, 0.1) if self.calls == 1 else JudgeScore(0.05, 0.9, 0.05)
        return [score for _ in items]


@pytest.fixture
def jump_judge(monkeypatch) -> JumpJudge:
    from vdbench.judges import registry

    judge = JumpJudge()
    monkeypatch.setattr(registry, "load_judge", lambda *a, **k: judge)
    return judge


def _summary(capsys) -> tuple[dict, str]:
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def _events(db: Path) -> list[tuple[int, str]]:
    with Store(db).read() as con:
        return con.execute("SELECT step, kind FROM run_events ORDER BY created_at, step").fetchall()


def _checkpoints(db: Path) -> list[tuple[int, str | None]]:
    with Store(db).read() as con:
        return con.execute("SELECT step, path FROM checkpoints ORDER BY step").fetchall()


def test_stop_on_budget_ends_training_cleanly_marks_the_run_and_resumes(tiny_world, tmp_path, capsys,
                                                                         jump_judge) -> None:
    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    argv = _args(tiny_world, tmp_path, judge="probe", every=2, drift_budget="neutral:0.1",
                 stop_on_budget=True, json=True)
    assert main(argv) == 0
    summary, err = _summary(capsys)
    # 24 rows, batch 4: 6 steps planned, sampled at 0, 2, 4, 6; neutral jumps by step 2.
    assert summary["total_steps"] == 6 and summary["metrics"]["steps"] == 2
    assert summary["checkpoints_stored"] == [0, 2]
    assert summary["stopped"]["step"] == 2
    assert {(b["topic"], b["stance"]) for b in summary["stopped"]["breaches"]} == {
        ("abortion", "neutral"), ("death_penalty", "neutral"), (ALL_TOPICS, "neutral")}
    assert ("warning: drift budget exceeded: abortion neutral moved M = +0.800 [+0.800, +0.800] "
            "from step 0 to step 2, beyond its budget of ±0.1") in err
    assert "stopping at step 2 of 6" in err
    # Saved cleanly: the final model, and a checkpoint the rerun resumes from, recorded.
    assert (out / "model.safetensors").exists() and (out / "checkpoint-2" / "trainer_state.json").exists()
    assert _checkpoints(db) == [(0, str(Path(tiny_world.model).resolve())), (2, f"{out.resolve()}/checkpoint-2")]
    assert _events(db) == [(2, "drift_budget"), (2, "stopped")]

    # What `vdbench metrics --json` and the TUI's Runs view read.
    assert main(["metrics", "--db", str(db), "--run", "sft", "--json", "--n-boot", "50"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stopped"]["step"] == 2 and report["stopped"]["planned_steps"] == 6
    assert [e["kind"] for e in report["events"]] == ["drift_budget", "stopped"]
    from vdbench.tui.data import TuiStore, load_overview

    run = load_overview(TuiStore(db))[0].runs[0]
    assert (run.stopped_step, run.budget_breaches) == (2, 3)

    # The same command again reports the stop and trains nothing.
    assert main(argv) == 0
    again, _ = _summary(capsys)
    assert again["stopped"]["already"] and again["samples_stored"] == 0
    assert len(_checkpoints(db)) == 2 and _events(db) == [(2, "drift_budget"), (2, "stopped")]

    # Without --stop-on-budget it resumes from checkpoint-2, trains to the end, duplicates nothing.
    assert main([a for a in argv if a != "--stop-on-budget"]) == 0
    resumed, err = _summary(capsys)
    assert resumed["checkpoints_stored"] == [4, 6] and resumed["stopped"] is None
    assert resumed["metrics"]["steps"] == 6
    assert "warning: drift budget exceeded" not in err  # those breaches are already recorded
    assert [s for s, _ in _checkpoints(db)] == [0, 2, 4, 6]
    with Store(db).read() as con:
        assert con.execute("SELECT count(*), count(DISTINCT sample_id) FROM samples").fetchone() == (32, 32)
    assert _events(db) == [(2, "drift_budget"), (2, "stopped"), (2, "resumed")]
    assert load_overview(TuiStore(db))[0].runs[0].stopped_step is None


def test_without_stop_on_budget_it_only_warns_and_trains_to_the_end(tiny_world, tmp_path, capsys,
                                                                    jump_judge) -> None:
    argv = _args(tiny_world, tmp_path, judge="probe", every=2, drift_budget="neutral:0.1", json=True)
    assert main(argv) == 0
    summary, err = _summary(capsys)
    assert summary["checkpoints_stored"] == [0, 2, 4, 6] and summary["metrics"]["steps"] == 6
    assert summary["stopped"] is None
    assert len(summary["budget_breaches"]) == 3  # each topic stance warned about once, at step 2
    assert err.count("warning: drift budget exceeded") == 3
    assert "death_penalty neutral moved M = +0.800" in err and "stopping" not in err
    assert _events(tmp_path / "s.duckdb") == [(2, "drift_budget")]


def test_a_stopped_run_is_marked_in_the_runs_view(tiny_world, tmp_path, capsys, jump_judge) -> None:
    from tests.fixtures.tui_store import make_app, screen_text, settle

    argv = _args(tiny_world, tmp_path, judge="probe", every=2, drift_budget="neutral:0.1",
                 stop_on_budget=True, json=True)
    assert main(argv) == 0

    async def go() -> str:
        app = make_app(tmp_path / "s.duckdb")
        async with app.run_test(size=(140, 30)) as pilot:
            await settle(pilot)
            return screen_text(app)

    text = asyncio.run(go())
    assert "sft ■ stopped" in text
    assert "drift budget exceeded by 3 topic stance(s)" in text
    assert "stopped at step 2 (rerun without --stop-on-budget to train on)" in text


# --- the micro world (slow): SFT on the neutral-heavy chat set ------------------------------


@pytest.fixture(scope="module")
def micro_world(tmp_path_factory):
    from vdbench.micro import build_micro_world

    # 300 pre-training steps: the base model gives a mix of stances (test_micro's finding).
    return build_micro_world(tmp_path_factory.mktemp("micro") / "w", seed=0, steps=300)


def _micro_args(world, tmp_path: Path, run: str, *extra: str) -> list[str]:
    return ["train", "sft", "--model", str(world.base), "--data", str(world.chat_sft),
            "--db", str(tmp_path / "m.duckdb"), "--run", run, "--output-dir", str(tmp_path / run),
            "--eval-set", "vprism-mini", "--samples", "2", "--max-new-tokens", "48", "--lr", "5e-4",
            "--batch-size", "16", "--max-steps", "45", "--eval-steps", "0,5,10,20,45",
            "--judge", "probe", "--drift-budget", "neutral:0.1", "--json", *extra]


@pytest.mark.slow
def test_micro_sft_chat_stops_early_on_a_neutral_budget(micro_world, tmp_path, capsys) -> None:
    assert main(_micro_args(micro_world, tmp_path, "stop", "--stop-on-budget")) == 0
    summary, err = _summary(capsys)
    stop = summary["stopped"]
    assert stop is not None and stop["step"] < 45 and summary["metrics"]["steps"] == stop["step"]
    assert all(b["stance"] == "neutral" and b["lo"] > 0.1 for b in stop["breaches"]), stop
    assert "warning: drift budget exceeded" in err
    assert _events(tmp_path / "m.duckdb") == [(stop["step"], "drift_budget"), (stop["step"], "stopped")]


@pytest.mark.slow
def test_micro_sft_chat_without_the_flag_warns_and_trains_on(micro_world, tmp_path, capsys) -> None:
    assert main(_micro_args(micro_world, tmp_path, "warn")) == 0
    summary, err = _summary(capsys)
    assert summary["stopped"] is None and summary["metrics"]["steps"] == 45
    assert summary["checkpoints_stored"] == [0, 5, 10, 20, 45]
    assert summary["budget_breaches"] and "warning: drift budget exceeded" in err
