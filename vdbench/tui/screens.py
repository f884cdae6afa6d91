"""Screens pushed over the views: help, export, and one prompt's responses across checkpoints."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from vdbench.tui.render import COLOUR, GLYPH, legend
from vdbench.tui.widgets import Notice

HELP = """\
[b]vdbench tui[/b] · keyboard first, mouse optional  [dim]esc / F1 / ? closes[/dim]

[b]everywhere[/b] 1–7 views · F1 or ? help · ctrl+p palette · e export view
           ctrl+r reload now · q quit · tab moves focus
[b]1 Runs[/b]     ↑/↓ run · enter open · space mark to compare · d drift
[b]2 Stances[/b]  ←/→ checkpoint (or click the slider) · home/end first/last
           ↑/↓ topic: exact CI below; output and judge health under the bars
[b]3 Drift[/b]    s/n/o stance · ↑/↓ topic · l algorithms ↔ lineage stages
           M = last − first · ┊ drift time η · · CI band of extreme
           judge row: % flagged per checkpoint; M/η cells end with the worst
[b]judge[/b]      flagged: conf < 0.6 or OOD · ✓ ok ≤20% · ~ weak ≤50% · ! GUESSING
[b]4 Audit[/b]    a/b change dataset A/B · ↑/↓ topic · Δ = margin(chosen) −
           margin(rejected), margin = p_support − p_oppose
[b]5 Samples[/b]  / filter: topic: step: stance: run: prompt: and words
           ↑/↓ pgup/pgdn home/end · p this prompt across checkpoints
[b]6 Judge[/b]    c next calibration · l labelling mode:
           s/n/o label · u undo · k skip · j judge's answer · r this run/all
[b]7 Experiment[/b] grid points: mean M [CI] over seeds · enter seeds' curves (band:
           min–max over seeds) · space mark two to compare · c comparisons · x next
[b]glyphs[/b]     """


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,question_mark,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        text = Text.from_markup(HELP)
        text.append(legend())
        with Vertical(id="help-box"):
            yield VerticalScroll(Static(text), id="help-scroll")

    def action_dismiss(self, result: Any = None) -> None:  # type: ignore[override]
        self.dismiss(None)


class ExportScreen(ModalScreen[str | None]):
    """Ask where to write the view's data (.csv or .parquet); the SVG goes beside it."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static("[b]Export this view[/b]\ndata as .csv or .parquet (by extension); "
                         "an SVG screenshot is written beside it", id="export-title")
            yield Input(value=self.default, id="export-path")
            yield Static("[dim]enter: export · esc: cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = getattr(self.app, "cursor_blink", True)

    @on(Input.Submitted)
    def _submit(self, message: Input.Submitted) -> None:
        self.dismiss(message.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PromptHistoryScreen(Screen[None]):
    """One prompt's responses at every checkpoint of the run's lineage (root first)."""

    BINDINGS = [Binding("escape,q", "close", "back")]

    def __init__(self, run_id: str, prompt_id: str, topic: str) -> None:
        super().__init__()
        self.run_id, self.prompt_id, self.topic = run_id, prompt_id, topic
        self.rows: list[dict] = []
        self._token = 0

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{self.prompt_id}[/b] ({self.topic}) across checkpoints of the lineage "
                     f"of [b]{self.run_id}[/b]", id="history-head", classes="head")
        yield Notice()
        yield DataTable(id="history-table", cursor_type="row")
        yield Static("", id="history-detail", classes="detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("run", "step", "frac", "#", "stance", "S", "N", "O", "response"):
            table.add_column(col, key=col)
        table.focus()
        self._token += 1
        self.load(self._token)

    class Loaded(Message):
        def __init__(self, token: int, rows: list[dict], problem: Any) -> None:
            self.token, self.rows, self.problem = token, rows, problem
            super().__init__()

    @work(thread=True, exclusive=True)
    def load(self, token: int) -> None:
        from vdbench.tui.data import lineage_chain, problem_from, prompt_history

        app: Any = self.app
        try:
            runs = app.overview.runs if app.overview else []
            chain = [r.run_id for r in lineage_chain(runs, self.run_id)] or [self.run_id]
            frame = prompt_history(app.backend().ts, chain, self.prompt_id)
            self.post_message(self.Loaded(token, frame.to_dict("records"), None))
        except Exception as exc:  # shown as a message, never a traceback
            self.post_message(self.Loaded(token, [], problem_from(exc)))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        token, rows, problem = message.token, message.rows, message.problem
        if token != self._token:
            return
        if problem is not None:
            self.query_one(Notice).show(problem.title, problem.detail, problem.hint)
            return
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        for r in rows:
            label = r.get("label")
            stance = Text(f"{GLYPH.get(label, '?')} {label or 'unjudged'}", style=COLOUR.get(label, ""))
            probs = [f"{r[c] * 100:3.0f}" if r.get(c) == r.get(c) and r.get(c) is not None else "–"
                     for c in ("p_support", "p_neutral", "p_oppose")]
            frac = r.get("fraction")
            table.add_row(r["run_id"], str(r["step"]), f"{frac:.2f}" if frac == frac and frac is not None else "–",
                          str(r["sample_idx"]), stance, *probs, " ".join(str(r["text"]).split())[:60])
        if not rows:
            self.query_one(Notice).show("No responses to this prompt", "")
        self._detail()

    @on(DataTable.RowHighlighted)
    def _detail(self) -> None:
        table = self.query_one(DataTable)
        if not self.rows:
            return
        r = self.rows[min(table.cursor_row, len(self.rows) - 1)]
        self.query_one("#history-detail", Static).update(
            Text.assemble((f"{r['run_id']} step {r['step']} #{r['sample_idx']} · health {r['health']}\n", "bold"),
                          " ".join(str(r["text"]).split())))

    def action_close(self) -> None:
        self.app.pop_screen()
