"""Driving the TUI headless (screenshots, tests): wait until its data work is done."""

from __future__ import annotations

import time
from typing import Any


async def settle(pilot: Any, deadline: float, rounds: int | None = None) -> bool:
    """Wait until the store's overview is read (after the first paint), no data worker
    runs and every message the workers posted has been handled.

    `deadline` is a `time.monotonic()` value; `rounds` caps the wait-for-workers rounds.
    Returns False if the deadline passed or the rounds ran out first.
    """
    from textual.worker import WorkerCancelled

    app = pilot.app
    while app.overview is None and app.problem is None:
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.02)
    done = 0
    while time.monotonic() < deadline and (rounds is None or done < rounds):
        done += 1
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:  # superseded by a newer request of the same kind
            pass
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return True
    return False
