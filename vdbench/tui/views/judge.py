"""Judge: calibration results (agreement, macro-F1, kappa, ECE, confusion matrix,
reliability diagram) and a labelling mode that stores human labels (s / n / o, u undo),
from every run's samples or (r) the selected run's only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Static

from vdbench.tui.render import COLOUR, GLYPH, STANCES, before_after, fmt, reliability_row
from vdbench.tui.views.base import View
from vdbench.tui.views.samples import probs_text
from vdbench.tui.widgets import Notice

if TYPE_CHECKING:
    import pandas as pd

    from vdbench.tui.data import CalibrationView, LabelQueue


def confusion_table(cal: CalibrationView) -> Group | Text:
    if not cal.confusion:
        return Text("no confusion matrix in this report", style="dim")
    labels = cal.labels
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("")
    for label in labels:
        table.add_column(f"{GLYPH.get(label, '')}{label[:3]}", justify="right")
    for label, row in zip(labels, cal.confusion, strict=False):
        cells = []
        for j, value in enumerate(row):
            on_diagonal = j == labels.index(label)
            cells.append(Text(str(value), style="bold" if on_diagonal else ""))
        table.add_row(Text(f"{GLYPH.get(label, '')}{label[:3]}", style=COLOUR.get(label, "")), *cells)
    return Group(Text("confusion: row=ref col=judge", style="bold"), table)


def reliability_text(cal: CalibrationView) -> Text:
    before, after = cal.reliability.get("before", []), cal.reliability.get("after", [])
    text = Text("reliability: accuracy per bin (┃ ideal)\n", style="bold")
    if not before and not after:
        return text + Text("no reliability bins in this report", style="dim")
    text.append(f"{'bin':<9} {'before':<15} {'after':<15}  n b/a\n", style="dim")
    n = max(len(before), len(after))
    for i in range(n):
        b = before[i] if i < len(before) else None
        a = after[i] if i < len(after) else None
        ref = b or a
        assert ref is not None
        text.append(f"{ref.lo:.1f}–{ref.hi:.1f}  ")
        for bin_ in (b, a):
            if bin_ is None or bin_.n == 0:
                text.append(" " * 15)
            else:
                text.append(reliability_row(bin_.confidence, bin_.accuracy, 10))
                text.append(f" {fmt(bin_.accuracy)[1:] if bin_.accuracy < 1 else '1.0'} ")
        text.append(f" {b.n if b else '–'}/{a.n if a else '–'}\n", style="dim")
    return text


class JudgeView(View):
    name_ = "judge"
    BINDINGS = [
        Binding("c", "next_calibration", "next calib."),
        Binding("l", "toggle_labelling", "labelling"),
        Binding("s", "label('support')", "support"),
        Binding("n", "label('neutral')", "neutral"),
        Binding("o", "label('oppose')", "oppose"),
        Binding("u", "undo", "undo"),
        Binding("k", "skip", "skip"),
        Binding("r", "toggle_scope", "run/all"),
        Binding("j", "show_judge", "judge's view", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.calibrations: list[CalibrationView] = []
        self.cal_index = 0
        self.labelling = False
        self.queue: LabelQueue | None = None
        self.position = 0
        self.history: list[tuple[int, dict[str, Any], str]] = []  # (position, item, label)
        self.labelled_now = 0
        self.reveal_judge = False  # hidden by default: seeing the judge's answer anchors the annotator
        self.run_only = False  # label only the selected run's samples (r)

    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="calibration"):
            with Vertical(id="calibration"):
                yield Static("", id="cal-head", classes="head")
                yield Notice()
                with Horizontal(id="cal-body"):
                    yield Static("", id="cal-confusion")
                    yield Static("", id="cal-reliability")
            with Vertical(id="labelling"):
                yield Static("", id="lab-head", classes="head")
                with VerticalScroll(id="lab-scroll", can_focus=True):
                    yield Static("", id="lab-text")

    @property
    def notice(self) -> Notice:
        return self.query_one("#calibration Notice", Notice)

    def focus_main(self) -> None:
        if self.labelling:
            self.query_one("#lab-scroll").focus()
        else:
            self.query_one("#cal-body").focus() if self.query_one("#cal-body").can_focus \
                else self.query_one("#lab-scroll").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("label", "undo", "skip", "show_judge", "toggle_scope"):
            return self.labelling
        if action == "next_calibration":
            return not self.labelling
        return True

    # -- calibration ----------------------------------------------------------------------

    def reload(self) -> None:
        self.load_calibrations(self.request("calibrations"))
        if self.labelling:
            self.load_queue(self.request("queue"))

    @work(thread=True, exclusive=True, group="judge-calibrations")
    def load_calibrations(self, token: int) -> None:
        from vdbench.tui.data import load_calibrations

        self.deliver("calibrations", token, lambda b: load_calibrations(b.ts))

    def show_calibrations(self, calibrations: list[CalibrationView]) -> None:
        from vdbench.tui.data import Problem

        self.calibrations = calibrations
        if not calibrations:
            self.query_one("#cal-head", Static).update(
                Text("judge calibration · l: labelling mode", style="bold"))
            self.query_one("#cal-confusion", Static).update("")
            self.query_one("#cal-reliability", Static).update("")
            self.show_problem(Problem(
                "No calibration results yet",
                "calibration compares a local judge with a reference (GPT-4o or your labels)",
                "label samples here (l), then run `vdbench calibrate --db DB`"))
            return
        self.clear_problem()
        self.cal_index %= len(calibrations)
        self._render_calibration()

    def _render_calibration(self) -> None:
        cal = self.calibrations[self.cal_index]
        when = cal.created_at.strftime("%Y-%m-%d %H:%M") if hasattr(cal.created_at, "strftime") \
            else str(cal.created_at or "")
        head = Text.assemble(
            (f"calibration {self.cal_index + 1}/{len(self.calibrations)} ", "bold"),
            (cal.judge_id, "bold"), f" vs {cal.reference} · {cal.method}\n",
            f"agreement {before_after(cal.agreement)} · F1 {before_after(cal.macro_f1)} · "
            f"κ {before_after(cal.kappa)} · ECE {before_after(cal.ece, 3)}"
            + (f" · n {cal.n}" if cal.n is not None else ""),
            (f"\nbefore→after fitting · calibrated {when}", "dim"))
        self.query_one("#cal-head", Static).update(head)
        self.query_one("#cal-confusion", Static).update(confusion_table(cal))
        self.query_one("#cal-reliability", Static).update(reliability_text(cal))

    def action_next_calibration(self) -> None:
        if self.calibrations:
            self.cal_index = (self.cal_index + 1) % len(self.calibrations)
            self._render_calibration()

    # -- labelling ------------------------------------------------------------------------

    def action_toggle_labelling(self) -> None:
        self.labelling = not self.labelling
        self.query_one(ContentSwitcher).current = "labelling" if self.labelling else "calibration"
        self.refresh_bindings()
        if self.labelling:
            self.query_one("#lab-scroll").focus()
            if self.queue is None:
                self.query_one("#lab-head", Static).update("loading unlabelled samples…")
                self.load_queue(self.request("queue"))

    @work(thread=True, exclusive=True, group="judge-queue")
    def load_queue(self, token: int) -> None:
        from vdbench.tui.data import label_queue

        run_id = self.vapp.selected_run if self.run_only else None
        self.deliver("queue", token, lambda b: label_queue(b.ts, b.label_source, run_id=run_id))

    def action_toggle_scope(self) -> None:
        """Label every run's samples, or only the selected run's (the Runs view chooses it)."""
        if self.vapp.selected_run is None and not self.run_only:
            self.app.notify("no run selected: choose one in the Runs view (1)", timeout=3)
            return
        self.run_only = not self.run_only
        self.queue = None
        self.labelled_now = 0
        self.query_one("#lab-head", Static).update("loading unlabelled samples…")
        self.load_queue(self.request("queue"))

    def show_queue(self, queue: LabelQueue) -> None:
        self.queue = queue
        self.position = 0
        self._render_item()

    def _item(self) -> dict[str, Any] | None:
        if self.queue is None or self.position >= len(self.queue.items):
            return None
        return self.queue.items[self.position]

    def _render_item(self) -> None:
        q = self.queue
        head = self.query_one("#lab-head", Static)
        body = self.query_one("#lab-text", Static)
        if q is None:
            return
        done = q.n_labelled + self.labelled_now
        scope = f"run {q.run_id}" if q.run_id else "all runs"
        head.update(Text.assemble(
            ("labelling as ", "bold"), (q.source, "bold"), f" · {scope}",
            f" · {done} labelled · {max(0, q.n_unlabelled - self.labelled_now)} unlabelled\n",
            ("s/n/o support/neutral/oppose · u undo · k skip · j judge · r run/all · l back",
             "dim")))
        item = self._item()
        if item is None:
            body.update(Text("Nothing left to label: every sample has your label.\n"
                             "New samples appear here as runs write them.", style="bold"))
            return
        text = Text.assemble(
            (f"{item['topic']} · {item['run_id']} step {item['step']} · {item['prompt_id']} "
             f"#{item['sample_idx']}\n", "bold"),
            ("proposition: ", "dim"), (f"{item.get('proposition') or '–'}\n", "italic"),
            ("question: ", "dim"), f"{' '.join(str(item.get('prompt') or '–').split())}\n\n",
            ("response:\n", "dim"), f"{item['response']}\n\n", ("judge: ", "dim"))
        if self.reveal_judge:
            text.append(probs_text(item))
        else:
            text.append("hidden (j shows it)", style="dim")
        body.update(text)
        self.query_one("#lab-scroll", VerticalScroll).scroll_home(animate=False)

    def action_label(self, label: str) -> None:
        item = self._item()
        if item is None or self.queue is None:
            return
        self.history.append((self.position, item, label))
        self.labelled_now += 1
        self.save_label(int(item["sample_id"]), label, self.request(f"saved:{len(self.history)}"))
        self.position += 1
        if self.position >= len(self.queue.items):
            self.queue = None
            self.labelled_now = 0
            self.load_queue(self.request("queue"))
        else:
            self._render_item()

    def action_show_judge(self) -> None:
        self.reveal_judge = not self.reveal_judge
        self._render_item()

    def action_skip(self) -> None:
        if self._item() is not None:
            self.position += 1
            self._render_item()

    def action_undo(self) -> None:
        if not self.history:
            self.app.notify("nothing to undo", timeout=2)
            return
        position, item, label = self.history.pop()
        self.labelled_now -= 1
        self.delete_label(int(item["sample_id"]), self.request(f"undone:{len(self.history)}"))
        if self.queue is not None and position < len(self.queue.items) \
                and self.queue.items[position]["sample_id"] == item["sample_id"]:
            self.position = position
        elif self.queue is not None:
            self.queue.items.insert(self.position, item)
        self._render_item()
        self.app.notify(f"removed label {label!r} of sample {item['sample_id']}", timeout=2)

    @work(thread=True, group="judge-write")
    def save_label(self, sample_id: int, label: str, token: int) -> None:
        from vdbench.tui.data import write_label

        self.deliver("saved", token, lambda b: write_label(b.ts, b.label_source, sample_id, label))

    @work(thread=True, group="judge-write")
    def delete_label(self, sample_id: int, token: int) -> None:
        from vdbench.tui.data import delete_label

        self.deliver("undone", token, lambda b: delete_label(b.ts, b.label_source, sample_id))

    def show_saved(self, _: None) -> None:
        pass

    def show_undone(self, _: None) -> None:
        pass

    def show_problem(self, problem) -> None:
        if self.labelling:
            self.app.notify(f"{problem.title}: {problem.detail}", severity="error", timeout=6)
        super().show_problem(problem)

    def export_frame(self) -> tuple[str, pd.DataFrame] | None:
        import pandas as pd

        if not self.calibrations:
            return None
        cal = self.calibrations[self.cal_index]
        rows = []
        for phase, bins in cal.reliability.items():
            rows += [{"calibration_id": cal.calibration_id, "table": "reliability", "phase": phase,
                      "lo": b.lo, "hi": b.hi, "n": b.n, "confidence": b.confidence,
                      "accuracy": b.accuracy} for b in bins]
        for i, row in enumerate(cal.confusion or []):
            for j, count in enumerate(row):
                rows.append({"calibration_id": cal.calibration_id, "table": "confusion",
                             "reference": cal.labels[i], "judge": cal.labels[j], "n": count})
        for key in ("agreement", "macro_f1", "kappa", "ece"):
            before, after = getattr(cal, key)
            rows.append({"calibration_id": cal.calibration_id, "table": "metric", "metric": key,
                         "before": before, "after": after})
        return f"calibration-{cal.calibration_id}", pd.DataFrame(rows)


__all__ = ["JudgeView", "STANCES"]
