"""Progress of long steps: rich bars on a terminal, one plain line per phase elsewhere.

Work reports through a `ProgressFn` — `(phase, done, total)` — so the code that does the
work (pre-training, a training stage, an audit) knows nothing about how it is shown.
`Board` shows several jobs at once (the demo runs stages in parallel worker processes,
which send the same three values through a queue).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)


def no_progress(_phase: str, _done: int, _total: int) -> None:
    """The default reporter: silence."""


class Board:
    """Rows of progress, one per job: live bars when `console` is a terminal, else lines.

    On a terminal each job has a bar with its current phase (e.g. "train", "sample step 20");
    elsewhere (CI logs, pipes) a line is printed when a job starts a new phase and when it
    ends, so logs stay short and readable.
    """

    def __init__(self, console: Any, *, stream: Any = None):
        self.console = console
        self.live = bool(console.is_terminal)
        self.stream = stream or sys.stderr
        self._tasks: dict[str, Any] = {}
        self._phase: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._progress: Any = None
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.fields[job]:<24}"), BarColumn(bar_width=24),
                MofNCompleteColumn(), TextColumn("{task.fields[phase]}"), TimeElapsedColumn(),
                console=console, transient=False,
            )

    def __enter__(self) -> Board:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, job: str, total: int = 0, phase: str = "waiting") -> None:
        if job in self._tasks:
            return
        self._phase[job] = ""
        if self._progress is not None:
            self._tasks[job] = self._progress.add_task(
                job, total=total or None, job=job, phase=phase, start=False)
        else:
            self._tasks[job] = None

    def update(self, job: str, phase: str, done: int, total: int) -> None:
        """Job `job` is in `phase`, `done` of `total` units through it."""
        self.add(job)
        if job not in self._started:
            self._started[job] = time.perf_counter()
            if self._progress is not None:
                self._progress.start_task(self._tasks[job])
        if self._progress is not None:
            self._progress.update(self._tasks[job], phase=phase, completed=done, total=total or None)
        elif phase != self._phase[job]:
            print(f"{job}: {phase} ({done}/{total})" if total else f"{job}: {phase}",
                  file=self.stream, flush=True)
        self._phase[job] = phase

    def finish(self, job: str, text: str) -> None:
        """Job `job` is over; `text` says how it ended (e.g. "done in 35 s", "skipped")."""
        self.add(job)
        if self._progress is not None:
            task = self._tasks[job]
            total = self._progress.tasks[task].total or 1
            self._progress.update(task, phase=text, completed=total, total=total)
            self._progress.stop_task(task)
        else:
            print(f"{job}: {text}", file=self.stream, flush=True)
        self._phase[job] = text

    def fn(self, job: str) -> ProgressFn:
        """A `ProgressFn` that reports into this board's row for `job`."""
        return lambda phase, done, total: self.update(job, phase, done, total)
