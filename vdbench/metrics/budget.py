"""Drift budgets: how far a stance may move during a stage before training is told.

A budget gives each stance a maximum |M| from the stage's first checkpoint. A topic (or
the pooled "(all topics)" row) exceeds it only when the paired bootstrap interval of M
lies entirely beyond the budget — above +MAX or below −MAX — so one noisy checkpoint
whose point estimate pokes past the line does not count. The interval is the one
`vdbench metrics --from-step FIRST --to-step STEP` reports (same bootstrap, same seed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import pandas as pd

from vdbench.errors import InputError
from vdbench.evalsets.topics import STANCES
from vdbench.metrics.bootstrap import bootstrap_drift_interval
from vdbench.metrics.drift import drift_magnitude
from vdbench.metrics.values import topic_values

ALL_TOPICS = "(all topics)"


@dataclass(frozen=True)
class BudgetBreach:
    """One topic's stance whose interval of M lies beyond its budget at one checkpoint."""

    topic: str
    stance: str
    step: int
    from_step: int
    M: float
    lo: float
    hi: float
    budget: float

    def describe(self) -> str:
        """One line naming topic, stance, step and M [CI], e.g. for a warning."""
        return (f"{self.topic} {self.stance} moved M = {self.M:+.3f} [{self.lo:+.3f}, "
                f"{self.hi:+.3f}] from step {self.from_step} to step {self.step}, beyond its "
                f"budget of ±{self.budget:g}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_drift_budget(text: str | None, option: str = "--drift-budget") -> dict[str, float]:
    """``STANCE:MAX[,STANCE:MAX…]`` → {stance: MAX}; InputError naming `option` otherwise.

    MAX is an absolute drift in [0, 1) (v is a share, so |M| ≤ 1); each stance at most
    once. None or "" gives no budget.
    """
    if not text:
        return {}
    budget: dict[str, float] = {}
    for part in text.split(","):
        stance, sep, value = part.strip().partition(":")
        stance = stance.strip().lower()
        where = f"{option} {text!r}"
        if not sep or not stance or not value.strip():
            raise InputError(f"{option}: {part.strip()!r} is not STANCE:MAX", where=where,
                             hint="e.g. --drift-budget neutral:0.2,support:0.1")
        if stance not in STANCES:
            raise InputError(f"{option}: unknown stance {stance!r}", where=where,
                             hint=f"stances: {', '.join(STANCES)}")
        if stance in budget:
            raise InputError(f"{option}: stance {stance!r} is given twice", where=where,
                             hint="give each stance one budget")
        try:
            limit = float(value)
        except ValueError:
            raise InputError(f"{option}: {value.strip()!r} is not a number (stance {stance})",
                             where=where, hint="MAX is an absolute drift, e.g. 0.2") from None
        if not 0.0 <= limit < 1.0:
            raise InputError(f"{option}: the budget for {stance} must be in [0, 1), got {value.strip()}",
                             where=where,
                             hint="MAX bounds |M|, the change of a share; it cannot be negative "
                             "and |M| ≤ 1 always")
        budget[stance] = limit
    return budget


def beyond_budget(lo: float, hi: float, budget: float) -> bool:
    """True when the whole interval [lo, hi] of M lies beyond ±budget (either side).

    An interval touching the budget line (lo == budget) is not beyond it.
    """
    return lo > budget or hi < -budget


def budget_breaches(
    budget: Mapping[str, float], moves: Mapping[str, Mapping[str, tuple[float, float, float]]],
    step: int, from_step: int,
) -> list[BudgetBreach]:
    """The (topic, stance) pairs whose interval lies beyond the budget, sorted by topic.

    moves: topic → stance → (M, lo, hi). Stances without a budget and topics without an
    interval for a budgeted stance are skipped.
    """
    found = []
    for topic in sorted(moves):
        for stance in STANCES:
            if stance not in budget or stance not in moves[topic]:
                continue
            m, lo, hi = moves[topic][stance]
            if beyond_budget(lo, hi, budget[stance]):
                found.append(BudgetBreach(topic, stance, step, from_step, float(m), float(lo),
                                          float(hi), float(budget[stance])))
    return found


def with_pooled_topic(samples: pd.DataFrame) -> pd.DataFrame:
    """Append a pseudo-topic pooling every prompt (as `vdbench metrics` does)."""
    pooled = samples.copy()
    pooled["prompt_id"] = pooled["topic"] + "/" + pooled["prompt_id"]
    pooled["topic"] = ALL_TOPICS
    return pd.concat([samples, pooled], ignore_index=True)


def drift_moves(
    samples: pd.DataFrame, from_step: int, step: int, *, n_boot: int = 1000,
    confidence: float = 0.95, seed: int = 0,
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """topic → stance → (M, lo, hi) between two checkpoints, the pooled topic included.

    `samples`: judged samples (topic, step, prompt_id, sample_idx, p_*) of one run; M is
    v_step − v_from over all prompts, (lo, hi) the paired bootstrap interval over the
    prompts judged at both steps. A topic not judged at both steps is left out.
    """
    samples = samples[samples["step"].isin([from_step, step])]
    if samples.empty:
        return {}
    pooled = with_pooled_topic(samples)
    values = topic_values(pooled).set_index(["topic", "step"])
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for topic, group in pooled.groupby("topic", sort=True):
        if (topic, from_step) not in values.index or (topic, step) not in values.index:
            continue
        try:
            ci = bootstrap_drift_interval(group, from_step, step, n_boot=n_boot,
                                          confidence=confidence, seed=seed)
        except ValueError:  # no prompt judged at both steps
            continue
        a, b = values.loc[(topic, from_step)], values.loc[(topic, step)]
        m = drift_magnitude({s: a[f"v_{s}"] for s in STANCES}, {s: b[f"v_{s}"] for s in STANCES})
        out[str(topic)] = {s: (m[s], ci[s][0], ci[s][1]) for s in STANCES}
    return out
