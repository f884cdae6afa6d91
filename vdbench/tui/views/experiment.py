"""Experiment: a declared grid of stages × settings × seeds (`vdbench experiment run`), one row
per grid point with the cells `vdbench experiment report` prints (seeds, moved stance, M of it
as the mean over seeds with its hierarchical-bootstrap CI, η, unhealthy outputs and judge
flags at the end, training's own statistics); a point's curve of its moved stance over the
fraction of training as the mean over seeds with the min–max band; two marked points overlaid,
with the report's paired comparison of them (difference [CI], verdict).

The report reads every run's metrics (about 0.25 s a run), so it is computed in a thread
worker, once per change of the experiment's runs (a cheap fingerprint decides), never twice
at once.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from vdbench.tui.render import RUN_COLOURS, RUN_MARKS, nice_range
from vdbench.tui.views.base import View
from vdbench.tui.widgets import Notice

if TYPE_CHECKING:
    import pandas as pd

    from vdbench.tui.experiment_data import ExperimentInfo, SeedBand

# The band of the first curve, of the second, and where both overlap (readable without colour).
BAND_GLYPHS = ("·", ":")
BOTH_BANDS = "+"
POINT_WIDTH = 22  # the point column; the detail line below the table has the full name
COLUMNS = ("point", "seeds", "moved", "M [CI]", "η", "bad", "judge", "training")
# vdbench.experiments.render.COMPARE_COLUMNS with the verdict early, for narrow terminals.
COMPARISON_ORDER = ("axis", "difference [CI]", "verdict", "compared", "of")
MAKE_ONE = ("make one: vdbench experiment run micro-paper --db DB "
            "(or vdbench experiment run FILE.toml --db DB)")


# ---------------------------------------------------------------------------- the band plot


def _interp(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    t = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
    return ys[i - 1] + t * (ys[i] - ys[i - 1])


def band_plot(bands: Sequence[SeedBand], width: int, height: int) -> list[Text]:
    """Mean curves over seeds with their min–max bands, over the fraction of training.

    Laid out like the Drift view's plot (vdbench.tui.render.drift_plot): `height` rows with a
    y axis, then an x axis from 0 to 1. The i-th curve draws RUN_MARKS[i] (its point marker at
    checkpoints, the lighter one between) over its band `·` (first) or `:` (second); `+` is
    where both bands overlap.
    """
    axis_w = 5
    w = max(10, width - axis_w - 1)
    h = max(3, height)
    shown = [(i, b) for i, b in enumerate(bands) if not b.empty]
    ys = [y for _, b in shown for y in (*b.lo, *b.hi, *b.mean)]
    if not ys:
        return [Text("(no judged checkpoints)")]
    y_lo, y_hi = nice_range(ys)
    span = max(y_hi - y_lo, 1e-9)
    grid: list[list[tuple[str, Style]]] = [[(" ", Style())] * w for _ in range(h)]

    def row_of(y: float) -> int:
        return min(h - 1, max(0, round((y_hi - y) / span * (h - 1))))

    def col_of(x: float) -> int:
        return min(w - 1, max(0, round(x * (w - 1))))

    for i, b in shown:
        glyph = BAND_GLYPHS[i % len(BAND_GLYPHS)]
        colour = Style(color=RUN_COLOURS[i % len(RUN_COLOURS)], dim=True)
        for c in range(col_of(b.fractions[0]), col_of(b.fractions[-1]) + 1):
            x = c / (w - 1)
            top = row_of(_interp(x, b.fractions, b.hi))
            bottom = row_of(_interp(x, b.fractions, b.lo))
            for r in range(top, bottom + 1):
                here = grid[r][c][0]
                if here == " ":
                    grid[r][c] = (glyph, colour)
                elif here in BAND_GLYPHS and here != glyph:
                    grid[r][c] = (BOTH_BANDS, Style(dim=True))
    for i, b in shown:
        point, line = RUN_MARKS[i % len(RUN_MARKS)]
        colour = Style(color=RUN_COLOURS[i % len(RUN_COLOURS)], bold=True)
        pts = list(zip(b.fractions, b.mean, strict=True))
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            c0, c1 = col_of(x0), col_of(x1)
            for c in range(c0 + 1, c1):
                t = (c - c0) / max(1, c1 - c0)
                grid[row_of(y0 + t * (y1 - y0))][c] = (line, colour)
        for x, y in pts:
            grid[row_of(y)][col_of(x)] = (point, colour)
    lines = []
    for r in range(h):
        y = y_hi - r / (h - 1) * span
        label = f"{y:4.2f}" if r in (0, h - 1, (h - 1) // 2) else ""
        text = Text(label + " ┤" if label else "     │", style="dim")
        for ch, st in grid[r]:
            text.append(ch, st)
        lines.append(text)
    axis = [" "] * w
    for label, pos in (("0", 0.0), ("0.25", 0.25), ("0.5", 0.5), ("0.75", 0.75), ("1", 1.0)):
        at = min(w - len(label), max(0, col_of(pos) - len(label) // 2))
        axis[at: at + len(label)] = label
    lines.append(Text("      " + "".join(axis)[:w], style="dim"))
    return lines


def band_legend(bands: Sequence[SeedBand]) -> Text:
    """`● pref beta=0.1 support: mean of seeds 0, 1 · band · min–max over seeds`."""
    text = Text()
    for i, b in enumerate(bands):
        mark = RUN_MARKS[i % len(RUN_MARKS)][0]
        text.append(mark, Style(color=RUN_COLOURS[i % len(RUN_COLOURS)], bold=True))
        seeds = ", ".join(str(s) for s in b.seeds)
        text.append(f" {b.point} {b.stance}: mean of seed{'s' if len(b.seeds) != 1 else ''} "
                    f"{seeds or '–'}  ")
    if len(bands) > 1:
        marks = ", ".join(f"{BAND_GLYPHS[i % len(BAND_GLYPHS)]} {RUN_MARKS[i % len(RUN_MARKS)][0]}"
                          for i in range(len(bands)))
        note = f"· bands ({marks}, {BOTH_BANDS} both) = min–max over seeds"
    else:
        note = f"· band ({BAND_GLYPHS[0]}) = min–max over seeds"
    if any(b.interpolated for b in bands):
        note += " · seeds aligned by fraction (interpolated)"
    text.append(note, style="dim")
    return text


class BandPlot(Widget):
    """The band plot, drawn for whatever size the layout gives it."""

    DEFAULT_CSS = "BandPlot { height: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bands: list[SeedBand] = []

    def show(self, bands: list[SeedBand]) -> None:
        self.bands = bands
        self.refresh()

    def render(self) -> Text:
        if not self.bands:
            return Text("")
        lines = band_plot(self.bands, self.size.width, max(3, self.size.height - 1))
        return Text("\n", no_wrap=True, overflow="crop").join(lines)


# ---------------------------------------------------------------------------- the view


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class ExperimentView(View):
    name_ = "experiment"
    BINDINGS = [
        Binding("space", "mark", "Mark"),
        Binding("c", "comparisons", "Comparisons"),
        Binding("x", "next_experiment", "Next exp.", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.experiments: list[ExperimentInfo] = []
        self.current: str | None = None
        self.reports: dict[str, tuple[tuple, dict[str, Any]]] = {}  # name -> (fingerprint, report)
        self.computing: str | None = None  # the experiment whose report a worker computes
        self.again = False  # another report is wanted once that worker is done
        self.plotted: str | None = None  # the point opened with enter
        self.marked: list[str] = []  # at most two, in the order marked
        self.bands: list[SeedBand] = []
        self._band_cache: dict[tuple, SeedBand] = {}  # (experiment, fingerprint, point)
        self.show_all = False  # the comparisons table instead of the curves

    def compose(self) -> ComposeResult:
        yield Static("", id="exp-head", classes="head")
        yield Notice()
        yield DataTable(id="exp-table", cursor_type="row")
        yield Static("", id="exp-detail", classes="dim-line")
        yield Static("", id="exp-legend")
        yield BandPlot(id="exp-plot")
        yield DataTable(id="exp-comparisons", cursor_type="row")
        yield Static("", id="exp-compare")

    def on_mount(self) -> None:
        table = self.query_one("#exp-table", DataTable)
        for col in COLUMNS:
            table.add_column(col, key=col)
        comparisons = self.query_one("#exp-comparisons", DataTable)
        for col in COMPARISON_ORDER:
            comparisons.add_column(col, key=col)

    def focus_main(self) -> None:
        self.query_one("#exp-comparisons" if self.show_all else "#exp-table", DataTable).focus()

    # -- loading ------------------------------------------------------------------------

    def reload(self) -> None:
        self.load_list(self.request("experiments"))

    @work(thread=True, exclusive=True, group="exp-list")
    def load_list(self, token: int) -> None:
        from vdbench.tui.experiment_data import list_experiments

        self.deliver("experiments", token, lambda b: list_experiments(b.ts))

    @work(thread=True, group="exp-report")
    def load_report(self, name: str, fingerprint: tuple, n_boot: int, confidence: float,
                    seed: int, token: int) -> None:
        from vdbench.tui.experiment_data import compute_report

        self.deliver(f"report:{name}", token, lambda b: (name, fingerprint, compute_report(
            b.ts, name, n_boot=n_boot, confidence=confidence, seed=seed)))

    @work(thread=True, exclusive=True, group="exp-curves")
    def load_curves(self, wanted: list[tuple[tuple, str, str, list[dict]]], token: int) -> None:
        from vdbench.tui.experiment_data import seed_band, seed_curves

        def bands(b) -> list[tuple[tuple, SeedBand]]:
            return [(key, seed_band(point, stance, seed_curves(b.ts, per_seed, stance)))
                    for key, point, stance, per_seed in wanted]

        self.deliver("curves", token, bands)

    def show_experiments(self, infos: list[ExperimentInfo]) -> None:
        from vdbench.tui.data import Problem

        self.experiments = infos
        if not infos:
            self.current = None
            self._render_head()
            self.query_one("#exp-table", DataTable).clear()
            self.query_one("#exp-detail", Static).update("")
            self._render_lower()
            self.show_problem(Problem(
                "No experiments in this store",
                "an experiment is a declared grid of training stages × settings × seeds; "
                "`vdbench experiment run` tags its runs in the store as it trains them",
                MAKE_ONE))
            return
        self.clear_problem()
        names = [e.name for e in infos]
        if self.current not in names:
            self.current = names[0]
            self.plotted, self.marked = None, []
        self._show_current()

    def _info(self) -> ExperimentInfo | None:
        return next((e for e in self.experiments if e.name == self.current), None)

    def _report(self) -> dict[str, Any] | None:
        entry = self.reports.get(self.current or "")
        return entry[1] if entry else None

    def _show_current(self) -> None:
        """The chosen experiment's report: from memory if its runs are unchanged, else computed."""
        info = self._info()
        if info is None:
            return
        cached = self.reports.get(info.name)
        if cached is None or cached[0] != info.fingerprint:
            self._compute(info)
        self._render_report()

    def _compute(self, info: ExperimentInfo) -> None:
        if self.computing is not None:  # one report at a time: the next starts when it is done
            self.again = True
            return
        from vdbench.tui.experiment_data import REPORT_N_BOOT

        self.computing = info.name
        self.load_report(info.name, info.fingerprint, min(self.vapp.n_boot, REPORT_N_BOOT),
                         self.vapp.confidence, int(getattr(self.vapp, "seed", 0)),
                         self.request(f"report:{info.name}"))

    def show_report(self, value: tuple[str, tuple, dict[str, Any]]) -> None:
        name, fingerprint, report = value
        self.reports[name] = (fingerprint, report)
        self._band_cache = {k: v for k, v in self._band_cache.items()
                            if k[0] != name or k[1] == fingerprint}
        if name == self.current:
            names = {p["point"] for p in report["points"]}
            self.marked = [m for m in self.marked if m in names]
            self.plotted = self.plotted if self.plotted in names else None
            self._render_report()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "exp-report" or event.state in (WorkerState.PENDING,
                                                                  WorkerState.RUNNING):
            return
        self.computing = None
        if self.again:
            self.again = False
            self._show_current()
        else:
            self._render_head()

    def show_curves(self, value: list[tuple[tuple, SeedBand]]) -> None:
        for key, band in value:
            self._band_cache[key] = band
        self._render_lower()

    def show_problem(self, problem: Any) -> None:
        super().show_problem(problem)
        self.set_class(False, "-curves")
        self.set_class(False, "-all")

    # -- rendering ----------------------------------------------------------------------

    def _render_report(self) -> None:
        self._render_head()
        self._fill_table()
        self._detail()
        self._render_lower()

    def _render_head(self) -> None:
        head = Text()
        info = self._info()
        if info is None:
            self.query_one("#exp-head", Static).update(head)
            return
        head.append("experiment ")
        head.append(info.name, style="bold")
        head.append(f" · {info.points} points · {info.runs} runs · {info.seeds} seed(s)")
        if len(self.experiments) > 1:
            i = [e.name for e in self.experiments].index(info.name)
            head.append(f" · {i + 1}/{len(self.experiments)} x: next", style="bold")
        if self.computing == info.name or (self.computing and self.again):
            head.append(f"\ncomputing… the report reads all {info.runs} runs' metrics",
                        style="italic")
        else:
            report = self._report()
            if report is not None:
                boot = report["bootstrap"]
                head.append(f"\nM = mean over seeds, {boot['confidence']:.0%} CI (hier. bootstrap "
                            f"×{boot['n_boot']}) · judge {report['judge'] or '–'}", style="dim")
        self.query_one("#exp-head", Static).update(head)

    def _shown(self) -> list[str]:
        """Points on the plot: the marked ones, else the one opened with enter."""
        if self.marked:
            return list(self.marked)
        return [self.plotted] if self.plotted else []

    def _fill_table(self) -> None:
        from vdbench.experiments.render import point_cells

        table = self.query_one("#exp-table", DataTable)
        keep = table.cursor_row
        table.clear()
        report = self._report()
        if report is None:
            return
        shown = self._shown()
        for p in report["points"]:
            cells = point_cells(p)
            name = Text()
            if p["point"] in shown:
                i = shown.index(p["point"])
                name.append(RUN_MARKS[i][0] + " ", Style(color=RUN_COLOURS[i], bold=True))
            else:
                name.append("  ")
            name.append(_short(p["point"], POINT_WIDTH), style="bold" if p["point"] in shown else "")
            pending = len(p.get("pending") or [])
            seeds = f"{cells[1]}/{int(cells[1]) + pending}" if pending else cells[1]
            eta = cells[5].split(" [")[0]
            table.add_row(name, seeds, cells[2], cells[4], eta, cells[6], cells[7], cells[8],
                          key=p["point"])
        if table.row_count:
            table.move_cursor(row=min(keep or 0, table.row_count - 1))

    def _highlighted(self) -> dict[str, Any] | None:
        report = self._report()
        table = self.query_one("#exp-table", DataTable)
        if report is None or not report["points"] or table.row_count == 0:
            return None
        return report["points"][min(table.cursor_row, len(report["points"]) - 1)]

    @on(DataTable.RowHighlighted, "#exp-table")
    def _detail(self) -> None:
        from vdbench.experiments.render import point_cells

        detail = self.query_one("#exp-detail", Static)
        p = self._highlighted()
        if p is None:
            info = self._info()
            detail.update(f"computing the report of {info.name}…" if info and self.computing
                          else "")
            return
        text = Text(f"{p['point']}: {p['stage']}/{p['algorithm']} on {p['dataset']}")
        pending = len(p.get("pending") or [])
        if not p.get("n_seeds"):
            text.append(f" · no finished run yet, {pending} planned")
        else:
            cells = point_cells(p)
            seeds = ", ".join(str(s["seed"]) for s in p.get("per_seed", []))
            text.append(f" · seeds {seeds}" + (f" ({pending} pending)" if pending else ""))
            text.append(f"\nbefore {cells[3]} · η {cells[5]} · {cells[8]}")
        detail.update(text)

    def _render_lower(self) -> None:
        """Below the table: the curves of the shown points (or the comparisons table) and the
        comparison of two marked points."""
        report = self._report()
        legend = self.query_one("#exp-legend", Static)
        compare = self.query_one("#exp-compare", Static)
        plot = self.query_one(BandPlot)
        comparisons = self.query_one("#exp-comparisons", DataTable)
        self.set_class(self.show_all and report is not None, "-all")
        if report is None:
            self.set_class(False, "-curves")
            legend.update("")
            compare.update("")
            plot.show([])
            return
        if self.show_all:
            self.set_class(False, "-curves")
            compare.update("")
            n = len(report["comparisons"])
            legend.update(Text(f"{n} comparison(s), paired over shared seeds and prompts · "
                               "enter: overlay the two points · c: back", style="dim"))
            self._fill_comparisons(comparisons, report)
            return
        shown = self._shown()
        if not shown:
            self.set_class(False, "-curves")
            plot.show([])
            legend.update(Text("enter: curves of a point over its seeds · space: mark two "
                               "points to compare · c: every comparison", style="dim"))
            compare.update("")
            return
        from vdbench.tui.experiment_data import point_of

        points = [p for name in shown if (p := point_of(report, name)) is not None]
        self.set_class(any(p.get("per_seed") for p in points), "-curves")
        fingerprint = self.reports[self.current or ""][0]
        keys = [(self.current, fingerprint, p["point"]) for p in points]
        missing = [(key, p["point"], p["moved"], p["per_seed"]) for key, p in
                   zip(keys, points, strict=True)
                   if key not in self._band_cache and p.get("per_seed")]
        if missing:
            legend.update(Text("reading the seeds' curves…", style="italic"))
            self.load_curves(missing, self.request("curves"))
        bands = [self._band_cache[k] for k in keys if k in self._band_cache]
        unfinished = [p["point"] for p in points if not p.get("per_seed")]
        if not missing:
            text = band_legend(bands) if bands else Text()
            if unfinished:
                text.append(("\n" if bands else "") + f"{', '.join(unfinished)}: no finished run "
                            "yet, nothing to plot", style="italic")
            legend.update(text)
        self.bands = bands
        plot.show(bands)
        compare.update(self._compare_text(report, points))

    def _compare_text(self, report: dict[str, Any], points: list[dict[str, Any]]) -> Text:
        from vdbench.tui.experiment_data import matching_comparisons

        if len(points) == 1:
            p = points[0]
            text = Text("M per seed: ", style="dim")
            for s in p.get("per_seed", []):
                ci = s.get("M_ci")
                text.append(f"{s['seed']}: {s['M']:+.2f}" +
                            (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "") + "  ")
            return text
        a, b = points[0]["point"], points[1]["point"]
        found = matching_comparisons(report["comparisons"], a, b)
        if not found:
            return Text(f"no comparison of {a} and {b} in the report: they differ in more than "
                        "one setting, or share no finished seed", style="dim")
        text = Text()
        for i, c in enumerate(found[:2]):
            text.append("\n" if i else "")
            text.append(_comparison_line(c))
        return text

    def _fill_comparisons(self, table: DataTable, report: dict[str, Any]) -> None:
        from vdbench.experiments.render import COMPARE_COLUMNS, compare_cells

        keep = table.cursor_row
        table.clear()
        for i, c in enumerate(report["comparisons"]):
            cells = dict(zip(COMPARE_COLUMNS, compare_cells(c), strict=True))
            table.add_row(*(cells[col] for col in COMPARISON_ORDER), key=str(i))
        if table.row_count:
            table.move_cursor(row=min(keep or 0, table.row_count - 1))
        self._comparison_detail()

    @on(DataTable.RowHighlighted, "#exp-comparisons")
    def _comparison_detail(self) -> None:
        report = self._report()
        table = self.query_one("#exp-comparisons", DataTable)
        if not self.show_all or report is None or not report["comparisons"]:
            return
        c = report["comparisons"][min(table.cursor_row, len(report["comparisons"]) - 1)]
        self.query_one("#exp-compare", Static).update(_comparison_line(c))

    # -- actions ------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#exp-table")
    def action_open(self) -> None:
        p = self._highlighted()
        if p is None:
            return
        self.plotted, self.marked = p["point"], []
        self._fill_table()
        self._render_lower()

    def action_mark(self) -> None:
        if self.show_all:
            return
        p = self._highlighted()
        if p is None:
            return
        name = p["point"]
        if name in self.marked:
            self.marked.remove(name)
        else:
            self.marked = [*self.marked, name][-2:]  # a third mark drops the first
        self._fill_table()
        self._render_lower()

    def action_comparisons(self) -> None:
        if self._report() is None:
            return
        self.show_all = not self.show_all
        self._render_lower()
        self.focus_main()

    @on(DataTable.RowSelected, "#exp-comparisons")
    def _open_comparison(self, message: DataTable.RowSelected) -> None:
        report = self._report()
        if report is None or not report["comparisons"]:
            return
        c = report["comparisons"][min(message.cursor_row, len(report["comparisons"]) - 1)]
        self.marked = [c["a"], c["b"]] if c["kind"] == "difference" else \
            [c["points"][0], c["points"][-1]]
        self.show_all = False
        self._fill_table()
        self._render_lower()
        self.focus_main()

    def action_next_experiment(self) -> None:
        if len(self.experiments) < 2:
            return
        names = [e.name for e in self.experiments]
        i = names.index(self.current) if self.current in names else -1
        self.current = names[(i + 1) % len(names)]
        self.plotted, self.marked, self.show_all = None, [], False
        self._show_current()

    def export_frame(self) -> tuple[str, pd.DataFrame] | None:
        from vdbench.tui.experiment_data import band_frame, comparisons_frame, points_frame

        report = self._report()
        if report is None:
            return None
        name = report["experiment"]
        if self.show_all:
            return f"experiment-{name}-comparisons", comparisons_frame(report["comparisons"])
        if self.bands and self.has_class("-curves"):
            return f"experiment-{name}-curves", band_frame(self.bands)
        return f"experiment-{name}", points_frame(report)


def _comparison_line(c: dict[str, Any]) -> Text:
    """`beta: pref beta=0.1 − pref beta=0.5 · M(support) +0.30 [+0.12, +0.42] · <verdict>`."""
    from vdbench.experiments.render import compare_cells

    axis, compared, of, diff, verdict = compare_cells(c)
    text = Text(f"{axis}: {compared} · {of} {diff} · ")
    text.append(verdict, style="bold")
    return text
