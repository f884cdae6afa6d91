"""Small widgets shared by the views: a notice panel, a checkpoint slider, a virtual sample list."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable, Static

from vdbench.tui.render import (
    COLOUR,
    GLYPH,
    HealthMark,
    PlotSeries,
    delta_axis,
    drift_plot,
    histogram,
    judge_strip,
)


class Notice(Static):
    """A clear, centred message shown instead of a view's data (empty store, no judgments...)."""

    DEFAULT_CSS = """
    Notice { display: none; padding: 1 2; height: auto; width: 1fr; }
    Notice.-shown { display: block; }
    """

    def show(self, title: str, detail: str = "", hint: str | None = None) -> None:
        text = Text(title, style="bold")
        if detail:
            text.append("\n" + detail)
        if hint:
            text.append("\n→ " + hint, style="italic")
        self.update(text)
        self.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")


class ScrubTable(DataTable):
    """A row-cursor table whose ←/→/Home/End scrub checkpoints instead of moving columns."""

    BINDINGS = [
        Binding("left", "scrub(-1)", "◀ ckpt"),
        Binding("right", "scrub(1)", "ckpt ▶"),
        Binding("home", "scrub_to(0)", "first", show=False),
        Binding("end", "scrub_to(-1)", "last", show=False),
    ]

    class Scrub(Message):
        def __init__(self, delta: int | None = None, to: int | None = None) -> None:
            self.delta, self.to = delta, to
            super().__init__()

    def action_scrub(self, delta: int) -> None:
        self.post_message(self.Scrub(delta=delta))

    def action_scrub_to(self, to: int) -> None:
        self.post_message(self.Scrub(to=to))


class CheckpointSlider(Widget, can_focus=True):
    """`◀ ──●──┼──── ▶` over a run's checkpoints; ←/→ or a click move it."""

    DEFAULT_CSS = """
    CheckpointSlider { height: 1; width: 1fr; }
    CheckpointSlider:focus { text-style: bold; }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "◀ ckpt", show=False),
        Binding("right", "move(1)", "ckpt ▶", show=False),
        Binding("home", "jump(0)", "first", show=False),
        Binding("end", "jump(-1)", "last", show=False),
    ]
    index: reactive[int] = reactive(0)
    count: reactive[int] = reactive(0)
    fractions: list[float] = []

    class Moved(Message):
        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def set_points(self, fractions: list[float], index: int) -> None:
        self.fractions = fractions
        self.count = len(fractions)
        self.index = index

    def render(self) -> Text:
        width = self.size.width - 4
        if self.count == 0 or width < 4:
            return Text("")
        track = ["─"] * width
        if self.count <= width // 2:
            for f in self.fractions:
                track[self._col(f, width)] = "┼"
        at = self._col(self.fractions[self.index], width)
        text = Text("◀ ", style="bold" if self.index > 0 else "dim")
        for i, ch in enumerate(track):
            text.append("●" if i == at else ch, Style(bold=True, color=COLOUR["support"]) if i == at else Style(dim=True))
        text.append(" ▶", style="bold" if self.index < self.count - 1 else "dim")
        return text

    @staticmethod
    def _col(fraction: float, width: int) -> int:
        return min(width - 1, max(0, round(fraction * (width - 1))))

    def action_move(self, delta: int) -> None:
        self.post_message(self.Moved(max(0, min(self.count - 1, self.index + delta))))

    def action_jump(self, to: int) -> None:
        self.post_message(self.Moved(to % max(1, self.count)))

    def on_click(self, event: events.Click) -> None:
        width = self.size.width - 4
        if self.count == 0 or width < 4:
            return
        if event.x < 2:
            self.action_move(-1)
        elif event.x >= width + 2:
            self.action_move(1)
        else:
            x = (event.x - 2) / max(1, width - 1)
            nearest = min(range(self.count), key=lambda i: abs(self.fractions[i] - x))
            self.post_message(self.Moved(nearest))


def sample_line(row: dict[str, Any], width: int) -> Text:
    """One line of the sample list: step, topic, prompt, sample, stance glyph, p_*, text."""
    label = row.get("label") or "?"
    health = row.get("health") or "ok"
    text = Text(f"{row['step']:>6} {str(row['topic'])[:14]:<14} {str(row['prompt_id'])[:12]:<12}"
                f"{row['sample_idx']:>2} ")
    text.append(GLYPH.get(label, "?") * 2, Style(color=COLOUR.get(label)))
    text.append(f" {label[:3]} {row['p_support'] * 100:3.0f} {row['p_neutral'] * 100:3.0f} "
                f"{row['p_oppose'] * 100:3.0f} ")
    text.append("!" if health != "ok" else " ", style="bold red")
    body = " ".join(str(row.get("text") or "").split())
    text.append(" " + body)
    text.truncate(width)
    return text


SAMPLE_HEADER = (f"{'step':>6} {'topic':<14} {'prompt':<12}{'#':>2} ·· lab   S   N   O !"
                 f"  response")


class SampleList(ScrollView, can_focus=True):
    """A virtual list over any number of samples (Line API): only visible rows are rendered,
    and rows are fetched a page at a time as they scroll into view."""

    DEFAULT_CSS = """
    SampleList { height: 1fr; }
    SampleList > .sample-list--cursor { background: $accent 40%; text-style: bold; }
    SampleList:focus > .sample-list--cursor { background: $accent; }
    """
    COMPONENT_CLASSES = {"sample-list--cursor"}
    BINDINGS = [
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "jump(0)", show=False),
        Binding("end", "jump(-1)", show=False),
    ]
    PAGE = 100
    cursor: reactive[int] = reactive(0)

    class NeedPage(Message):
        def __init__(self, page: int) -> None:
            self.page = page
            super().__init__()

    class Highlighted(Message):
        def __init__(self, row: dict[str, Any] | None) -> None:
            self.row = row
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.total = 0
        self._pages: dict[int, list[dict[str, Any]]] = {}
        self._pending: set[int] = set()

    def reset(self, total: int) -> None:
        self.total = total
        self._pages.clear()
        self._pending.clear()
        self.virtual_size = Size(self.size.width, total)
        self.set_reactive(SampleList.cursor, 0)
        self.scroll_to(0, 0, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(None))

    def add_page(self, page: int, rows: list[dict[str, Any]]) -> None:
        self._pages[page] = rows
        self._pending.discard(page)
        self.refresh()
        if page == self.cursor // self.PAGE:
            self.post_message(self.Highlighted(self.row(self.cursor)))

    def row(self, index: int) -> dict[str, Any] | None:
        page = self._pages.get(index // self.PAGE)
        if page is None or index % self.PAGE >= len(page):
            return None
        return page[index % self.PAGE]

    def _request(self, page: int) -> None:
        if page not in self._pages and page not in self._pending:
            self._pending.add(page)
            self.post_message(self.NeedPage(page))

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        if index >= self.total:
            return Strip.blank(width, self.rich_style)
        row = self.row(index)
        if row is None:
            self._request(index // self.PAGE)
            text = Text("   …", style="dim")
        else:
            text = sample_line(row, width)
        style = self.rich_style
        if index == self.cursor:
            style = style + self.get_component_rich_style("sample-list--cursor")
        text.pad_right(max(0, width - text.cell_len))
        segments = list(text.render(self.app.console))
        return Strip(segments).apply_style(style).crop(0, width)

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()
        if new < self.scroll_offset.y:
            self.scroll_to(y=new, animate=False)
        elif new >= self.scroll_offset.y + self.size.height:
            self.scroll_to(y=new - self.size.height + 1, animate=False)
        row = self.row(new)
        if row is None and self.total:
            self._request(new // self.PAGE)
        self.post_message(self.Highlighted(row))

    def _move_to(self, index: int) -> None:
        if self.total:
            self.cursor = max(0, min(self.total - 1, index))

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        self._move_to(self.cursor + delta * max(1, self.size.height - 1))

    def action_jump(self, to: int) -> None:
        self._move_to(to if to >= 0 else self.total - 1)

    def on_click(self, event: events.Click) -> None:
        self._move_to(self.scroll_offset.y + event.y)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.total)


class DriftPlot(Widget):
    """The drift plot, drawn for whatever size the layout gives it."""

    DEFAULT_CSS = "DriftPlot { height: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.series: list[PlotSeries] = []
        self.segments: list[tuple[float, str]] = []
        self.health: list[HealthMark] = []
        self.health_note: Text | None = None
        self.notes: list[Text] = []

    def show(self, series: list[PlotSeries], segments: list[tuple[float, str]],
             health: list[HealthMark] | None = None, health_note: Text | None = None,
             notes: list[Text] | None = None) -> None:
        """Curves, stage boundaries, and judge health per checkpoint (a row under the axis);
        `notes`: more one-line rows under it (capability and output health per run)."""
        self.series, self.segments = series, segments
        self.health, self.health_note = health or [], health_note
        self.notes = notes or []
        self.refresh()

    def render(self) -> Text:
        if not self.series:
            return Text("")
        footer = []
        if self.health:
            footer.append(judge_strip(self.health, self.size.width))
        if self.health_note is not None:
            footer.append(self.health_note)
        footer += self.notes
        lines = drift_plot(self.series, self.size.width,
                           max(3, self.size.height - 1 - len(footer)), self.segments)
        return Text("\n", no_wrap=True, overflow="crop").join([*lines, *footer])


class DeltaHistogram(Widget):
    """A titled Δ histogram on [−2, 2], as tall as the layout allows."""

    DEFAULT_CSS = "DeltaHistogram { height: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = Text("")
        self.counts: list[int] | None = None

    def show(self, title: Text, counts: list[int] | None) -> None:
        self.title, self.counts = title, counts
        self.refresh()

    def render(self) -> Text:
        if self.counts is None:
            return self.title
        bin_width = max(1, (self.size.width - 1) // max(1, len(self.counts)))
        height = max(2, self.size.height - self.title.plain.count("\n") - 1)
        rows = histogram(self.counts, height, bin_width)
        body = Text("\n").join([Text(" ") + row for row in rows])
        return self.title + body + Text("\n ") + delta_axis(len(self.counts), bin_width)
