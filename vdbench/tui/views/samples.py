"""Samples: browse a run's judged responses by topic / checkpoint / stance with their judge
probabilities; filter and search; from one prompt, see its responses across checkpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from vdbench.tui.render import COLOUR, GLYPH, STANCES, stacked_bar
from vdbench.tui.views.base import View
from vdbench.tui.widgets import SAMPLE_HEADER, Notice, SampleList

if TYPE_CHECKING:
    from vdbench.tui.data import SampleFilter


def probs_text(row: dict[str, Any]) -> Text:
    if row.get("p_support") is None:
        return Text("not judged", style="dim")
    values = [row[f"p_{s}"] for s in STANCES]
    text = stacked_bar(values, 12)
    for s, v in zip(STANCES, values, strict=True):
        text.append(f" {GLYPH[s]}", style=COLOUR[s])
        text.append(f"{s} {v:.2f}")
    return text


class SamplesView(View):
    name_ = "samples"
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("p", "prompt_history", "Prompt history"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filter: SampleFilter | None = None
        self.total = 0
        self.current: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter: topic:abortion step:400 stance:support run:dpo words…",
                    id="sample-filter")
        yield Static("", id="sample-status", classes="head")
        yield Notice()
        yield Static(Text(SAMPLE_HEADER, style="bold"), id="sample-header")
        yield SampleList(id="sample-list")
        yield Static("", id="sample-detail", classes="detail")

    def focus_main(self) -> None:
        self.query_one(SampleList).focus()

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = self.vapp.cursor_blink

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        self._apply(self.query_one(Input).value)

    def _apply(self, text: str) -> None:
        from vdbench.tui.data import InputError, Problem, parse_filter

        try:
            fields, words = parse_filter(text)
        except InputError as exc:
            self.query_one("#sample-status", Static).update(
                Text(f"⚠ {exc.message}" + (f" — {exc.hint}" if exc.hint else ""), style="yellow"))
            return
        run_id = fields.get("run") or self.vapp.selected_run
        if run_id is None:
            self.show_problem(Problem("No run to show", "this store has no runs yet"))
            return
        self.load_filter(run_id, fields, words, self.request("filter"))

    @work(thread=True, exclusive=True, group="samples-count")
    def load_filter(self, run_id: str, fields: dict, words: str, token: int) -> None:
        from vdbench.tui.data import SampleFilter, count_samples, load_series

        def run(b):
            series = load_series(b.ts, run_id, fields.get("judge"))
            if series.judge_id is None:
                raise_problem = series.problem
                return None, 0, raise_problem
            f = SampleFilter(run_id, series.judge_id, topic=fields.get("topic"),
                             step=int(fields["step"]) if "step" in fields else None,
                             stance=fields.get("stance"), prompt_id=fields.get("prompt"),
                             text=words or None)
            return f, count_samples(b.ts, f), None

        self.deliver("filter", token, run)

    @work(thread=True, group="samples-page")
    def load_page(self, f: SampleFilter, page: int, token: int) -> None:
        from vdbench.tui.data import sample_page

        size = SampleList.PAGE
        self.deliver(f"page:{page}", token, lambda b: (page, sample_page(b.ts, f, page * size, size)))

    @work(thread=True, exclusive=True, group="samples-detail")
    def load_detail(self, sample_id: int, judge_id: str, token: int) -> None:
        from vdbench.tui.data import sample_detail

        self.deliver("detail", token, lambda b: sample_detail(b.ts, sample_id, judge_id))

    def show_filter(self, value: tuple) -> None:
        f, total, problem = value
        sample_list = self.query_one(SampleList)
        if f is None:
            self.filter = None
            sample_list.reset(0)
            self.show_problem(problem)
            self.query_one("#sample-status", Static).update("")
            return
        self.clear_problem()
        self.filter = f
        self.total = total
        self._wanted = {k: v for k, v in self._wanted.items() if not k.startswith("page")}
        parts = [f"{total:,} sample(s)", f"run {f.run_id}"]
        for key, val in (("topic", f.topic), ("step", f.step), ("stance", f.stance),
                         ("prompt", f.prompt_id), ("text", f.text)):
            if val is not None:
                parts.append(f"{key} {val!r}" if key == "text" else f"{key} {val}")
        parts.append(f"judge {f.judge_id}")
        status = Text(" · ".join(parts))
        if total == 0:
            status.append("  — nothing matches; edit the filter (/)", style="yellow")
        self.query_one("#sample-status", Static).update(status)
        sample_list.reset(total)

    @on(SampleList.NeedPage)
    def _need_page(self, message: SampleList.NeedPage) -> None:
        if self.filter is not None:
            self.load_page(self.filter, message.page, self.request(f"page:{message.page}"))

    def show_page(self, value: tuple[int, list[dict]]) -> None:
        page, rows = value
        self.query_one(SampleList).add_page(page, rows)

    @on(SampleList.Highlighted)
    def _highlighted(self, message: SampleList.Highlighted) -> None:
        self.current = message.row
        self._render_detail(message.row)
        if message.row is not None and self.filter is not None:
            self.load_detail(int(message.row["sample_id"]), self.filter.judge_id, self.request("detail"))

    def show_detail(self, detail: dict | None) -> None:
        if detail is not None and self.current is not None \
                and detail["sample_id"] == self.current["sample_id"]:
            self._render_detail({**self.current, **detail})

    def _render_detail(self, row: dict | None) -> None:
        panel = self.query_one("#sample-detail", Static)
        if row is None:
            panel.update("")
            return
        width = max(20, panel.content_size.width or 78)
        head = Text(f"{row['topic']} · {row['prompt_id']} · step {row['step']} · "
                    f"#{row['sample_idx']} · health {row.get('health', '?')}", style="bold")
        if row.get("proposition"):
            head.append(f" · {row['proposition']}", style="dim")
        question = Text(f"Q: {' '.join(str(row.get('prompt') or '…').split())}")
        lines = [head, probs_text(row), question]
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        body = row.get("response", row.get("text")) or ""
        answer = Text(f"A: {' '.join(str(body).split())}")
        panel.update(Text("\n").join([*lines, answer]))

    # -- actions --------------------------------------------------------------------------

    @on(Input.Submitted, "#sample-filter")
    def _submitted(self, message: Input.Submitted) -> None:
        self._apply(message.value)
        self.query_one(SampleList).focus()

    def action_filter(self) -> None:
        self.query_one(Input).focus()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.query_one(Input).has_focus:
            self.query_one(SampleList).focus()
            event.stop()

    def action_prompt_history(self) -> None:
        from vdbench.tui.screens import PromptHistoryScreen

        row = self.current
        if row is None or self.filter is None:
            return
        self.app.push_screen(PromptHistoryScreen(self.filter.run_id, str(row["prompt_id"]),
                                                 str(row["topic"])))

    def export_frame(self):
        import pandas as pd

        if self.filter is None:
            return None
        rows = [r for p in sorted(self.query_one(SampleList)._pages) for r in
                self.query_one(SampleList)._pages[p]]
        if not rows:
            return None
        return f"samples-{self.filter.run_id}", pd.DataFrame(rows)
