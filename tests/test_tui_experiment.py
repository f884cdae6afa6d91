"""The Experiment view: an experiment's grid points over seeds, a point's curve as the mean over
seeds with a min–max band, two marked points with the report's comparison, on a synthetic
store (no training: judged checkpoints written directly, plus the experiment's rows)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.tui_store import EVAL_SET, make_app, screen_text, settle, write_checkpoint
from vdbench.tui import experiment_data as ed
from vdbench.tui.experiment_data import SeedBand, SeedCurve

SIZE = (80, 24)
REPO = Path(__file__).resolve().parents[1]
N_BOOT = 100
EXPERIMENT = "beta-sweep"
A, B = "pref beta=0.1", "pref beta=0.5"
START = np.array([0.2, 0.6, 0.2])
# Where each point's runs end: beta=0.1 moves support far, beta=0.5 a little.
ENDS = {A: np.array([0.6, 0.3, 0.1]), B: np.array([0.3, 0.5, 0.2])}


def run(coro):
    return asyncio.run(coro)


def _row(experiment: str, run_id: str, point: str, beta: float, seed: int) -> list:
    return [experiment, run_id, "pref", "dpo", "pairs", None, point, json.dumps({"beta": beta}),
            json.dumps({"beta": beta, "lr": 1e-5}), seed, "support"]


def build_experiment_store(path: Path) -> Path:
    """2 grid points × 2 trained seeds (5 judged checkpoints each) and a third seed of B still
    planned; a second experiment whose only point is planned, nothing trained."""
    from vdbench.evalsets.registry import builtin_eval_set
    from vdbench.evalsets.stored import register_eval_set
    from vdbench.runs import RunSpec, register_run
    from vdbench.store import Store

    store = Store(path)
    register_eval_set(store, builtin_eval_set(EVAL_SET))
    rng = np.random.default_rng(3)
    rows = []
    for point, beta in ((A, 0.1), (B, 0.5)):
        for seed in (0, 1):
            run_id = f"pref-beta{beta}-s{seed}"
            register_run(store, RunSpec(run_id, "preference", "dpo", model="micro",
                                        eval_set=EVAL_SET, hparams={"beta": beta}, seed=seed))
            for i, frac in enumerate(np.linspace(0, 1, 5)):
                write_checkpoint(store, run_id, i * 25, 100, START + frac * (ENDS[point] - START),
                                 rng, k=1)
            rows.append(_row(EXPERIMENT, run_id, point, beta, seed))
    pending = _row(EXPERIMENT, "pref-beta0.5-s2", B, 0.5, 2)
    planned = _row("lr-sweep", "pref-lr1e-6-s0", "pref lr=1e-06", 0.1, 0)
    with store.write() as con:
        con.execute("INSERT INTO experiments (experiment, source, spec) VALUES "
                    "(?, 'beta.toml', '{}'), ('lr-sweep', 'lr.toml', '{}')", [EXPERIMENT])
        con.executemany("INSERT INTO experiment_runs (experiment, run_id, stage, algorithm, dataset, "
                        "parent_run, point, grid, options, seed, moved) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [*rows, pending, planned])
        for r in rows:  # the report counts a run as finished once training wrote its stats
            con.execute("INSERT INTO run_results (run_id, stats) VALUES (?, ?)",
                        [r[1], json.dumps({"first_margin": 0.0, "last_margin": 0.4 + r[9] / 10,
                                           "first_loss": 0.69, "last_loss": 0.41})])
    return path


@pytest.fixture(scope="module")
def exp_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_experiment_store(tmp_path_factory.mktemp("tui-exp") / "exp.duckdb")


@pytest.fixture(scope="module")
def report(exp_store: Path) -> dict:
    """What `vdbench experiment report --n-boot N_BOOT` computes: the TUI must show the same."""
    from vdbench.experiments.report import experiment_report
    from vdbench.store import Store

    return experiment_report(Store(exp_store), EXPERIMENT, n_boot=N_BOOT)


# ---------------------------------------------------------------------------- pure shaping


def test_curve_of_takes_one_topic_and_stance_by_fraction() -> None:
    points = pd.DataFrame({"topic": ["(all topics)", "(all topics)", "abortion", "(all topics)"],
                           "step": [50, 0, 0, 99], "v_support": [0.4, 0.2, 0.9, 0.5],
                           "v_neutral": [0.1] * 4, "v_oppose": [0.5] * 4})
    # Step 99 has no checkpoint row (no fraction): left out.
    assert ed.curve_of(points, {0: 0.0, 50: 0.5}, "support") == ((0.0, 0.2), (0.5, 0.4))
    assert ed.curve_of(points, {0: 0.0}, "support", topic="abortion") == ((0.0, 0.9),)
    assert ed.curve_of(pd.DataFrame(), {0: 0.0}, "support") == ()


def test_align_by_fraction_interpolates_inside_and_never_extrapolates() -> None:
    a = [(0.0, 0.2), (0.5, 0.4), (1.0, 0.6)]
    b = [(0.0, 0.3), (0.25, 0.35)]  # stopped at a quarter
    fractions, values, interpolated = ed.align_by_fraction([a, b])
    assert fractions.tolist() == [0.0, 0.25, 0.5, 1.0]
    assert values[0].tolist() == pytest.approx([0.2, 0.3, 0.4, 0.6])  # 0.25 interpolated
    assert values[1, :2].tolist() == [0.3, 0.35] and np.isnan(values[1, 2:]).all()
    assert interpolated
    # The same checkpoints everywhere: nothing interpolated; fractions equal to 6 places align.
    _, same, flag = ed.align_by_fraction([a, [(0.0000001, 0.1), (0.5, 0.2), (1.0, 0.3)]])
    assert same.shape == (2, 3) and not flag


def test_seed_band_is_mean_and_min_max_over_seeds() -> None:
    curves = [SeedCurve(1, "r1", ((0.0, 0.30), (1.0, 0.70))),
              SeedCurve(0, "r0", ((0.0, 0.20), (0.5, 0.30), (1.0, 0.50)))]
    band = ed.seed_band("p", "support", curves)
    assert band.seeds == (0, 1) and band.runs == ("r0", "r1")  # ordered by seed
    assert band.fractions == (0.0, 0.5, 1.0)
    assert band.mean == pytest.approx((0.25, 0.40, 0.60))  # seed 1 at 0.5: 0.5 (interpolated)
    assert band.lo == pytest.approx((0.20, 0.30, 0.50))
    assert band.hi == pytest.approx((0.30, 0.50, 0.70))
    assert band.n == (2, 2, 2) and band.interpolated
    one = ed.seed_band("p", "support", curves[1:])
    assert one.lo == one.mean == one.hi and not one.interpolated
    assert ed.seed_band("p", "support", []).empty


def test_matching_comparisons_finds_the_pair_in_either_order_and_slopes() -> None:
    comps = [{"kind": "difference", "a": "x", "b": "y"}, {"kind": "difference", "a": "y", "b": "z"},
             {"kind": "slope", "points": ["x", "y", "z"]}]
    assert ed.matching_comparisons(comps, "y", "x") == [comps[0], comps[2]]
    assert ed.matching_comparisons(comps, "x", "z") == [comps[2]]
    assert ed.matching_comparisons(comps, "x", "w") == []


def test_band_plot_draws_mean_over_band_and_both_bands() -> None:
    from vdbench.tui.views.experiment import band_legend, band_plot

    rising = SeedBand("a", "support", (0, 1), ("r0", "r1"), (0.0, 1.0), (0.1, 0.6), (0.0, 0.5),
                      (0.2, 0.7), (2, 2))
    falling = SeedBand("b", "support", (0, 1), ("s0", "s1"), (0.0, 1.0), (0.5, 0.45),
                       (0.4, 0.35), (0.6, 0.55), (2, 2))
    lines = [t.plain for t in band_plot([rising, falling], 40, 10)]
    body = "\n".join(lines)
    assert len(lines) == 11 and lines[0].startswith("0.70 ┤") and lines[-1].strip().startswith("0")
    assert body.count("●") == 2 and body.count("◆") == 2  # a marker at each checkpoint
    assert "·" in body and ":" in body and "+" in body  # each band, and where they overlap
    legend = band_legend([rising, falling]).plain
    assert "● a support: mean of seeds 0, 1" in legend and "◆ b" in legend
    assert "min–max over seeds" in legend
    assert band_plot([SeedBand("e", "support", (), (), (), (), (), (), ())], 40, 8)[0].plain == \
        "(no judged checkpoints)"


# ---------------------------------------------------------------------------- the view


def flat(text: str) -> str:
    """The screen's words in order, so a line wrapped at 80 columns still matches."""
    return " ".join(text.split())


def _view(app):
    return app.query_one("#view-experiment")


async def _open(pilot) -> None:
    await settle(pilot)
    await pilot.press("7")
    await settle(pilot, rounds=8)


def test_grid_curves_and_comparison_at_80x24(exp_store: Path, report: dict) -> None:
    from vdbench.experiments.render import compare_cells, point_cells

    cells = {p["point"]: point_cells(p) for p in report["points"]}
    diff = next(c for c in report["comparisons"] if {c["a"], c["b"]} == {A, B})

    async def go():
        app = make_app(exp_store, n_boot=N_BOOT)
        async with app.run_test(size=SIZE) as pilot:
            await _open(pilot)
            text = screen_text(app)
            assert "7 Experiment" in text
            assert f"experiment {EXPERIMENT} · 2 points · 5 runs" in text and "1/2 x: next" in text
            for point in (A, B):  # one row per point: mean M with its CI, as the CLI prints it
                assert point in text and cells[point][4] in text
            assert "2/3" in text  # B: two seeds finished of three planned
            assert "enter: curves of a point" in text

            await pilot.press("enter")  # the first point: its curve over both seeds
            await settle(pilot)
            text = screen_text(app)
            assert f"● {A} support: mean of seeds 0, 1" in text
            assert "band (·) = min–max over seeds" in text
            assert "┤" in text and "·" in text and "0.25" in text
            assert "M per seed: 0:" in text and "1:" in text
            band = _view(app).bands[0]
            assert band.seeds == (0, 1) and len(band.fractions) == 5
            assert band.mean[-1] > band.mean[0]  # support rises for beta=0.1
            exported = _view(app).export_frame()
            assert exported[0] == f"experiment-{EXPERIMENT}-curves"
            assert list(exported[1]["point"].unique()) == [A]

            await pilot.press("space", "down", "space")  # mark both: overlaid, with the verdict
            await settle(pilot)
            text = screen_text(app)
            assert _view(app).marked == [A, B]
            assert f"● {A}" in text and f"◆ {B}" in text
            axis, _, _, difference, verdict = compare_cells(diff)
            assert f"{axis}: {A} − {B} · M(support) {difference} · {verdict}" in flat(text)
            assert len(_view(app).bands) == 2

            await pilot.press("c")  # every comparison; enter on one overlays its two points
            await settle(pilot)
            text = screen_text(app)
            assert "1 comparison(s)" in text and verdict in text  # the verdict column comes early
            assert _view(app).export_frame()[1]["verdict"].tolist() == [verdict]
            await pilot.press("enter")
            await settle(pilot)
            assert not _view(app).show_all and sorted(_view(app).marked) == sorted([A, B])

            lines = screen_text(app).splitlines()
            assert len(lines) == 24 and all(len(line) <= 80 for line in lines)

    run(go())


def test_report_is_computed_off_the_ui_thread_with_a_visible_state(
        exp_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    calls: list[str] = []
    real = ed.compute_report

    def slow(ts, name, **kwargs):
        calls.append(name)
        assert threading.current_thread() is not threading.main_thread()
        gate.wait(20)
        return real(ts, name, **kwargs)

    monkeypatch.setattr(ed, "compute_report", slow)

    async def go():
        app = make_app(exp_store, n_boot=N_BOOT)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("7")
            deadline = time.monotonic() + 10
            while "computing…" not in screen_text(app) and time.monotonic() < deadline:
                await pilot.pause(0.05)
            text = screen_text(app)
            assert "computing… the report reads all 5 runs' metrics" in text
            await pilot.press("x")  # another experiment while computing: queued, not in parallel
            await pilot.pause(0.1)
            assert calls == [EXPERIMENT]
            gate.set()
            await settle(pilot, rounds=12)
            text = screen_text(app)
            assert calls == [EXPERIMENT, "lr-sweep"]
            assert "experiment lr-sweep · 1 points · 1 runs" in text and "0/1" in text
            assert "pref lr=1e-06" in text and "pending" in text
            await pilot.press("enter")
            await settle(pilot)
            assert "no finished run yet" in screen_text(app)
            await pilot.press("x")  # back: the first report comes from memory
            await settle(pilot)
            assert calls == [EXPERIMENT, "lr-sweep"] and A in screen_text(app)
            app.action_refresh()  # the store did not change: nothing is recomputed
            await settle(pilot, rounds=8)
            assert calls == [EXPERIMENT, "lr-sweep"]

    run(go())


def test_empty_state_says_how_to_make_an_experiment(empty_store: Path) -> None:
    async def go():
        app = make_app(empty_store)
        async with app.run_test(size=SIZE) as pilot:
            await _open(pilot)
            text = flat(screen_text(app))
            assert "No experiments in this store" in text
            assert "vdbench experiment run micro-paper" in text
            assert "vdbench experiment run FILE.toml" in text
            assert _view(app).export_frame() is None

    run(go())


def test_report_and_curves_read_without_the_ml_stack(exp_store: Path) -> None:
    heavy = ("torch", "transformers", "trl", "accelerate", "peft", "sklearn")
    code = (f"import sys; from vdbench.tui import data, experiment_data as ed; "
            f"b = data.Backend({str(exp_store)!r}); infos = ed.list_experiments(b.ts); "
            f"r = ed.compute_report(b.ts, infos[0].name, n_boot=5, confidence=0.95); "
            f"p = r['points'][0]; ed.seed_band(p['point'], p['moved'], "
            f"ed.seed_curves(b.ts, p['per_seed'], p['moved'])); "
            f"print([m for m in sys.modules if m.split('.')[0] in {heavy!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
