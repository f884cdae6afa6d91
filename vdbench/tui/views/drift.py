"""Drift: per-topic curves of one stance over the fraction of training, with drift-time
markers and the extreme value's CI band; runs side by side (algorithms from one parent,
or the stages of a lineage). Judge health per checkpoint sits under the curve (the
selected run's; every stage's in lineage mode), and each M/η cell ends with the worst
judge health over that run's checkpoints (✓ ok, ~ weak, ! GUESSING). Runs whose capability
was measured get a row under the plot: capability and output health, first → last."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from vdbench.tui.render import GLYPH, RUN_MARKS, HealthMark, PlotSeries, run_legend
from vdbench.tui.views.base import View
from vdbench.tui.widgets import DriftPlot, Notice

if TYPE_CHECKING:
    import pandas as pd

    from vdbench.tui.data import DriftCurves

ARROW = {"rising": "↑", "falling": "↓", "flat": "→"}


class DriftView(View):
    name_ = "drift"
    BINDINGS = [
        Binding("s", "stance('support')", "support"),
        Binding("n", "stance('neutral')", "neutral"),
        Binding("o", "stance('oppose')", "oppose"),
        Binding("l", "toggle_mode", "lineage/algos"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stance = "neutral"
        self.mode = "algorithms"  # or "lineage"
        self.curves: list[DriftCurves] = []
        self.run_ids: list[str] = []
        self.done = False

    def compose(self) -> ComposeResult:
        yield Static("", id="drift-head", classes="head")
        yield Static("", id="drift-legend", classes="dim-line")
        yield Notice()
        yield DriftPlot(id="drift-plot")
        yield DataTable(id="drift-table", cursor_type="row")

    def focus_main(self) -> None:
        self.query_one(DataTable).focus()

    def _runs(self) -> list[str]:
        from vdbench.tui.data import lineage_chain, siblings

        overview = self.vapp.overview
        selected = self.vapp.selected_run
        if overview is None or selected is None:
            return []
        if self.mode == "lineage":
            return [r.run_id for r in lineage_chain(overview.runs, selected)]
        marked = [r.run_id for r in overview.runs if r.run_id in self.vapp.compare_runs]
        if len(marked) >= 2:
            return marked
        return [r.run_id for r in siblings(overview.runs, selected)]

    def reload(self) -> None:
        from vdbench.tui.data import Problem

        self.run_ids = self._runs()
        if not self.run_ids:
            self.curves = []
            self._render_head()
            self.query_one(DataTable).clear(columns=True)
            self.query_one(DriftPlot).show([], [])
            self.show_problem(Problem("No run to show", "this store has no runs yet",
                                      "runs appear here live as training writes them"))
            return
        self.done = False
        self.curves = []
        self._render_head()
        self.load_curves(list(self.run_ids), self.request("curves"))

    @work(thread=True, exclusive=True, group="drift-curves")
    def load_curves(self, run_ids: list[str], token: int) -> None:
        from vdbench.tui.data import drift_curves

        runs = {r.run_id: r for r in (self.vapp.overview.runs if self.vapp.overview else [])}
        done: list = []
        for i, run_id in enumerate(run_ids):
            last = i == len(run_ids) - 1

            def one(b, run_id: str = run_id, last: bool = last) -> tuple[list, bool]:
                done.append(drift_curves(b.ts, b.cache, runs[run_id]))
                return list(done), last

            self.deliver("curves", token, one)  # progressively: each run as it is ready

    def show_curves(self, value: tuple[list[DriftCurves], bool]) -> None:
        self.curves, self.done = value
        self._render_head()
        usable = [c for c in self.curves if not c.values.empty]
        if not usable:
            if self.done:
                p = self.curves[0].problem if self.curves and self.curves[0].problem else None
                from vdbench.tui.data import Problem

                self.show_problem(p or Problem("Nothing to plot", "no judged checkpoints"))
            return
        self.clear_problem()
        self._fill_table()
        self._render_plot()

    def _render_head(self) -> None:
        label = "stages of the lineage" if self.mode == "lineage" else "runs side by side"
        head = Text.assemble((f"{self.stance} ", "bold"), (GLYPH[self.stance], ""),
                             f" over training · {label}: ", (" vs ".join(self.run_ids) or "–", "bold"))
        if not self.done and self.run_ids:
            head.append(f"  computing {len(self.curves)}/{len(self.run_ids)}…", style="italic")
        problems = [f"{c.problem.title}: {c.problem.detail}" for c in self.curves if c.problem]
        if problems:
            head.append("\n⚠ " + "; ".join(problems), style="yellow")
        self.query_one("#drift-head", Static).update(head)
        self.query_one("#drift-legend", Static).update(run_legend(self.run_ids, self._band_run()))

    def _topics(self) -> list[str]:
        from vdbench.tui.data import ALL_TOPICS

        topics = {t for c in self.curves if not c.values.empty for t in c.values["topic"].unique()}
        return [ALL_TOPICS, *sorted(topics - {ALL_TOPICS})] if topics else []

    def _fill_table(self) -> None:
        from vdbench.tui.data import ALL_TOPICS

        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear(columns=True)
        table.add_column("topic", key="topic", width=14)
        for i, run_id in enumerate(self.run_ids):
            table.add_column(f"{RUN_MARKS[i % len(RUN_MARKS)][0]} {run_id[:8]} M  η", key=run_id)
        for topic in self._topics():
            cells = []
            for run_id in self.run_ids:
                c = next((c for c in self.curves if c.run.run_id == run_id), None)
                cells.append(self._cell(c, topic))
            name = "all topics" if topic == ALL_TOPICS else topic[:14]
            table.add_row(name, *cells, key=topic)
        if table.row_count:
            table.move_cursor(row=min(keep or 0, table.row_count - 1))

    def _cell(self, c: DriftCurves | None, topic: str) -> Text | str:
        if c is None:
            return Text("…", style="dim")
        if c.drift.empty or c.values["step"].nunique() < 2:
            return Text("1 ckpt" if not c.values.empty else "–", style="dim")
        row = c.drift[(c.drift["topic"] == topic) & (c.drift["stance"] == self.stance)]
        if row.empty:
            return "–"
        from vdbench.tui.health_data import flag_glyph

        r = row.iloc[0]
        worst = c.series.judge_health.worst(topic)
        text = Text(f"{r['M']:+.2f} {r['eta']:.2f}{ARROW[r['direction']]}",
                    style="bold" if bool(r["dominant"]) else "")
        if worst is not None:
            bad = not worst["reliable"]
            text.append(" ")
            text.append(flag_glyph(worst), style="bold reverse" if bad else "")
        return text

    def _selected_topic(self) -> str | None:
        topics = self._topics()
        table = self.query_one(DataTable)
        if not topics:
            return None
        return topics[min(table.cursor_row, len(topics) - 1)]

    @on(DataTable.RowHighlighted, "#drift-table")
    def _render_plot(self) -> None:
        topic = self._selected_topic()
        plot = self.query_one(DriftPlot)
        if topic is None:
            plot.show([], [])
            return
        series = []
        segments = []
        health: list[HealthMark] = []
        health_runs: list[DriftCurves] = []
        n = len(self.run_ids)
        for i, run_id in enumerate(self.run_ids):
            c = next((c for c in self.curves if c.run.run_id == run_id), None)
            offset, scale = (i / n, 1 / n) if self.mode == "lineage" else (0.0, 1.0)
            if self.mode == "lineage":
                segments.append((offset, run_id))
            if c is None or c.values.empty:
                continue
            v = c.values[c.values["topic"] == topic].sort_values("step")
            points = [(offset + scale * float(f), float(y))
                      for f, y in zip(v["fraction"], v[f"v_{self.stance}"], strict=True)]
            eta = band = None
            d = c.drift[(c.drift["topic"] == topic) & (c.drift["stance"] == self.stance)] \
                if not c.drift.empty else c.drift
            if len(d) and len(points) > 1 and d.iloc[0]["direction"] != "flat":
                eta = offset + scale * float(d.iloc[0]["eta"])
                # One band keeps the plot readable: the selected run's (or the first run's).
                if run_id == self._band_run():
                    band = (float(d.iloc[0]["ci_lo"]), float(d.iloc[0]["ci_hi"]))
            series.append(PlotSeries(run_id, points, mark=i, eta=eta, band=band))
            if self.mode == "lineage" or run_id == self._band_run():
                health += self._health_marks(c, topic, offset, scale)
                health_runs.append(c)
        plot.show(series, segments, health, self._health_note(health_runs, topic, health),
                  self._capability_notes(plot.size.width or 80))

    def _capability_notes(self, width: int) -> list[Text]:
        """Per run whose capability was measured, one row: each task's headline score first →
        last beside output health first → last (`vdbench metrics` has Δ with its CI)."""
        from vdbench.tui.capability_data import short_task

        notes = []
        for i, run_id in enumerate(self.run_ids):
            c = next((c for c in self.curves if c.run.run_id == run_id), None)
            cap = c.series.capability if c is not None else None
            if not cap:
                continue
            text = Text(f"{RUN_MARKS[i % len(RUN_MARKS)][0]} {run_id[:14]} capability ", style="dim")
            for task in cap.tasks:
                first, last = cap.first(task), cap.last(task)
                assert first is not None and last is not None
                fell = last.dropped_from(first)
                text.append(f"{short_task(task)} {first.metric} {first.value:.2f}→{last.value:.2f} ",
                            style="bold reverse" if fell else "")
            health = c.series.health if c is not None else None
            if health is not None and not health.empty:
                ok0, ok1 = 1 - float(health["unhealthy"].iloc[0]), 1 - float(health["unhealthy"].iloc[-1])
                text.append("· output ok ", style="dim")
                text.append(f"{ok0:.0%}→{ok1:.0%}", style="bold reverse" if ok1 < 0.9 else "")
            text.truncate(width)
            notes.append(text)
        return notes[:3]

    def _health_marks(self, c: DriftCurves, topic: str, offset: float, scale: float) -> list[HealthMark]:
        """The run's judge health at each judged checkpoint, placed like its curve's points."""
        from vdbench.tui.health_data import flag_glyph

        fraction = {ck.step: ck.fraction for ck in c.series.checkpoints}
        return [HealthMark(offset + scale * fraction[int(r["step"])], float(r["flagged"]),
                           flag_glyph(r), not r["reliable"])
                for r in c.series.judge_health.curve(topic) if int(r["step"]) in fraction]

    def _health_note(self, runs: list[DriftCurves], topic: str, marks: list[HealthMark]) -> Text:
        """`judge, abortion, dpo: GUESSING 7/9 ckpts · % flagged ✓≤20 ~≤50 !>50` (the row above)."""
        from vdbench.tui.data import ALL_TOPICS

        name = "all topics" if topic == ALL_TOPICS else topic
        who = "lineage" if self.mode == "lineage" else (runs[0].run.run_id if runs else "–")
        text = Text(f"judge, {name}, {who}: ", style="dim")
        if not marks:
            text.append("nothing judged")
            return text
        bad = sum(m.bad for m in marks)
        text.append(f"GUESSING {bad}/{len(marks)} ckpts" if bad else f"ok/weak, {len(marks)} ckpts",
                    style="bold reverse" if bad else "")
        text.append(" · % flagged ✓≤20 ~≤50 !>50", style="dim")
        return text

    def _band_run(self) -> str | None:
        if self.vapp.selected_run in self.run_ids:
            return self.vapp.selected_run
        return self.run_ids[0] if self.run_ids else None

    def action_stance(self, stance: str) -> None:
        self.stance = stance
        self._render_head()
        if self.curves:
            self._fill_table()
            self._render_plot()

    def action_toggle_mode(self) -> None:
        self.mode = "lineage" if self.mode == "algorithms" else "algorithms"
        self.reload()

    def export_frame(self) -> tuple[str, pd.DataFrame] | None:
        import pandas as pd

        parts = []
        for c in self.curves:
            if c.drift.empty:
                continue
            d = c.drift.copy()
            d.insert(0, "run_id", c.run.run_id)
            d.insert(1, "judge_id", c.series.judge_id)
            parts.append(d)
        if not parts:
            return None
        return f"drift-{'-'.join(self.run_ids)}", pd.concat(parts, ignore_index=True)
