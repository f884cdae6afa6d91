"""TUI benchmarks on a 1,000,000-judgment store.

  python benchmarks/bench_tui.py [--store PATH] [--repeat N]

1. Start-up to first paint: wall time from spawning `python` to the app's first
   refresh, for a bare Textual app (the baseline) and for `vdbench tui` on the big store;
   also the time until the runs tree is filled. Target: first paint < 1.5 s.
2. Scrubbing one checkpoint in the Stances view: key press → the new checkpoint's bars on
   screen, and → its bootstrap CIs on screen. Cold: nothing precomputed (bars come from
   one SQL aggregate, then the 1000-draw bootstrap runs). Warm: the default, where the
   neighbouring checkpoints were computed in the background after the last scrub.
   Target: < 100 ms.

The store (4 runs x 91 checkpoints x 550 prompts x 5 samples = 1,001,000 judgments) is
built from Arrow tables (no model) and cached under /tmp/vdbench-bench/.
Threads are pinned (BLAS/OpenMP 1) so figures are comparable between runs.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.harness import Benchmark, Result  # noqa: E402

DEFAULT_STORE = Path("/tmp/vdbench-bench/tui-1m-v1.duckdb")
RUNS = (("sft", "sft", "sft", None), ("dpo", "preference", "dpo", "sft"),
        ("simpo", "preference", "simpo", "sft"), ("ppo", "preference", "ppo", "sft"))
N_CHECKPOINTS = 91
SAMPLES_PER_PROMPT = 5


def build_big_store(path: Path, n_checkpoints: int = N_CHECKPOINTS) -> Path:
    """4 runs × 91 checkpoints (fewer in quick mode) of the 550-prompt eval set, 5 judged samples each."""
    import numpy as np
    import pyarrow as pa

    from vdbench.evalsets.registry import builtin_eval_set
    from vdbench.evalsets.stored import register_eval_set
    from vdbench.example import EXAMPLE_JUDGE
    from vdbench.judgments import register_judge
    from vdbench.runs import RunSpec, register_run
    from vdbench.store import Store, insert_arrow, sample_id

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    store = Store(partial)
    evalset = builtin_eval_set("vprism")
    register_eval_set(store, evalset)
    rng = np.random.default_rng(0)
    prompts = evalset.prompts
    k = SAMPLES_PER_PROMPT
    per_ckpt = len(prompts) * k
    prompt_ids = np.repeat([p.prompt_id for p in prompts], k)
    topics = np.repeat([p.topic for p in prompts], k)
    sample_idx = np.tile(np.arange(k, dtype=np.int32), len(prompts))
    labels_lut = np.array(["support", "neutral", "oppose"])
    total = 100 * (n_checkpoints - 1)
    for run_id, stage, algo, parent in RUNS:
        register_run(store, RunSpec(run_id, stage, algo, model="bench", parent_run=parent,
                                    eval_set="vprism", seed=0))
        start = np.array([0.35, 0.25, 0.40]) if parent is None else np.array([0.12, 0.75, 0.13])
        end = {"sft": [0.12, 0.75, 0.13], "dpo": [0.45, 0.45, 0.10], "simpo": [0.25, 0.6, 0.15],
               "ppo": [0.13, 0.74, 0.13]}[run_id]
        with store.write() as con:
            register_judge(con, EXAMPLE_JUDGE)
            for i in range(n_checkpoints):
                step = i * 100
                frac = step / total
                dist = start + (1 - np.exp(-4 * frac)) / (1 - np.exp(-4)) * (np.array(end) - start)
                logits = np.log(dist)[None, :] + rng.normal(0, 0.6, size=(per_ckpt, 3))
                probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                ids = np.array([sample_id(run_id, step, "vprism", p, j)
                                for p, j in zip(prompt_ids, sample_idx, strict=True)], dtype=np.int64)
                labels = labels_lut[probs.argmax(axis=1)]
                insert_arrow(con, "samples", pa.table({
                    "sample_id": ids, "run_id": [run_id] * per_ckpt,
                    "step": pa.array(np.full(per_ckpt, step, np.int32)),
                    "eval_set": ["vprism"] * per_ckpt, "prompt_id": prompt_ids, "topic": topics,
                    "sample_idx": sample_idx, "text": np.char.add("(bench answer: ", labels) ,
                    "n_tokens": pa.array(np.full(per_ckpt, 40, np.int32)), "health": ["ok"] * per_ckpt,
                    "gen_settings": [None] * per_ckpt,
                }))
                insert_arrow(con, "judgments", pa.table({
                    "judge_id": [EXAMPLE_JUDGE.judge_id] * per_ckpt, "sample_id": ids,
                    "run_id": [run_id] * per_ckpt, "step": pa.array(np.full(per_ckpt, step, np.int32)),
                    "topic": topics, "prompt_id": prompt_ids, "p_support": probs[:, 0],
                    "p_neutral": probs[:, 1], "p_oppose": probs[:, 2], "label": labels,
                    "truncated": np.zeros(per_ckpt, bool), "note": [None] * per_ckpt,
                }))
                con.execute("INSERT INTO checkpoints (run_id, step, total_steps, fraction) "
                            "VALUES (?, ?, ?, ?)", [run_id, step, total, frac])
    partial.rename(path)
    return path


def ensure_store(path: Path, n_checkpoints: int = N_CHECKPOINTS) -> Path:
    if not path.exists():
        t = time.perf_counter()
        print(f"building the {n_checkpoints}-checkpoint store at {path} (cached for later runs)…",
              flush=True)
        build_big_store(path, n_checkpoints)
        print(f"  built in {time.perf_counter() - t:.1f} s", flush=True)
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM judgments").fetchone()[0]
    print(f"store: {path} · {n:,} judgments · {path.stat().st_size / 2**20:.0f} MiB")
    return path


# -- 1. start-up -----------------------------------------------------------------------------

BARE = """
import sys, time
from textual.app import App
from textual.widgets import Footer, Static
class Bare(App):
    def compose(self):
        yield Static("hello")
        yield Footer()
    def on_mount(self):
        self.call_after_refresh(self.done)
    def done(self):
        print("paint", time.time(), flush=True)
        self.exit()
Bare().run(headless=True, size=(80, 24))
"""

VDBENCH = """
import sys, time
from vdbench.tui.app import VdbenchApp, OverviewLoaded
class Timed(VdbenchApp):
    painted = False
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(self.first_paint)
    def first_paint(self):
        print("paint", time.time(), flush=True)
    def on_overview_loaded(self, message):
        self.call_after_refresh(self.runs_shown)
    def runs_shown(self):
        print("runs", time.time(), flush=True)
        self.exit()
Timed(sys.argv[1], poll_s=None).run(headless=True, size=(80, 24))
"""


def spawn_times(script: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True,
                         text=True, env=env, timeout=120, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-2000:]}")
    marks = {}
    for line in out.stdout.splitlines():
        name, _, stamp = line.partition(" ")
        if name in ("paint", "runs"):
            marks[name] = float(stamp) - t0
    return marks


def bench_startup(store: Path, repeat: int) -> dict[str, float]:
    spawn_times(BARE)  # warm the OS file cache for both
    spawn_times(VDBENCH, str(store))
    bare = [spawn_times(BARE)["paint"] for _ in range(repeat)]
    runs = [spawn_times(VDBENCH, str(store)) for _ in range(repeat)]
    result = {
        "bare_first_paint_s": statistics.median(bare),
        "vdbench_first_paint_s": statistics.median(r["paint"] for r in runs),
        "vdbench_runs_shown_s": statistics.median(r["runs"] for r in runs),
    }
    print(f"\n1. start-up (median of {repeat}, wall time from spawning python)")
    print(f"   bare Textual app, first paint     {result['bare_first_paint_s']:.3f} s  (baseline)")
    print(f"   vdbench tui, first paint          {result['vdbench_first_paint_s']:.3f} s  "
          f"({result['vdbench_first_paint_s'] / result['bare_first_paint_s']:.2f}× baseline; target < 1.5 s)")
    print(f"   vdbench tui, runs tree on screen  {result['vdbench_runs_shown_s']:.3f} s")
    return result


# -- 2. scrubbing ----------------------------------------------------------------------------


async def _scrub(store: Path, presses: int, prefetch: bool, pause_s: float) -> list[tuple[float, float]]:
    """(bars on screen, CIs on screen) seconds after each ← key, measured inside the app.

    The key goes straight to the driver (Pilot.press would wait for the app to go idle,
    which includes the background bootstrap); "on screen" is the refresh after the view
    rendered the checkpoint.
    """
    from textual import events

    from vdbench.tui.app import VdbenchApp

    app = VdbenchApp(store, poll_s=None, cursor_blink=False, prefetch=prefetch)
    timings: list[tuple[float, float]] = []
    async with app.run_test(size=(80, 24)) as pilot:
        while app.overview is None:
            await asyncio.sleep(0.01)
        await pilot.press("2")
        view = app.query_one("#view-stances")
        deadline = time.monotonic() + 60
        while view.painted is None or not view.painted[1]:
            if time.monotonic() > deadline:
                raise SystemExit("the Stances view never showed a checkpoint")
            await asyncio.sleep(0.01)
        for _ in range(presses):
            await app.workers.wait_for_complete()
            await asyncio.sleep(pause_s)  # a user looks at the bars before the next key
            want = view.series.checkpoints[view.index - 1].step
            t = time.perf_counter()
            key = events.Key("left", None)
            key.set_sender(app)
            app._driver.send_message(key)
            bars = None
            while True:
                painted = view.painted
                if painted is not None and painted[0] == want:
                    bars = bars or painted[2]
                    if painted[1]:
                        break
                if time.perf_counter() - t > 30:
                    raise SystemExit("a scrub never completed")
                await asyncio.sleep(0.002)
            timings.append((bars - t, painted[2] - t))
    return timings


def bench_scrub(store: Path, presses: int) -> dict[str, float]:
    cold = asyncio.run(_scrub(store, presses, prefetch=False, pause_s=0.5))
    warm = asyncio.run(_scrub(store, presses, prefetch=True, pause_s=0.5))

    def stats(xs: list[float]) -> tuple[float, float]:
        xs = sorted(xs)
        return statistics.median(xs) * 1000, xs[int(0.9 * (len(xs) - 1))] * 1000

    out = {}
    print(f"\n2. scrubbing one checkpoint (←), {presses} presses, 80×24, n_boot 1000;"
          f" ms from key to screen, median · p90 (target < 100 ms)")
    for name, runs in (("cold", cold), ("warm", warm)):
        (bm, b90), (cm, c90) = stats([b for b, _ in runs]), stats([c for _, c in runs])
        out.update({f"scrub_{name}_bars_median_ms": bm, f"scrub_{name}_bars_p90_ms": b90,
                    f"scrub_{name}_ci_median_ms": cm, f"scrub_{name}_ci_p90_ms": c90})
        label = {"cold": "cold: nothing precomputed          ",
                 "warm": "warm: neighbours prefetched (default)"}[name]
        print(f"   {label} bars {bm:6.1f} · {b90:6.1f}   with CIs {cm:6.1f} · {c90:6.1f}")
    return out


QUICK_STORE = Path("/tmp/vdbench-bench/tui-quick-v1.duckdb")
QUICK_CHECKPOINTS = 6


def run(quick: bool) -> list[Result]:
    """For benchmarks/run.py: first paint vs a bare Textual app, and a warm vs cold scrub.

    Quick mode: a 6-checkpoint store (~66k judgments), one start-up, three key presses.
    """
    store = ensure_store(QUICK_STORE, QUICK_CHECKPOINTS) if quick else ensure_store(DEFAULT_STORE)
    start = bench_startup(store, 1 if quick else 5)
    scrub = bench_scrub(store, 3 if quick else 12)
    paint = start["vdbench_first_paint_s"]
    warm_ms = scrub["scrub_warm_ci_median_ms"]
    return [
        Result("tui.startup", "vdbench tui first paint", "a bare Textual app's first paint",
               paint, start["bare_first_paint_s"], "first paint < 1.5 s", paint < 1.5,
               {"runs_shown_s": f"{start['vdbench_runs_shown_s']:.2f}"}),
        Result("tui.scrub", "scrub one checkpoint, neighbours prefetched (bars + CIs)",
               "the same scrub with nothing precomputed", warm_ms / 1e3,
               scrub["scrub_cold_ci_median_ms"] / 1e3, "< 100 ms", warm_ms < 100,
               {"warm_bars_ms": f"{scrub['scrub_warm_bars_median_ms']:.1f}"}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--presses", type=int, default=12)
    parser.add_argument("--only", choices=("startup", "scrub"))
    args = parser.parse_args()
    store = ensure_store(args.store)
    if args.only != "scrub":
        bench_startup(store, args.repeat)
    if args.only != "startup":
        bench_scrub(store, args.presses)


BENCHMARKS = [Benchmark("tui.startup_scrub", run)]

if __name__ == "__main__":
    main()
