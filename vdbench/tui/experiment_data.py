"""What the Experiment view shows: an experiment's report, with the numbers `vdbench experiment
report` prints (vdbench.experiments.report), and each grid point's curve of its moved stance
over the fraction of training as the mean over seeds with a min–max band.

Headless: no Textual. The store reads block and run in the view's thread workers; the shaping
under them (one seed's curve, aligning seeds by fraction, mean and band) is pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from vdbench.tui.health_data import ALL_TOPICS

if TYPE_CHECKING:
    from vdbench.store import Store
    from vdbench.tui.data import TuiStore

# Replicates of the report's bootstrap in the TUI: CIs to two decimals, in seconds, not minutes.
REPORT_N_BOOT = 500
FRACTION_DECIMALS = 6  # checkpoints of different seeds at the same fraction to this precision align

FINGERPRINT_SQL = """
    SELECT r.experiment, count(*) AS runs,
           sum((SELECT count(*) FROM checkpoints c WHERE c.run_id = r.run_id)) AS checkpoints,
           sum((SELECT count(*) FROM judgments j WHERE j.run_id = r.run_id)) AS judgments,
           sum((SELECT count(*) FROM run_results x WHERE x.run_id = r.run_id)) AS finished,
           max(e.updated_at) AS updated_at
    FROM experiment_runs r JOIN experiments e USING (experiment)
    GROUP BY r.experiment
"""


# ---------------------------------------------------------------------------- store reads


@dataclass(frozen=True)
class ExperimentInfo:
    """One experiment in the store, and a fingerprint that changes when any of its runs gains
    a checkpoint, a judgment or its training result (then its report is computed again)."""

    name: str
    source: str | None
    runs: int
    points: int
    seeds: int
    fingerprint: tuple


def list_experiments(ts: TuiStore) -> list[ExperimentInfo]:
    """The store's experiments by name; [] for a store without the experiment tables."""
    from vdbench.experiments.report import list_experiments as listed

    rows = listed(_as_store(ts))
    if not rows:
        return []
    with ts.read() as con:
        prints = {r[0]: tuple(r[1:]) for r in con.execute(FINGERPRINT_SQL).fetchall()}
    return [ExperimentInfo(r["experiment"], r["source"], int(r["runs"]), int(r["points"]),
                           int(r["seeds"]), prints.get(r["experiment"], ())) for r in rows]


def compute_report(ts: TuiStore, name: str, *, n_boot: int, confidence: float,
                   seed: int = 0) -> dict[str, Any]:
    """`vdbench experiment report`'s dict (points, comparisons, pending); ~0.25 s per run."""
    from vdbench.experiments.report import experiment_report

    return experiment_report(_as_store(ts), name, n_boot=n_boot, confidence=confidence, seed=seed)


def _as_store(ts: TuiStore) -> Store:
    # The report reads through `.read()` and names `.path`, both of which TuiStore has; going
    # through it serialises the report's reads with the other views' (one lock per process).
    return cast("Store", ts)


@dataclass(frozen=True)
class SeedCurve:
    """One seed's run: (fraction of training, v of the stance) at each judged checkpoint."""

    seed: int
    run_id: str
    points: tuple[tuple[float, float], ...]


def seed_curves(ts: TuiStore, per_seed: Sequence[Mapping[str, Any]], stance: str,
                topic: str = ALL_TOPICS) -> list[SeedCurve]:
    """The curve of each seed's run (`per_seed` rows of a report point: seed, run), from the
    runs' point values as the Drift view reads them (vdbench.tui.data.load_series)."""
    from vdbench.tui.data import load_series

    out = []
    for row in per_seed:
        series = load_series(ts, str(row["run"]))
        fraction_of = {c.step: c.fraction for c in series.checkpoints}
        out.append(SeedCurve(int(row["seed"]), str(row["run"]),
                             curve_of(series.points, fraction_of, stance, topic)))
    return out


# ---------------------------------------------------------------------------- pure shaping


def curve_of(points: pd.DataFrame, fraction_of: Mapping[int, float], stance: str,
             topic: str = ALL_TOPICS) -> tuple[tuple[float, float], ...]:
    """(fraction, v_stance) per checkpoint of one run, by fraction; `points` has columns
    topic, step, v_support, v_neutral, v_oppose. Steps without a fraction are left out."""
    if points.empty:
        return ()
    rows = points[points["topic"] == topic]
    got = [(float(fraction_of[int(step)]), float(v))
           for step, v in zip(rows["step"], rows[f"v_{stance}"], strict=True)
           if int(step) in fraction_of and not math.isnan(float(v))]
    return tuple(sorted(got))


def align_by_fraction(curves: Sequence[Sequence[tuple[float, float]]]
                      ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Seeds' curves on one x axis: (fractions, values seeds × fractions, interpolated).

    The fractions are the union of every seed's checkpoints (equal to FRACTION_DECIMALS
    places count as one). A seed without a checkpoint at a fraction inside its own range is
    interpolated linearly there (and `interpolated` is True); outside its range it is NaN,
    never extrapolated.
    """
    fractions = np.array(sorted({round(x, FRACTION_DECIMALS) for c in curves for x, _ in c}))
    values = np.full((len(curves), len(fractions)), np.nan)
    interpolated = False
    for i, curve in enumerate(curves):
        if not curve:
            continue
        xs = np.array([round(x, FRACTION_DECIMALS) for x, _ in curve])
        ys = np.array([y for _, y in curve])
        inside = (fractions >= xs.min()) & (fractions <= xs.max())
        values[i, inside] = np.interp(fractions[inside], xs, ys)
        interpolated |= bool(inside.sum() > len(set(xs.tolist())))
    return fractions, values, interpolated


@dataclass(frozen=True)
class SeedBand:
    """A grid point's stance curve over seeds: the mean and the min–max band at each fraction.

    `n` is how many seeds have a value there (a seed's run may stop early); the band of one
    seed is its curve.
    """

    point: str
    stance: str
    seeds: tuple[int, ...]
    runs: tuple[str, ...]
    fractions: tuple[float, ...]
    mean: tuple[float, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    n: tuple[int, ...]
    interpolated: bool = False

    @property
    def empty(self) -> bool:
        return not self.fractions


def seed_band(point: str, stance: str, curves: Sequence[SeedCurve]) -> SeedBand:
    """Mean and min–max over seeds of their curves aligned by fraction (align_by_fraction)."""
    curves = sorted(curves, key=lambda c: c.seed)
    seeds = tuple(c.seed for c in curves)
    runs = tuple(c.run_id for c in curves)
    fractions, values, interpolated = align_by_fraction([c.points for c in curves])
    if not len(fractions):
        return SeedBand(point, stance, seeds, runs, (), (), (), (), ())
    n = (~np.isnan(values)).sum(axis=0)
    keep = n > 0
    v = values[:, keep]
    return SeedBand(point, stance, seeds, runs, tuple(float(x) for x in fractions[keep]),
                    tuple(float(x) for x in np.nanmean(v, axis=0)),
                    tuple(float(x) for x in np.nanmin(v, axis=0)),
                    tuple(float(x) for x in np.nanmax(v, axis=0)),
                    tuple(int(x) for x in n[keep]), interpolated)


def point_of(report: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    return next((p for p in report.get("points", []) if p["point"] == name), None)


def matching_comparisons(comparisons: Sequence[dict[str, Any]], a: str, b: str
                         ) -> list[dict[str, Any]]:
    """The report's comparisons of points a and b: their paired difference (either order),
    then any slope over a series holding both."""
    pair = {a, b}
    diffs = [c for c in comparisons if c["kind"] == "difference" and {c["a"], c["b"]} == pair]
    slopes = [c for c in comparisons if c["kind"] == "slope" and pair <= set(c["points"])]
    return [*diffs, *slopes]


# ---------------------------------------------------------------------------- export


def points_frame(report: Mapping[str, Any]) -> pd.DataFrame:
    """One row per grid point: the table's text cells (as the CLI prints them) and the numbers."""
    from vdbench.experiments.render import POINT_COLUMNS, point_cells

    rows = []
    for p in report.get("points", []):
        cells = dict(zip(POINT_COLUMNS, point_cells(p), strict=True))
        m_ci = p.get("M_ci") or [None, None]
        eta_ci = p.get("eta_ci") or [None, None]
        rows.append({**cells, "experiment": report.get("experiment"), "stage": p.get("stage"),
                     "algorithm": p.get("algorithm"), "dataset": p.get("dataset"),
                     "pending": len(p.get("pending") or []), "M": p.get("M"), "M_lo": m_ci[0],
                     "M_hi": m_ci[1], "eta": p.get("eta"), "eta_lo": eta_ci[0],
                     "eta_hi": eta_ci[1], "unhealthy_to": p.get("unhealthy_to"),
                     "judge_flagged_to": p.get("judge_flagged_to")})
    return pd.DataFrame(rows)


def comparisons_frame(comparisons: Sequence[dict[str, Any]]) -> pd.DataFrame:
    from vdbench.experiments.render import COMPARE_COLUMNS, compare_cells

    rows = []
    for c in comparisons:
        rows.append({**dict(zip(COMPARE_COLUMNS, compare_cells(c), strict=True)),
                     "kind": c["kind"], "estimate": c["estimate"], "ci_lo": c["ci"][0],
                     "ci_hi": c["ci"][1]})
    return pd.DataFrame(rows, columns=[*COMPARE_COLUMNS, "kind", "estimate", "ci_lo", "ci_hi"])


def band_frame(bands: Sequence[SeedBand]) -> pd.DataFrame:
    """One row per (point, fraction): mean, min and max over seeds, and how many seeds."""
    cols = ["point", "stance", "fraction", "mean", "min", "max", "n_seeds", "seeds"]
    rows = [(b.point, b.stance, f, m, lo, hi, n, " ".join(map(str, b.seeds)))
            for b in bands for f, m, lo, hi, n in zip(b.fractions, b.mean, b.lo, b.hi, b.n,
                                                      strict=True)]
    return pd.DataFrame(rows, columns=cols)
