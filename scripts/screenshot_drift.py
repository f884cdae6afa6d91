"""Save an SVG screenshot of the vdbench TUI's Drift view for one run of a store.

    python scripts/screenshot_drift.py --db vdbench-demo.duckdb --run sft-chat \\
        --output docs/img/drift.svg --size 120x36

It starts the real TUI (`vdbench.tui.app.VdbenchApp`) headless with Textual's
`App.run_test()`, opens the Runs view, moves the cursor to the run and presses `d` (as a
user would), waits until every data worker has finished and the Drift view holds its
curves, then writes `App.export_screenshot()` to --output. The store is only read.
Like the TUI itself it never imports torch.

Without --run it takes the first run (in the Runs view's lineage order) that has a
parent, else the first run. The Drift view shows the run side by side with its
siblings (runs trained from the same parent); --lineage shows the stages of its lineage
instead, and --stance picks the plotted stance (the view's default: neutral).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

# Run as a file (`python scripts/screenshot_drift.py`) from a checkout without installing.
_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

STANCES = ("support", "neutral", "oppose")
STANCE_KEY = {"support": "s", "neutral": "n", "oppose": "o"}


class ScreenshotError(RuntimeError):
    """The store cannot give the screenshot asked for (no runs, unknown run, no curves)."""


def parse_size(text: str) -> tuple[int, int]:
    try:
        cols, _, rows = text.lower().partition("x")
        size = int(cols), int(rows)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size must be COLSxROWS, e.g. 120x36; got {text!r}") from None
    if size[0] < 40 or size[1] < 12:
        raise argparse.ArgumentTypeError(f"--size {text} is too small (at least 40x12)")
    return size


def default_run(runs: list[Any]) -> str:
    """The first run (lineage order) that has a parent, else the first run."""
    with_parent = [r for r in runs if r.parent_run]
    return (with_parent or runs)[0].run_id


async def _settle(pilot: Any, deadline: float) -> None:
    from vdbench.tui.headless import settle

    if not await settle(pilot, deadline):
        raise ScreenshotError("timed out waiting for the TUI's store overview and data workers")


async def capture(db: Path, run: str | None, size: tuple[int, int], *, stance: str | None = None,
                  lineage: bool = False, n_boot: int = 1000, timeout_s: float = 120.0,
                  title: str | None = None) -> tuple[str, str]:
    """Drive the TUI to the Drift view of `run`; return (run id, SVG text)."""
    from vdbench.tui.app import VdbenchApp

    app = VdbenchApp(db, poll_s=None, n_boot=n_boot, cursor_blink=False, user="screenshot",
                     ci_delay_s=0.0)
    deadline = time.monotonic() + timeout_s
    async with app.run_test(size=size) as pilot:
        await _settle(pilot, deadline)
        if app.problem is not None:
            raise ScreenshotError(f"{app.problem.title}: {app.problem.detail}")
        runs = app.overview.runs
        if not runs:
            raise ScreenshotError(f"{db} has no runs")
        ids = [r.run_id for r in runs]
        run_id = run or default_run(runs)
        if run_id not in ids:
            raise ScreenshotError(f"no run {run_id!r} in {db}; runs: {', '.join(ids)}")

        # As a user would: in the Runs view, put the cursor on the run and press `d`.
        await pilot.press("1")
        await _settle(pilot, deadline)
        table = app.query_one("#runs-table")
        table.focus()
        table.move_cursor(row=ids.index(run_id))
        await pilot.pause()
        await pilot.press("d")
        await _settle(pilot, deadline)
        if app.query_one("TabbedContent").active != "drift" or app.selected_run != run_id:
            raise ScreenshotError("the TUI did not open the Drift view of the run")
        view = app.query_one("#view-drift")
        if lineage:
            await pilot.press("l")
            await _settle(pilot, deadline)
        if stance and stance != view.stance:
            await pilot.press(STANCE_KEY[stance])
            await _settle(pilot, deadline)

        # The curves arrive run by run; wait for the last one and its rendering.
        while not view.done:
            if time.monotonic() > deadline:
                raise ScreenshotError("timed out waiting for the drift curves")
            await pilot.pause(0.05)
            await _settle(pilot, deadline)
        usable = [c for c in view.curves if not c.values.empty]
        if not usable:
            problems = "; ".join(f"{c.problem.title}" for c in view.curves if c.problem)
            raise ScreenshotError(f"nothing to plot for run {run_id}"
                                  + (f" ({problems})" if problems else ""))
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        svg = app.export_screenshot(title=title or f"vdbench · drift · {run_id}")
    return run_id, svg


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="screenshot_drift.py",
        description="Save an SVG screenshot of the vdbench TUI's Drift view for a run.")
    p.add_argument("--db", required=True, type=Path, help="the vdbench DuckDB store (read only)")
    p.add_argument("--run", help="run to show (default: the first run that has a parent, "
                   "else the first run)")
    p.add_argument("--output", type=Path, default=Path("docs/img/drift.svg"),
                   help="SVG file to write (default docs/img/drift.svg)")
    p.add_argument("--size", type=parse_size, default=(120, 36), metavar="COLSxROWS",
                   help="terminal size (default 120x36)")
    p.add_argument("--stance", choices=STANCES, help="stance to plot (default: the view's, neutral)")
    p.add_argument("--lineage", action="store_true",
                   help="show the stages of the run's lineage instead of its siblings")
    p.add_argument("--n-boot", type=int, default=1000,
                   help="bootstrap replicates for CIs (default 1000, as `vdbench tui`)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="give up after S seconds (default 120)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.db.is_file():
        print(f"error: no store at {args.db}", file=sys.stderr)
        return 2
    # Deterministic output: no wall-clock dependent cursor, one thread for the numbers.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.monotonic()
    try:
        run_id, svg = asyncio.run(capture(args.db, args.run, args.size, stance=args.stance,
                                          lineage=args.lineage, n_boot=args.n_boot,
                                          timeout_s=args.timeout))
    except ScreenshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(svg, encoding="utf-8")
    tmp.replace(args.output)
    print(f"wrote {args.output} (drift view of run {run_id}, {args.size[0]}x{args.size[1]}, "
          f"{time.monotonic() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
