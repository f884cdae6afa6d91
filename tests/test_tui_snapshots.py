"""SVG snapshots of every view at 80×24 and 120×40 on the fixed TUI store.

Update after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`
and look at the report before committing the new SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.tui_store import make_app, settle

SIZES = [(80, 24), (120, 40)]
VIEWS = {
    "runs": (),
    "stances": ("2", "left", "left"),
    "drift": ("3", "down"),
    "audit": ("4", "down"),
    "samples": ("5", "down", "down"),
    "judge": ("6",),
}


def _before(keys: tuple[str, ...]):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_view_snapshot(view: str, size: tuple[int, int], tui_store: Path, snap_compare) -> None:
    assert snap_compare(make_app(tui_store), terminal_size=size, run_before=_before(VIEWS[view]))


def test_labelling_snapshot(tui_store: Path, snap_compare) -> None:
    assert snap_compare(make_app(tui_store), terminal_size=(80, 24), run_before=_before(("6", "l")))


def test_help_snapshot(tui_store: Path, snap_compare) -> None:
    assert snap_compare(make_app(tui_store), terminal_size=(80, 24), run_before=_before(("f1",)))


def test_empty_store_snapshot(empty_store: Path, snap_compare) -> None:
    assert snap_compare(make_app(empty_store), terminal_size=(80, 24), run_before=_before(()))
