"""Stances: per-topic stacked support/neutral/oppose bars with CIs at one checkpoint,
scrubbed with ←/→ or the slider; output health, capability (where it was measured) and
judge health of the same checkpoint beside them (a `judge` column per topic, a pooled line
under the table)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from vdbench.tui.render import STANCES, legend, pct_ci, stacked_bar
from vdbench.tui.views.base import View
from vdbench.tui.widgets import CheckpointSlider, Notice, ScrubTable

if TYPE_CHECKING:
    import pandas as pd
    from textual.timer import Timer

    from vdbench.tui.capability_data import CapabilitySeries
    from vdbench.tui.data import RunSeries, StanceSnapshot

JUDGE_WIDTH = 13  # "GUESSING 100%"
BAR_HEADER = "support ▒ neutral ░ oppose"
BAR_HEADER_SHORT = "█S ▒N ░O"


def health_line(health: dict | None, width: int = 80) -> Text:
    """`output health: 98% ok · empty 0% · truncated 1% ...` with ⚠ when 10%+ are unhealthy."""
    if not health:
        return Text("output health: no samples at this checkpoint", style="dim")
    bad = float(health.get("unhealthy") or 0.0)
    text = Text("output health ")
    text.append("⚠ " if bad >= 0.10 else "✓ ", style="bold red" if bad >= 0.10 else "green")
    text.append(f"{(1 - bad) * 100:.0f}% ok", style="bold" if bad >= 0.10 else "")
    for key, short in (("empty", "empty"), ("truncated", "trunc"), ("repetitive", "repet"),
                       ("degenerate", "degen")):
        text.append(f" · {short} {float(health.get(key) or 0) * 100:.0f}%")
    samples = f" · {int(health.get('n_samples') or 0):,} samples"
    if text.cell_len + len(samples) <= width:
        text.append(samples, style="dim")
    text.truncate(width)
    return text


def capability_line(capability: CapabilitySeries | None, step: int, width: int = 80) -> Text:
    """`capability ✓ micro acc 0.93±0.04 · piqa acc 0.61±0.07` at one checkpoint (±: 95%).

    ⚠ and `↓ from X` where a task scores lower than at the run's first scored checkpoint
    by more than 1.96 combined standard errors (CapabilityPoint.dropped_from).
    """
    from vdbench.tui.capability_data import short_task

    points = capability.at(step) if capability else []
    if not points:
        return Text("capability: not scored at this checkpoint", style="dim")
    first = {p.task: capability.first(p.task) for p in points} if capability else {}
    dropped = {p.task for p in points if (f := first.get(p.task)) and p.dropped_from(f)}
    text = Text("capability ")
    text.append("⚠ " if dropped else "✓ ", style="bold red" if dropped else "green")
    for i, p in enumerate(points):
        if i:
            text.append(" · ")
        ci = f"±{1.96 * p.stderr:.2f}" if p.stderr is not None else ""
        text.append(f"{short_task(p.task)} {p.metric} {p.value:.2f}{ci}",
                    style="bold" if p.task in dropped else "")
        if p.task in dropped:
            text.append(f" ↓ from {first[p.task].value:.2f}", style="bold")  # type: ignore[union-attr]
    text.truncate(width)
    return text


def judge_line(row: dict | None, *, ood_threshold: float | None, min_confidence: float,
               width: int = 80) -> Text:
    """`judge health ⚠ GUESSING 77% flagged · conf<0.6 61% · OOD>0.9 42% · mean conf 0.55`.

    ✓ when at most 20% of the checkpoint's judgments are flagged, ~ up to 50%, ⚠ above
    (vdbench.judge_health.health_label); `OOD not measured` for judges without a distance.
    """
    from vdbench.tui.health_data import short_label

    if not row or not row.get("n"):
        return Text("judge health: nothing judged at this checkpoint", style="dim")
    word, _, share = short_label(row).partition(" ")
    bad = not row["reliable"]
    mark = {"ok": ("✓ ", "green"), "weak": ("~ ", "yellow")}.get(word, ("⚠ ", "bold red"))
    text = Text("judge health ")
    text.append(mark[0], style=mark[1])
    text.append(f"{word} {share} flagged", style="bold reverse" if bad else ("bold" if word != "ok" else ""))
    text.append(f" · conf<{min_confidence:g} {row['low_confidence']:.0%}")
    if row.get("ood") is None or ood_threshold is None:
        text.append(" · OOD not measured", style="dim")
    else:
        text.append(f" · OOD>{ood_threshold:g} {row['ood']:.0%}")
    mean = f" · mean conf {row['mean_confidence']:.2f}"
    if text.cell_len + len(mean) <= width:
        text.append(mean, style="dim")
    text.truncate(width)
    return text


def judge_cell(row: dict | None) -> Text:
    """The table's per-topic judge column: `ok 8%`, `weak 35%`, `GUESSING 71%` (bold)."""
    from vdbench.tui.health_data import short_label

    label = short_label(row)
    bad = bool(row and row.get("n") and not row["reliable"])
    return Text(label, style="bold reverse" if bad else ("dim" if label == "?" else ""))


class StancesView(View):
    name_ = "stances"
    BINDINGS = [
        Binding("left", "scrub(-1)", "◀ ckpt"),
        Binding("right", "scrub(1)", "ckpt ▶"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.series: RunSeries | None = None
        self.snapshot: StanceSnapshot | None = None
        self.index = 0
        self._follow = True  # at the last checkpoint: follow new ones as they arrive
        self._direction = -1  # of the last scrub: that neighbour is prefetched first
        self._ci_timer: Timer | None = None
        self._prefetch_timer: Timer | None = None
        # (step, has_ci, perf_counter) of the last snapshot painted; read by the benchmark.
        self.painted: tuple[int, bool, float] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="stance-head", classes="head")
        with Horizontal(id="stance-scrub"):
            yield CheckpointSlider(id="stance-slider")
            yield Static("", id="stance-pos")
        yield Static(legend(), id="stance-legend", classes="dim-line")
        yield Notice()
        yield ScrubTable(id="stance-table", cursor_type="row")
        yield Static("", id="stance-health")
        capability = Static("", id="stance-capability")
        capability.display = False  # shown for runs whose capability was measured
        yield capability
        yield Static("", id="stance-judge")
        yield Static("", id="stance-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(ScrubTable)
        table.add_column("topic", key="topic", width=14)
        table.add_column(BAR_HEADER, key="bar")
        for s in STANCES:
            table.add_column(f"{s[0].upper()} %±CI", key=s, width=6)
        table.add_column("judge", key="judge", width=JUDGE_WIDTH)

    def focus_main(self) -> None:
        self.query_one(ScrubTable).focus()

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        run_id = self.vapp.selected_run
        if run_id is None:
            self._no_run()
            return
        self.load_series(run_id, self.request("series"))

    def _no_run(self) -> None:
        from vdbench.tui.data import Problem

        self.series = None
        self.query_one(ScrubTable).clear()
        self.query_one("#stance-head", Static).update("")
        self.show_problem(Problem("No run to show", "this store has no runs yet",
                                  "runs appear here live as training or sampling writes them"))

    @work(thread=True, exclusive=True, group="stances-series")
    def load_series(self, run_id: str, token: int) -> None:
        from vdbench.tui.data import load_series

        self.deliver("series", token, lambda b: load_series(b.ts, run_id))

    @work(thread=True, exclusive=True, group="stances-snapshot")
    def load_snapshot(self, series: RunSeries, index: int, token: int) -> None:
        """The checkpoint's values with bootstrap CIs (query + bootstrap, or the cache)."""
        from vdbench.tui.data import stance_snapshot

        self.deliver("snapshot", token, lambda b: stance_snapshot(b.ts, b.cache, series, index))

    @work(thread=True, exclusive=True, group="stances-prefetch")
    def prefetch(self, series: RunSeries, steps: list[int]) -> None:
        """Compute the neighbouring checkpoints in the background, so a scrub is a cache hit."""
        from textual.worker import get_current_worker

        backend = self.vapp.backend()
        for step in steps:
            if get_current_worker().is_cancelled:
                return
            try:
                backend.cache.values(backend.ts, series, [step])
            except Exception:  # a prefetch is only a hint; the scrub itself reports problems
                return

    def show_series(self, series: RunSeries) -> None:
        previous = self.series
        self.series = series
        n = len(series.checkpoints)
        run = next((r for r in (self.vapp.overview.runs if self.vapp.overview else [])
                    if r.run_id == series.run_id), None)
        lineage = ""
        if run is not None and run.parent_run:
            lineage = f" ← {run.parent_run}" + (f":{run.parent_step}" if run.parent_step is not None else "")
        head = Text.assemble((series.run_id, "bold"),
                             f" · {run.stage}/{run.algorithm}{lineage}" if run else "",
                             f" · judge {series.judge_id or '–'}",
                             (f" · {self.vapp.confidence:.0%} CI, {self.vapp.n_boot} boot", "dim"))
        self.query_one("#stance-head", Static).update(head)
        if n == 0:
            self.show_problem(series.problem)  # type: ignore[arg-type]
            self.query_one(ScrubTable).clear()
            self.query_one(CheckpointSlider).set_points([], 0)
            self.query_one("#stance-pos", Static).update("")
            self.query_one("#stance-health", Static).update("")
            self.query_one("#stance-capability", Static).display = False
            self.query_one("#stance-judge", Static).update("")
            return
        same_run = previous is not None and previous.run_id == series.run_id
        if not same_run or self._follow:
            self.index = n - 1
        self.index = min(self.index, n - 1)
        self.query_one(CheckpointSlider).set_points([c.fraction for c in series.checkpoints], self.index)
        self._show_position()
        self._request_snapshot()

    def _request_snapshot(self) -> None:
        """Show what memory holds at once (cached CIs, else point values), then ask for CIs."""
        from vdbench.tui.data import stance_snapshot

        series = self.series
        if series is None or not series.checkpoints:
            return
        token = self.request("snapshot")
        quick = stance_snapshot(None, self.vapp.backend().cache, series, self.index, quick=True)
        if quick.values.empty and series.checkpoints[self.index].n_judged:
            quick = None  # point values not loaded: wait for the worker
        if quick is not None:
            self.show_snapshot(quick)
        if quick is None:
            self.load_snapshot(series, self.index, token)
        elif not quick.has_ci:
            # The bootstrap waits until scrubbing pauses: holding ← does not queue a
            # computation per checkpoint, and the key presses are not slowed by one.
            self._ci_timer = self._later(self._ci_timer,
                                         partial(self.load_snapshot, series, self.index, token))

    def _show_position(self) -> None:
        if self.series is None or not self.series.checkpoints:
            return
        ckpt = self.series.checkpoints[self.index]
        n = len(self.series.checkpoints)
        pos = f" step {ckpt.step}/{ckpt.total_steps} · {ckpt.fraction:.0%} · {self.index + 1}/{n}"
        if n == 1:
            pos += " (only checkpoint)"
        self.query_one("#stance-pos", Static).update(pos)
        self.query_one(CheckpointSlider).index = self.index

    def show_snapshot(self, snap: StanceSnapshot) -> None:
        from vdbench.tui.data import ALL_TOPICS, Problem

        self.snapshot = snap
        table = self.query_one(ScrubTable)
        width = self.size.width or 80
        self.query_one("#stance-health", Static).update(health_line(snap.health, width - 2))
        capability = self.series.capability if self.series is not None else None
        line = self.query_one("#stance-capability", Static)
        line.display = bool(capability)
        if capability:
            line.update(capability_line(capability, snap.checkpoint.step, width - 2))
        jh = self.series.judge_health if self.series is not None else None
        self.query_one("#stance-judge", Static).update(judge_line(
            snap.judge_health.get(ALL_TOPICS), width=width - 2,
            ood_threshold=jh.ood_threshold if jh else None,
            min_confidence=jh.min_confidence if jh else 0.6))
        series = self.series
        if series is not None and series.problem is not None:
            self.show_problem(series.problem)
            table.clear()
            self._detail()
            return
        if snap.values.empty:
            table.clear()
            self.show_problem(Problem(
                f"step {snap.checkpoint.step} has no judgments yet",
                f"run {snap.run_id}: this checkpoint's samples are not judged by {snap.judge_id}",
                f"judge them: vdbench judge run --db DB --run {snap.run_id}"))
            self._detail()
            return
        self.clear_problem()
        keep = table.cursor_row
        table.clear()
        width = max(10, (self.size.width or 80) - 46 - JUDGE_WIDTH - 2)
        bar_column = table.columns["bar"]  # type: ignore[index]
        # The column sizes to its widest content: a header wider than the bars would push
        # the judge column off a narrow screen, and a wider past screen must not linger.
        bar_column.label = Text(BAR_HEADER if width >= len(BAR_HEADER) else BAR_HEADER_SHORT)
        bar_column.content_width = bar_column.label.cell_len
        bar_column.width = width
        for row in snap.values.itertuples(index=False):
            r = row._asdict()
            values = [r[f"v_{s}"] for s in STANCES]
            name = Text("all topics" if r["topic"] == ALL_TOPICS else r["topic"][:14],
                        style="bold" if r["topic"] == ALL_TOPICS else "")
            cells = [pct_ci(r[f"v_{s}"], r[f"{s}_lo"], r[f"{s}_hi"]) for s in STANCES]
            health = snap.judge_health.get(r["topic"])
            bar = stacked_bar(values, width)
            if health and health.get("n") and not health["reliable"]:
                bar.stylize("dim")  # a guessed figure should not look as solid as a measured one
            table.add_row(name, bar, *cells, judge_cell(health), key=r["topic"])
        table.move_cursor(row=min(keep or 0, table.row_count - 1))
        self._detail()
        self.call_after_refresh(self._mark_painted, snap)
        if snap.has_ci and self.vapp.prefetch and series is not None:
            n = len(series.checkpoints)
            order = (snap.index + self._direction, snap.index - self._direction)
            near = [series.checkpoints[i].step for i in order if 0 <= i < n]
            self._prefetch_timer = self._later(self._prefetch_timer, partial(self.prefetch, series, near))

    def _later(self, timer: Timer | None, callback) -> Timer | None:
        """Run callback after ci_delay_s of quiet, replacing a pending one (None: at once)."""
        if timer is not None:
            timer.stop()
        if self.vapp.ci_delay_s <= 0:
            callback()
            return None
        return self.set_timer(self.vapp.ci_delay_s, callback)

    def _mark_painted(self, snap: StanceSnapshot) -> None:
        import time

        self.painted = (snap.checkpoint.step, snap.has_ci, time.perf_counter())

    @on(DataTable.RowHighlighted, "#stance-table")
    def _detail(self) -> None:
        detail = self.query_one("#stance-detail", Static)
        snap = self.snapshot
        table = self.query_one(ScrubTable)
        if snap is None or snap.values.empty or table.row_count == 0:
            detail.update("")
            return
        r = snap.values.iloc[min(table.cursor_row, len(snap.values) - 1)]
        text = Text(f"{r['topic']}: ", style="bold")
        text.append(f"{int(r['n_prompts'])} prompts, {int(r['n_samples'])} samples", style="dim")
        health = snap.judge_health.get(str(r["topic"]))
        if health and health.get("n"):
            jh = self.series.judge_health if self.series is not None else None
            ood = "not measured" if health.get("ood") is None else f"{health['ood']:.0%}"
            text.append(f" · judge: conf<{jh.min_confidence if jh else 0.6:g} "
                        f"{health['low_confidence']:.0%}, OOD {ood}", style="dim")
        text.append("\n")
        for s in STANCES:
            ci = (f"[{r[f'{s}_lo']:.3f}–{r[f'{s}_hi']:.3f}]" if snap.has_ci else "[CI …]")
            text.append(f"{s[0].upper()} {r[f'v_{s}']:.3f} {ci}  ")
        text.rstrip()
        detail.update(text)

    # -- scrubbing ------------------------------------------------------------------------

    def scrub_to(self, index: int) -> None:
        if self.series is None or not self.series.checkpoints:
            return
        n = len(self.series.checkpoints)
        index = max(0, min(n - 1, index))
        self._follow = index == n - 1
        if index != self.index:
            self._direction = 1 if index > self.index else -1
        if index == self.index and self.snapshot is not None and self.snapshot.index == index:
            return
        self.index = index
        self._show_position()
        self._request_snapshot()

    def action_scrub(self, delta: int) -> None:
        self.scrub_to(self.index + delta)

    @on(ScrubTable.Scrub)
    def _table_scrub(self, message: ScrubTable.Scrub) -> None:
        if message.to is not None:
            n = len(self.series.checkpoints) if self.series else 0
            self.scrub_to(message.to % max(1, n))
        else:
            self.scrub_to(self.index + (message.delta or 0))

    @on(CheckpointSlider.Moved)
    def _slider_moved(self, message: CheckpointSlider.Moved) -> None:
        self.scrub_to(message.index)

    def export_frame(self) -> tuple[str, pd.DataFrame] | None:
        snap = self.snapshot
        if snap is None or snap.values.empty:
            return None
        frame = snap.values.copy()
        frame.insert(0, "run_id", snap.run_id)
        frame.insert(1, "judge_id", snap.judge_id)
        frame["total_steps"] = snap.checkpoint.total_steps
        for key in ("flagged", "low_confidence", "ood", "mean_confidence"):
            frame[f"judge_{key}"] = [(snap.judge_health.get(str(t)) or {}).get(key)
                                     for t in frame["topic"]]
        return f"stances-{snap.run_id}-step{snap.checkpoint.step}", frame
