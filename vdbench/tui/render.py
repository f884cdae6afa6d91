"""Text renderings the TUI shows: stance bars, Δ histograms, drift plots, reliability.

Rich only (no Textual, no pandas), so they can be unit-tested and reused. Every
rendering is readable without colour: each stance has its own glyph pattern and each run
its own marker; colour only repeats what the glyphs already say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

STANCES = ("support", "neutral", "oppose")
GLYPH = {"support": "█", "neutral": "▒", "oppose": "░"}
# Blue / grey / orange: distinguishable with the common colour-vision deficiencies.
COLOUR = {"support": "#4f8fe8", "neutral": "#a0a0a0", "oppose": "#f0883e"}
SHORT = {"support": "S", "neutral": "N", "oppose": "O"}
RUN_MARKS = (("●", "•"), ("◆", "◇"), ("▲", "△"), ("■", "□"), ("★", "☆"), ("✚", "+"))
RUN_COLOURS = ("#4f8fe8", "#f0883e", "#56b870", "#c678dd", "#e5c07b", "#56b6c2")
EIGHTHS = " ▁▂▃▄▅▆▇█"


def legend() -> Text:
    """`█ support  ▒ neutral  ░ oppose` with each glyph in its stance colour."""
    text = Text()
    for s in STANCES:
        text.append(GLYPH[s] * 2, Style(color=COLOUR[s]))
        text.append(f" {s}  ")
    return text


def split_cells(values: Sequence[float], width: int) -> list[int]:
    """Integer cell counts proportional to values summing to width (largest remainder)."""
    total = sum(max(0.0, v) for v in values)
    if total <= 0 or width <= 0:
        return [0] * len(values)
    raw = [max(0.0, v) / total * width for v in values]
    cells = [int(math.floor(r)) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (-(raw[i] - cells[i]), i))
    for i in by_remainder[: width - sum(cells)]:
        cells[i] += 1
    return cells


def stacked_bar(values: Sequence[float], width: int) -> Text:
    """One stacked support/neutral/oppose bar of `width` cells."""
    text = Text()
    for stance, n in zip(STANCES, split_cells(values, width), strict=True):
        text.append(GLYPH[stance] * n, Style(color=COLOUR[stance]))
    return text


def pct_ci(value: float, lo: float, hi: float) -> str:
    """`45±4`: the value in percent and the CI's larger half-width (percentile CIs are asymmetric)."""
    half = max(value - lo, hi - value)
    if math.isnan(half):
        return f"{value * 100:3.0f}±… "
    return f"{value * 100:3.0f}±{min(half * 100, 99):<2.0f}"


# ---------------------------------------------------------------------------- histograms


def histogram(counts: Sequence[int], height: int, bin_width: int = 2,
              signed_colours: bool = True) -> list[Text]:
    """Vertical bars (eighth blocks), tallest bin = full height; one Text per row, top first.

    With signed_colours, bins left of the centre (Δ < 0) are orange, right blue.
    """
    peak = max(counts) if len(counts) and max(counts) > 0 else 1
    levels = [c / peak * height * 8 for c in counts]
    half = len(counts) / 2
    rows = []
    for r in range(height):
        floor = (height - r - 1) * 8
        line = Text()
        for i, level in enumerate(levels):
            part = int(max(0, min(8, round(level - floor))))
            if counts[i] > 0 and r == height - 1 and part == 0:
                part = 1  # a non-empty bin is always visible
            style = Style(color=COLOUR["oppose"] if i < half else COLOUR["support"]) \
                if signed_colours else Style()
            line.append(EIGHTHS[part] * bin_width, style)
        rows.append(line)
    return rows


def delta_axis(n_bins: int, bin_width: int = 2) -> Text:
    """An x axis for Δ on [−2, 2] under `histogram`."""
    width = n_bins * bin_width
    cells = [" "] * width
    for label, pos in (("-2", 0.0), ("-1", 0.25), ("0", 0.5), ("+1", 0.75), ("+2", 1.0)):
        at = min(width - len(label), max(0, round(pos * width) - len(label) // 2))
        cells[at: at + len(label)] = label
    return Text("".join(cells), style="dim")


# ---------------------------------------------------------------------------- drift plot


@dataclass
class PlotSeries:
    """One curve of the drift plot: points (x in [0, 1], y) and optional η and CI band."""

    label: str
    points: list[tuple[float, float]]
    mark: int = 0  # index into RUN_MARKS / RUN_COLOURS
    eta: float | None = None
    band: tuple[float, float] | None = None


def nice_range(values: Sequence[float]) -> tuple[float, float]:
    """The y range of a plot: values padded to 0.05 steps, at least 0.1 wide, inside [0, 1]."""
    lo, hi = min(values), max(values)
    lo = math.floor(lo * 20) / 20
    hi = math.ceil(hi * 20) / 20
    if hi - lo < 0.1:
        mid = (hi + lo) / 2
        lo, hi = mid - 0.05, mid + 0.05
    return max(0.0, lo), min(1.0, hi)


def drift_plot(series: Sequence[PlotSeries], width: int, height: int,
               segments: Sequence[tuple[float, str]] = ()) -> list[Text]:
    """A character plot of stance curves over the fraction of training.

    Rows top to bottom: `height` plot rows with a y axis, then an x axis. Each run draws
    its point marker at checkpoints and a lighter marker in between; `┊` marks η (drift
    time), `·` fills the extreme value's CI band. `segments` = [(x_start, label)] draws
    stage boundaries (lineage mode).
    """
    axis_w = 5
    w = max(10, width - axis_w - 1)
    h = max(3, height)
    ys = [y for s in series for _, y in s.points]
    ys += [b for s in series if s.band for b in s.band]
    if not ys:
        return [Text("(no points)")]
    y_lo, y_hi = nice_range(ys)
    span = max(y_hi - y_lo, 1e-9)
    grid: list[list[tuple[str, Style]]] = [[(" ", Style())] * w for _ in range(h)]

    def row_of(y: float) -> int:
        return min(h - 1, max(0, round((y_hi - y) / span * (h - 1))))

    def col_of(x: float) -> int:
        return min(w - 1, max(0, round(x * (w - 1))))

    for s in series:
        colour = Style(color=RUN_COLOURS[s.mark % len(RUN_COLOURS)], dim=True)
        if s.band:
            xs = [x for x, _ in s.points]
            c0, c1 = col_of(min(xs)), col_of(max(xs))
            for r in range(row_of(s.band[1]), row_of(s.band[0]) + 1):
                for c in range(c0, c1 + 1):
                    if grid[r][c][0] == " ":
                        grid[r][c] = ("·", colour)
    for s in series:
        if s.eta is None:
            continue
        colour = Style(color=RUN_COLOURS[s.mark % len(RUN_COLOURS)])
        c = col_of(s.eta)
        for r in range(h):
            if grid[r][c][0] in (" ", "·"):
                grid[r][c] = ("┊", colour)
    for s in series:
        point, line = RUN_MARKS[s.mark % len(RUN_MARKS)]
        colour = Style(color=RUN_COLOURS[s.mark % len(RUN_COLOURS)], bold=True)
        pts = sorted(s.points)
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            c0, c1 = col_of(x0), col_of(x1)
            for c in range(c0 + 1, c1):
                t = (c - c0) / max(1, c1 - c0)
                grid[row_of(y0 + t * (y1 - y0))][c] = (line, colour)
        for x, y in pts:
            grid[row_of(y)][col_of(x)] = (point, colour)
    for x, _label in segments:
        c = col_of(x)
        for r in range(h):
            if grid[r][c][0] in (" ", "·"):
                grid[r][c] = ("│", Style(dim=True))
    lines = []
    for r in range(h):
        y = y_hi - r / (h - 1) * span if h > 1 else y_hi
        label = f"{y:4.2f}" if r in (0, h - 1, (h - 1) // 2) else "    "
        text = Text(label + " ┤" if label.strip() else "     │", style="dim")
        for ch, st in grid[r]:
            text.append(ch, st)
        lines.append(text)
    axis = [" "] * w
    if segments:
        for x, label in segments:
            c = col_of(x) + 1
            piece = label[: max(1, w - c)]
            axis[c: c + len(piece)] = piece
    else:
        for label, pos in (("0", 0.0), ("0.25", 0.25), ("0.5", 0.5), ("0.75", 0.75), ("1", 1.0)):
            at = min(w - len(label), max(0, col_of(pos) - len(label) // 2))
            axis[at: at + len(label)] = label
    lines.append(Text("      " + "".join(axis)[:w], style="dim"))
    return lines


@dataclass
class HealthMark:
    """Judge health at one checkpoint of the drift plot: x in [0, 1], flagged share, glyph."""

    x: float
    flagged: float
    glyph: str  # ✓ ok, ~ weak, ! GUESSING (vdbench.tui.health_data.flag_glyph)
    bad: bool = False  # more than half flagged: shown in reverse video


def judge_strip(marks: Sequence[HealthMark], width: int) -> Text:
    """One row under drift_plot's x axis: at each checkpoint's column its flagged share in
    percent and its glyph (`77!`), or the glyph alone where the checkpoints are too close.

    Same columns as drift_plot(width=width): a 6-cell gutter reading `judge`, then the plot.
    """
    w = max(10, width - 6)
    cols = sorted(((min(w - 1, max(0, round(m.x * (w - 1)))), m) for m in marks), key=lambda cm: cm[0])
    cells = [f"{m.flagged * 100:.0f}{m.glyph}" for _, m in cols]
    placed: list[tuple[int, str, HealthMark]] = []
    end = -1
    for (c, m), cell in zip(cols, cells, strict=True):
        at = min(w - len(cell), max(0, c - len(cell) + 1))  # the glyph sits on the checkpoint
        if at <= end:
            placed = []
            break
        placed.append((at, cell, m))
        end = at + len(cell)
    if not placed and cols:  # too dense for numbers: one glyph per checkpoint
        placed = [(c, m.glyph, m) for c, m in cols]
    text = Text("judge ", style="dim")
    pos = 0
    for at, cell, m in placed:
        if at < pos:
            continue
        text.append(" " * (at - pos))
        text.append(cell, Style(bold=m.bad, reverse=m.bad))
        pos = at + len(cell)
    text.append(" " * max(0, w - pos))
    return text


def run_legend(labels: Sequence[str], band_of: str | None = None) -> Text:
    text = Text()
    for i, label in enumerate(labels):
        point, _ = RUN_MARKS[i % len(RUN_MARKS)]
        text.append(point, Style(color=RUN_COLOURS[i % len(RUN_COLOURS)], bold=True))
        text.append(f" {label}  ")
    text.append("┊ η  · CI of extreme" + (f" ({band_of})" if band_of else ""), style="dim")
    return text


# ---------------------------------------------------------------------------- reliability


def reliability_row(confidence: float, accuracy: float, width: int = 10) -> Text:
    """Accuracy as a bar, with `│` where a perfectly calibrated judge would reach."""
    text = Text()
    if math.isnan(accuracy):
        return Text(" " * width)
    filled = round(accuracy * width)
    target = min(width - 1, max(0, round(confidence * width) - 1))
    for i in range(width):
        ch = "█" if i < filled else ("┃" if i == target else " ")
        text.append(ch, Style(color=COLOUR["support"]) if ch == "█" else Style(dim=True))
    return text


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def before_after(pair: tuple[float | None, float | None], digits: int = 2) -> str:
    """`0.71→0.74`, or one value when there is no after."""
    before, after = pair
    if after is None:
        return fmt(before, digits)
    return f"{fmt(before, digits)}→{fmt(after, digits)}"
