"""What every view shares: thread workers that post messages, tokens against stale results,
and a Notice for anything that cannot be shown.

Views reach the app through :class:`ViewHost`, the part of `VdbenchApp` they use, so this
module never imports `vdbench.tui.app` (which imports every view).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from textual import on
from textual.containers import Vertical
from textual.message import Message

from vdbench.tui.widgets import Notice

if TYPE_CHECKING:
    import pandas as pd

    from vdbench.tui.data import Backend, Overview, Problem

_tokens = itertools.count(1)


class ViewHost(Protocol):
    """What a view needs of the app (VdbenchApp provides it): the store, the selection, options."""

    overview: Overview | None
    selected_run: str | None
    compare_runs: set[str]
    n_boot: int
    confidence: float
    prefetch: bool
    ci_delay_s: float
    cursor_blink: bool

    def backend(self) -> Backend: ...

    def note_busy(self) -> None: ...

    def select_run(self, run_id: str) -> None: ...

    def toggle_compare(self, run_id: str) -> None: ...

    def action_go(self, name: str) -> None: ...


class Fetched(Message, bubble=False):
    """A worker's result for one kind of request (`what`), tagged with the request's token."""

    def __init__(self, what: str, value: Any, token: int) -> None:
        self.what, self.value, self.token = what, value, token
        super().__init__()


class FetchFailed(Message, bubble=False):
    def __init__(self, what: str, problem: Problem, token: int) -> None:
        self.what, self.problem, self.token = what, problem, token
        super().__init__()


class View(Vertical):
    """A tab's content. Subclasses call `self.request(what)` then run a @work(thread=True)
    method that calls `self.deliver(...)`; results arrive in `show_<what>`."""

    name_: ClassVar[str] = ""
    stale = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wanted: dict[str, int] = {}

    @property
    def vapp(self) -> ViewHost:
        return self.app  # type: ignore[return-value]

    # -- requests -----------------------------------------------------------------------

    def request(self, what: str) -> int:
        """A new token for `what`: results of earlier requests for it are dropped."""
        token = next(_tokens)
        self._wanted[what] = token
        return token

    def deliver(self, what: str, token: int, fn: Callable[[Backend], Any]) -> None:
        """Run `fn(backend)` (in the calling worker thread) and post its result or problem."""
        from textual.worker import get_current_worker

        from vdbench.tui.data import problem_from

        try:
            value = fn(self.vapp.backend())
        except Exception as exc:  # every failure becomes an on-screen message, never a traceback
            self.post_message(FetchFailed(what, problem_from(exc), token))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(Fetched(what, value, token))

    @on(Fetched)
    def _on_fetched(self, message: Fetched) -> None:
        if self._wanted.get(message.what) != message.token:
            return
        getattr(self, f"show_{message.what.partition(':')[0]}")(message.value)

    @on(FetchFailed)
    def _on_failed(self, message: FetchFailed) -> None:
        if self._wanted.get(message.what) != message.token:
            return
        if message.problem.busy and not message.what.startswith(("saved", "undone")):
            self.stale = True  # a writer holds the store: the next live tick retries
            self.vapp.note_busy()
            return
        self.show_problem(message.problem)

    # -- display --------------------------------------------------------------------------

    @property
    def notice(self) -> Notice:
        return self.query_one(Notice)

    def show_problem(self, problem: Problem) -> None:
        self.notice.show(problem.title, problem.detail, problem.hint)
        self.set_class(True, "-problem")

    def clear_problem(self) -> None:
        self.notice.hide()
        self.set_class(False, "-problem")

    def activate(self) -> None:
        """Called when the tab is shown: reload if the store or the selection changed."""
        if self.stale:
            self.stale = False
            self.reload()

    def reload(self) -> None:  # pragma: no cover - every view overrides it
        raise NotImplementedError

    def focus_main(self) -> None:
        """Focus the widget keys should go to when the tab is shown."""

    def export_frame(self) -> tuple[str, pd.DataFrame] | None:
        """The view's data as (file stem, DataFrame), or None when there is nothing shown."""
        return None
