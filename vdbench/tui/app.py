"""The vdbench TUI over one store: runs, stances, drift, audit, samples, judge, experiments.

Start-up paints at once: pandas, DuckDB and the metrics are imported by the first worker,
not here. Every query runs in a ``@work(thread=True)`` worker that posts a message; the
handlers own the widgets. A poll worker fingerprints the store every `poll_s` seconds
with a short read-only connection and reloads what changed, so checkpoints written by a
running training process appear live; a store locked by that writer is simply retried on
the next tick.
"""

from __future__ import annotations

import getpass
import os
import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from vdbench.tui.screens import ExportScreen, HelpScreen
from vdbench.tui.views.audit import AuditView
from vdbench.tui.views.base import View
from vdbench.tui.views.drift import DriftView
from vdbench.tui.views.experiment import ExperimentView
from vdbench.tui.views.judge import JudgeView
from vdbench.tui.views.runs import RunsView
from vdbench.tui.views.samples import SamplesView
from vdbench.tui.views.stances import StancesView

if TYPE_CHECKING:
    from vdbench.tui.data import Backend, Overview, Problem

VIEWS: tuple[tuple[str, str, type[View]], ...] = (
    ("runs", "Runs", RunsView),
    ("stances", "Stances", StancesView),
    ("drift", "Drift", DriftView),
    ("audit", "Audit", AuditView),
    ("samples", "Samples", SamplesView),
    ("judge", "Judge", JudgeView),
    ("experiment", "Experiment", ExperimentView),
)


class OverviewLoaded(Message):
    def __init__(self, overview: Overview, signature: tuple) -> None:
        self.overview, self.signature = overview, signature
        super().__init__()


class StoreUnavailable(Message):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__()


class Polled(Message):
    def __init__(self, signature: tuple | None, problem: Problem | None) -> None:
        self.signature, self.problem = signature, problem
        super().__init__()


class Exported(Message):
    def __init__(self, paths: list[str], problem: Problem | None) -> None:
        self.paths, self.problem = paths, problem
        super().__init__()


def default_user() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser() or "anonymous"
    except Exception:  # no passwd entry in some containers
        return "anonymous"


class VdbenchApp(App[None]):
    """`vdbench tui --db DB`."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live anywhere
    TITLE = "vdbench"
    BINDINGS = [
        *(Binding(str(i), f"go('{name}')", title, show=False) for i, (name, title, _) in
          enumerate(VIEWS, start=1)),
        Binding("f1,question_mark", "help", "Help"),
        Binding("e", "export", "Export"),
        Binding("ctrl+r", "refresh", "Reload", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, db: str | os.PathLike[str], *, poll_s: float | None = 2.0,
                 n_boot: int = 1000, confidence: float = 0.95, seed: int = 0,
                 user: str | None = None, cursor_blink: bool = True, prefetch: bool = True,
                 ci_delay_s: float = 0.12) -> None:
        super().__init__()
        self.db = Path(db)
        self.poll_s = poll_s
        self.n_boot, self.confidence, self.seed = n_boot, confidence, seed
        self.user = user or default_user()
        self.cursor_blink = cursor_blink
        self.prefetch = prefetch  # compute neighbouring checkpoints ahead of a scrub
        # Seconds of no scrubbing before bootstrap CIs and the prefetch start (tests: 0).
        self.ci_delay_s = ci_delay_s
        self.overview: Overview | None = None
        self.problem: Problem | None = None
        self.selected_run: str | None = None
        self.compare_runs: set[str] = set()
        self.live_updates = 0
        self._signature: tuple | None = None
        self._busy = False
        self._retry_active = False
        self._painted_once = False  # the tabs are mounted and painted once
        self._backend: Backend | None = None
        self._backend_lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------

    def backend(self) -> Backend:
        """The shared store access and caches; built (and pandas/DuckDB imported) on first use."""
        with self._backend_lock:
            if self._backend is None:
                from vdbench.tui.data import Backend

                self._backend = Backend(self.db, n_boot=self.n_boot, confidence=self.confidence,
                                        seed=self.seed, user=self.user)
            return self._backend

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs", initial="runs"):
            for i, (name, title, cls) in enumerate(VIEWS, start=1):
                with TabPane(f"{i} {title}", id=name):
                    yield cls(id=f"view-{name}")
        yield Static("", id="status")
        yield Footer()

    def view(self, name: str) -> View:
        return self.query_one(f"#view-{name}", View)

    @property
    def active_view(self) -> View:
        return self.view(self.query_one(TabbedContent).active or "runs")

    def on_mount(self) -> None:
        self._status("opening store…")
        # After the first paint: the worker's imports (pandas, DuckDB) would otherwise hold
        # the GIL while the first frame is drawn.
        self.call_after_refresh(self._first_frame)
        if self.poll_s:
            self.set_interval(self.poll_s, self.poll)

    def _first_frame(self) -> None:
        self._painted_once = True
        self.load_overview()
        self.active_view.focus_main()

    # -- workers ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="overview")
    def load_overview(self) -> None:
        from vdbench.tui.data import load_overview, problem_from

        try:
            overview, signature = load_overview(self.backend().ts)
        except Exception as exc:  # shown as a message, never a traceback
            self.post_message(StoreUnavailable(problem_from(exc)))
            return
        self.post_message(OverviewLoaded(overview, signature))

    @work(thread=True, exclusive=True, group="poll")
    def poll(self) -> None:
        from vdbench.tui.data import problem_from, store_signature

        try:
            signature = store_signature(self.backend().ts)
        except Exception as exc:
            self.post_message(Polled(None, problem_from(exc)))
            return
        self.post_message(Polled(signature, None))

    @work(thread=True, group="export")
    def export_data(self, frame: Any, path: str, svg_path: str) -> None:
        from vdbench.tui.data import export_frame, problem_from

        try:
            written = export_frame(frame, path)
        except Exception as exc:
            self.post_message(Exported([svg_path], problem_from(exc)))
            return
        self.post_message(Exported([str(written), svg_path], None))

    # -- handlers ---------------------------------------------------------------------------

    @on(OverviewLoaded)
    def _overview_loaded(self, message: OverviewLoaded) -> None:
        if not self.query("#tabs"):  # shutting down
            return
        self.overview = message.overview
        self._signature = message.signature
        self.problem = None
        self._busy = False
        runs = message.overview.runs
        ids = {r.run_id for r in runs}
        if self.selected_run not in ids:
            self.selected_run = _default_run(runs)
        self.compare_runs &= ids
        for name, _, _ in VIEWS:
            self.view(name).stale = True
        self.view("runs").stale = False
        self.view("runs").show_overview(message.overview)
        self.active_view.activate()
        self._status()

    @on(StoreUnavailable)
    def _store_unavailable(self, message: StoreUnavailable) -> None:
        if message.problem.busy:
            self._busy = True
            self._retry_active = True
            self._status()
            return
        self.problem = message.problem
        self.overview = None
        for name, _, _ in VIEWS:
            view = self.view(name)
            view.show_problem(message.problem)
            view.stale = True
        self._status()

    @on(Polled)
    def _polled(self, message: Polled) -> None:
        if not self.query("#tabs"):  # shutting down
            return
        if message.problem is not None:
            if message.problem.busy:  # a writer holds the store: retry next tick, show no error
                self._busy = True
                self._status()
            return
        self._busy = False
        if message.signature != self._signature or self.problem is not None or self.overview is None:
            if self._signature is not None and self.problem is None:
                self.live_updates += 1
            self._signature = message.signature
            self.load_overview()
        elif self._retry_active:
            self._retry_active = False
            self.active_view.activate()
        self._status()

    @on(Exported)
    def _exported(self, message: Exported) -> None:
        if message.problem is not None:
            self.notify(f"{message.problem.title}: {message.problem.detail}", severity="error",
                        title="export failed", timeout=8)
        else:
            self.notify("\n".join(message.paths), title="exported", timeout=6)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, message: TabbedContent.TabActivated) -> None:
        view = self.active_view
        if self.overview is not None or self.problem is None:
            view.activate()
        view.focus_main()
        self.call_after_refresh(view.focus_main)  # again once the pane is displayed

    def note_busy(self) -> None:
        """A view's query met a locked store: say so quietly and retry on the next tick."""
        self._busy = True
        self._retry_active = True
        self._status()

    def _status(self, text: str | None = None) -> None:
        parts = [str(self.db.name)]
        if text:
            parts.append(text)
        elif self.problem is not None:
            parts.append(self.problem.title)
        elif self.overview is not None:
            parts.append(f"{len(self.overview.runs)} run(s)")
            if self.selected_run:
                parts.append(f"run {self.selected_run}")
            if self.compare_runs:
                parts.append("comparing " + ", ".join(sorted(self.compare_runs)))
        if self.poll_s:
            live = f"live ⟳ {self.poll_s:g}s"
            if self.live_updates:
                live += f" · {self.live_updates} update(s)"
            parts.append(live)
        else:
            parts.append("live off")
        if self._busy:
            parts.append("writer busy, retrying")
        try:
            self.query_one("#status", Static).update(" · ".join(parts))
        except NoMatches:  # a late message while the app shuts down
            pass

    # -- actions and state ------------------------------------------------------------------

    def select_run(self, run_id: str) -> None:
        if run_id != self.selected_run:
            self.selected_run = run_id
            for name in ("stances", "drift", "samples"):
                self.view(name).stale = True
            self.view("runs").show_overview(self.overview)
        self._status()

    def toggle_compare(self, run_id: str) -> None:
        self.compare_runs ^= {run_id}
        self.view("drift").stale = True
        self._status()

    def action_go(self, name: str) -> None:
        if not self._painted_once:  # a key pressed before the tabs exist would be lost
            self.call_after_refresh(partial(self.action_go, name))
            return
        tabs = self.query_one(TabbedContent)
        if tabs.active != name:
            tabs.active = name  # TabActivated activates and focuses the view
        else:
            self.active_view.activate()
            self.active_view.focus_main()
            self.call_after_refresh(self.active_view.focus_main)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_refresh(self) -> None:
        for name, _, _ in VIEWS:
            self.view(name).stale = True
        self.load_overview()

    def action_export(self) -> None:
        view = self.active_view
        exported = view.export_frame()
        if exported is None:
            self.notify("nothing to export in this view yet", timeout=3)
            return
        stem, frame = exported
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)

        def chosen(path: str | None) -> None:
            if not path:
                return
            target = Path(path).expanduser()
            svg = self.save_screenshot(filename=target.with_suffix(".svg").name,
                                       path=str(target.parent))
            self.export_data(frame, str(target), svg)

        self.push_screen(ExportScreen(f"vdbench-{safe}.csv"), chosen)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for i, (name, title, _) in enumerate(VIEWS, start=1):
            yield SystemCommand(f"Go to {title}", f"show the {title} view (key {i})",
                                partial(self.action_go, name))
        yield SystemCommand("Export view", "write the view's data (CSV/Parquet) and an SVG",
                            self.action_export)
        yield SystemCommand("Help", "keys of every view (F1)", self.action_help)
        yield SystemCommand("Reload store", "read everything again now (ctrl+r)", self.action_refresh)
        for run in (self.overview.runs if self.overview else []):
            yield SystemCommand(f"Open run {run.run_id}",
                                f"{run.stage}/{run.algorithm}, {run.n_checkpoints} checkpoints",
                                partial(self._open_run, run.run_id))

    def _open_run(self, run_id: str) -> None:
        self.select_run(run_id)
        self.action_go("stances")


def _default_run(runs: list) -> str | None:
    """The most recently updated run that has judgments, else the last run."""
    if not runs:
        return None
    judged = [r for r in runs if r.judges]
    pool = judged or runs
    return max(enumerate(pool), key=lambda ir: (str(ir[1].updated_at), ir[0]))[1].run_id
