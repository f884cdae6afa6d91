"""Live refresh: a real writer process appends checkpoints while the app runs; they appear
without a restart, and neither side reports a lock error."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures.tui_store import make_app, screen_text, settle

REPO = Path(__file__).resolve().parents[1]

WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from tests.fixtures.tui_store import write_checkpoint
from vdbench.runs import RunSpec, register_run
from vdbench.store import Store

db, go = sys.argv[1], Path(sys.argv[2])
store = Store(db)
rng = np.random.default_rng(3)
register_run(store, RunSpec("live", "preference", "dpo", model="example", parent_run="sft",
                            eval_set="vprism-mini"))
write_checkpoint(store, "live", 0, 200, np.array([0.12, 0.75, 0.13]), rng)
print("first", flush=True)
deadline = time.time() + 60
while not go.exists() and time.time() < deadline:
    time.sleep(0.05)
for step, dist in ((100, [0.3, 0.6, 0.1]), (200, [0.45, 0.45, 0.10])):
    # Many small transactions, as a training callback would write them.
    write_checkpoint(store, "live", step, 200, np.array(dist), rng)
    time.sleep(0.2)
print("done", flush=True)
"""


async def _wait_for(pilot, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            app = pilot.app
            workers = [(w.name, w.state.name) for w in app.workers]
            raise AssertionError(f"timed out; signature {app._signature}; "
                                 f"workers {workers}; screen:\n{screen_text(app)}")
        await pilot.pause(0.05)


def test_checkpoints_from_a_running_writer_appear_live(tui_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.duckdb"
    shutil.copy(tui_store, db)
    go = tmp_path / "go"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(go)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    async def run() -> None:
        app = make_app(db, poll_s=0.25)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)

            def has_live(n: int) -> bool:
                return app.overview is not None and any(
                    r.run_id == "live" and r.n_checkpoints >= n for r in app.overview.runs)

            await _wait_for(pilot, lambda: has_live(1))
            assert "live" in screen_text(app)  # the Runs tree grew without a restart
            app.select_run("live")
            await pilot.press("2")
            await _wait_for(pilot, lambda: "1/1" in screen_text(app))
            go.touch()  # the writer goes on while the Stances view shows its run
            await _wait_for(pilot, lambda: "step 200/200 · 100% · 3/3" in screen_text(app))
            view = app.query_one("#view-stances")
            await _wait_for(pilot, lambda: view.snapshot is not None
                            and view.snapshot.checkpoint.step == 200)
            assert app.live_updates >= 1  # two writes may land within one poll
            assert not view.notice.shown
            text = screen_text(app)
            assert "lock" not in text.lower() and "cannot open" not in text
            assert not list(app._notifications)  # no error toast either

    try:
        asyncio.run(run())
    except AssertionError as exc:
        go.touch()
        out, err = writer.communicate(timeout=60)
        raise AssertionError(f"{exc}\nwriter exit {writer.returncode}; stdout {out!r}; "
                             f"stderr:\n{err}") from None
    go.touch()
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert out.split() == ["first", "done"]
    assert "lock" not in err.lower()
