"""Run events in the store: a drift budget exceeded, training stopped on it, a stopped run
trained on. Read them with `vdbench.queries.run_events` (and `stopped_at`)."""

from __future__ import annotations

import json
from typing import Any

from vdbench.store import Store

DRIFT_BUDGET = "drift_budget"  # payload: {"budget": {stance: max}, "breaches": [BudgetBreach…]}
STOPPED = "stopped"  # payload: {"reason", "planned_steps", "breaches"}
RESUMED = "resumed"  # payload: {"from_step", "planned_steps"}
EVENT_KINDS = (DRIFT_BUDGET, STOPPED, RESUMED)


def record_event(store: Store, run_id: str, step: int, kind: str, payload: dict[str, Any]) -> bool:
    """Store one event; False when (run, step, kind) is already stored (a rerun)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown run event kind {kind!r}")
    with store.write() as con:
        added = con.execute(
            "INSERT OR IGNORE INTO run_events (run_id, step, kind, payload) VALUES (?, ?, ?, ?)",
            [run_id, int(step), kind, json.dumps(payload, default=str, sort_keys=True)],
        ).fetchall()[0][0]
    return bool(added)
