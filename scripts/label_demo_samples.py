"""Give a demo store human labels the way a user makes them: through the TUI's labelling mode.

    python scripts/label_demo_samples.py --db .vdbench/demo.duckdb --run dpo --n 60

Drives the real `vdbench tui` app headless with Textual's Pilot (`app.run_test()`): in the
Runs view it moves the cursor to RUN and presses enter, then 6 (Judge), l (labelling mode),
r (this run's samples only), and one of s / n / o per sample. The labels land in
`reference_labels` as `human:USER` (default `human:demo`), like a person's would.

The annotator is simulated, and says so: for each sample it takes the judge's own label
(the one `j` would reveal) and, with probability --flip (default 0.15, from a generator
seeded by --seed), replaces it with one of the two other stances chosen uniformly. The
labels are therefore NOT ground truth; they stand in for an annotator who disagrees with
the judge about --flip of the time, so the label-driven paths (`vdbench judge eval` on
human labels, corrected values) can be run on a demo store. A sample with no judgment is
skipped (k). Reruns continue where the last stopped: the queue lists only unlabelled samples.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

STANCES = ("support", "neutral", "oppose")
KEYS = {"support": "s", "neutral": "n", "oppose": "o"}
SETTLE_S = 60.0


def choose_label(judge_label: str, rng: np.random.Generator, flip: float) -> str:
    """The judge's label, or with probability `flip` one of the other two (uniformly).

    Draws exactly two numbers per call, so the n-th choice depends only on the seed and n.
    """
    u, pick = rng.random(), rng.integers(2)
    if u >= flip:
        return judge_label
    others = [s for s in STANCES if s != judge_label]
    return others[int(pick)]


async def _settle(pilot: Any) -> None:
    from vdbench.tui.headless import settle

    if not await settle(pilot, time.monotonic() + SETTLE_S):
        raise RuntimeError(f"the TUI did not settle within {SETTLE_S:.0f} s")


async def _open_run(pilot: Any, run_id: str) -> None:
    """In the Runs view, move the cursor to the run and press enter (it becomes the selection)."""
    app = pilot.app
    await pilot.press("1")
    await _settle(pilot)
    runs = [r.run_id for r in (app.overview.runs if app.overview else [])]
    if run_id not in runs:
        raise SystemExit(f"error: no run {run_id!r} in {app.db} (runs: {', '.join(runs) or 'none'})")
    table = app.query_one("#runs-table")
    target = runs.index(run_id)
    for _ in range(len(runs)):
        if table.cursor_row == target:
            break
        await pilot.press("down" if table.cursor_row < target else "up")
    await pilot.press("enter")
    await _settle(pilot)
    if app.selected_run != run_id:
        raise RuntimeError(f"could not select run {run_id!r} in the Runs view")


async def label_samples(db: Path, run_id: str, n: int, *, user: str = "demo", flip: float = 0.15,
                        seed: int = 0, size: tuple[int, int] = (100, 30)) -> dict[str, Any]:
    """Label up to n of the run's unlabelled samples through the TUI; a summary of what was done."""
    from vdbench.tui.app import VdbenchApp

    rng = np.random.default_rng(seed)
    app = VdbenchApp(db, poll_s=None, user=user, cursor_blink=False, prefetch=False, n_boot=200,
                     ci_delay_s=0.0)
    done: list[tuple[int, str, str]] = []  # (sample_id, judge label, label given)
    skipped = 0
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        if app.problem is not None:
            raise SystemExit(f"error: {app.problem.title}: {app.problem.detail}")
        await _open_run(pilot, run_id)
        await pilot.press("6")
        await _settle(pilot)
        await pilot.press("l")  # labelling mode
        await _settle(pilot)
        await pilot.press("r")  # this run's samples only
        await _settle(pilot)
        view = app.query_one("#view-judge")
        if view.queue is None or view.queue.run_id != run_id:
            raise RuntimeError("the labelling queue is not scoped to the run")
        while len(done) < n:
            item = view._item()
            if item is None:
                break  # nothing left unlabelled in this run
            if item.get("label") not in STANCES:
                skipped += 1
                await pilot.press("k")
                await _settle(pilot)
                continue
            label = choose_label(item["label"], rng, flip)
            await pilot.press(KEYS[label])
            await _settle(pilot)  # the write, and the next page when this one ran out
            done.append((int(item["sample_id"]), item["label"], label))
        await _settle(pilot)
    agree = sum(j == g for _, j, g in done)
    return {"db": str(db), "run": run_id, "source": f"human:{user}", "labelled": len(done),
            "stored": _stored(db, f"human:{user}", [sid for sid, _, _ in done]),
            "agree_with_judge": agree, "skipped_unjudged": skipped, "flip": flip, "seed": seed,
            "labels": done}


def _stored(db: Path, source: str, sample_ids: list[int]) -> int:
    """How many of these samples the store now holds a label of `source` for."""
    from vdbench.store import Store

    if not sample_ids:
        return 0
    marks = ", ".join("?" * len(sample_ids))
    with Store(db).read() as con:
        return int(con.execute(f"SELECT count(*) FROM reference_labels WHERE source = ? "
                               f"AND sample_id IN ({marks})", [source, *sample_ids]).fetchone()[0])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path, help="the store (e.g. .vdbench/demo.duckdb)")
    parser.add_argument("--run", required=True, help="the run whose samples to label")
    parser.add_argument("--n", type=int, default=60, help="how many samples to label (default 60)")
    parser.add_argument("--user", default="demo", help="labels are stored as human:USER (default demo)")
    parser.add_argument("--flip", type=float, default=0.15,
                        help="probability of disagreeing with the judge's label (default 0.15)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the flips (default 0)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    if not 0.0 <= args.flip <= 1.0:
        parser.error("--flip must be in [0, 1]")
    if not args.db.exists():
        parser.error(f"no store at {args.db}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = asyncio.run(label_samples(args.db, args.run, args.n, user=args.user,
                                        flip=args.flip, seed=args.seed))
    n = summary["labelled"]
    print(f"labelled {n} sample(s) of run {args.run} as {summary['source']} in {args.db}: "
          f"{summary['agree_with_judge']} agree with the judge, {n - summary['agree_with_judge']} "
          f"flipped (p={args.flip:g}, seed {args.seed})"
          + (f", {summary['skipped_unjudged']} unjudged skipped" if summary["skipped_unjudged"] else ""))
    if summary["stored"] != n:
        print(f"error: only {summary['stored']} of the {n} labels are in the store", file=sys.stderr)
        return 1
    if n < args.n:
        print(f"only {n} of {args.n}: the run has no more unlabelled judged samples", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
