"""Read-side SQL shared by `vdbench metrics`, exports and the TUI. No torch, no writes.

Every value that comes from a user (run names, judge names, steps) is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from vdbench.errors import InputError


def records(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    """Rows of an executed query as dicts of plain Python values (NULL → None)."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def list_runs(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Runs with lineage, checkpoint count, judges used and last update, plus events:
    `budget_breaches` (drift-budget breaches recorded) and `stopped_step` (the step a run
    stopped on its budget, None unless it is stopped now)."""
    runs = records(con.execute(
        """
        WITH ck AS (
            SELECT run_id, count(*) AS n_checkpoints, max(created_at) AS last_checkpoint
            FROM checkpoints GROUP BY run_id
        ), jd AS (
            SELECT run_id, string_agg(DISTINCT judge_id, ', ') AS judges
            FROM judgments GROUP BY run_id
        )
        SELECT r.run_id, r.stage, r.algorithm, r.model, r.parent_run, r.parent_step,
               r.eval_set, r.seed, r.hparams, r.created_at,
               coalesce(ck.n_checkpoints, 0) AS n_checkpoints,
               greatest(r.updated_at, ck.last_checkpoint) AS updated_at,
               jd.judges
        FROM runs r LEFT JOIN ck USING (run_id) LEFT JOIN jd USING (run_id)
        ORDER BY r.created_at, r.run_id
        """
    ))
    events: dict[str, list[dict]] = {}
    for event in run_events(con):
        events.setdefault(event["run_id"], []).append(event)
    for run in runs:
        mine = events.get(run["run_id"], [])
        run["budget_breaches"] = sum(len(e["payload"].get("breaches", ())) for e in mine
                                     if e["kind"] == "drift_budget")
        stopped = stopped_at(mine)
        run["stopped_step"] = stopped["step"] if stopped else None
    return runs


def find_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict | None:
    """The run's identity and lineage, or None when the store has no such run."""
    row = con.execute("SELECT run_id, stage, algorithm, parent_run, parent_step, eval_set, "
                      "hparams, seed FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        return None
    keys = ("run_id", "stage", "algorithm", "parent_run", "parent_step", "eval_set", "hparams", "seed")
    return dict(zip(keys, row, strict=True))


def require_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    run = find_run(con, run_id)
    if run is None:
        known = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
        raise InputError(f"no run named {run_id!r} in the store",
                         hint=f"known runs: {', '.join(known) or '(none)'}")
    return run


def checkpoints(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    return con.execute(
        "SELECT step, total_steps, fraction, path, created_at FROM checkpoints "
        "WHERE run_id = ? ORDER BY step", [run_id]
    ).df()


def resolve_judge(con: duckdb.DuckDBPyConnection, run_id: str, judge: str | None) -> str:
    """The judge_id to read for a run: by id, by name (latest), or the only one present."""
    rows = con.execute(
        "SELECT DISTINCT j.judge_id, g.name, g.created_at FROM judgments j "
        "JOIN judges g USING (judge_id) WHERE j.run_id = ? ORDER BY g.created_at DESC",
        [run_id],
    ).fetchall()
    if not rows:
        raise InputError(f"run {run_id!r} has no judgments yet",
                         hint=f"judge its samples: vdbench judge run --db DB --run {run_id}")
    if judge is None:
        names = {r[1] for r in rows}
        from vdbench.judges.registry import DEFAULT_JUDGE

        if len(names) > 1 and DEFAULT_JUDGE in names:
            return next(r[0] for r in rows if r[1] == DEFAULT_JUDGE)
        return rows[0][0]
    for judge_id, name, _ in rows:
        if judge in (judge_id, name):
            return judge_id
    raise InputError(f"run {run_id!r} has no judgments by {judge!r}",
                     hint=f"judges present: {', '.join(r[0] for r in rows)}")


def judged_samples(con: duckdb.DuckDBPyConnection, run_id: str, judge_id: str,
                   steps: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per judged sample: topic, step, fraction, prompt_id, sample_idx, p_*.

    `steps`: only these checkpoints (None: all).
    """
    only = "" if steps is None else "AND list_contains(?, j.step)"
    params: list = [run_id, judge_id] + ([] if steps is None else [[int(s) for s in steps]])
    return con.execute(
        f"""
        SELECT j.topic, j.step, c.fraction, j.prompt_id, s.sample_idx,
               j.p_support, j.p_neutral, j.p_oppose
        FROM judgments j
        JOIN samples s USING (sample_id)
        JOIN checkpoints c ON c.run_id = j.run_id AND c.step = j.step
        WHERE j.run_id = ? AND j.judge_id = ? {only}
        ORDER BY j.topic, j.step, j.prompt_id, s.sample_idx
        """,
        params,
    ).df()


def run_events(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[dict]:
    """A run's events (drift budget exceeded, stopped, resumed), oldest first; payload parsed.

    run_id None: every run's.
    """
    import json

    where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
    rows = records(con.execute(
        f"SELECT run_id, step, kind, payload, created_at FROM run_events {where} "
        "ORDER BY run_id, created_at, step, kind", params))
    for row in rows:
        row["payload"] = json.loads(row["payload"]) if row["payload"] else {}
    return rows


def stopped_at(events: Sequence[dict]) -> dict | None:
    """The `stopped` event a run is still in (none resumed it since), or None.

    `events`: one run's events, oldest first (as run_events returns them).
    """
    state = None
    for event in events:
        if event["kind"] == "stopped":
            state = event
        elif event["kind"] == "resumed":
            state = None
    return state


def stance_at_checkpoint(
    con: duckdb.DuckDBPyConnection, run_id: str, step: int, judge_id: str
) -> pd.DataFrame:
    """v_t(T) per topic at one checkpoint: mean over prompts of the mean over samples."""
    return con.execute(
        """
        WITH per_prompt AS (
            SELECT topic, prompt_id, avg(p_support) AS s, avg(p_neutral) AS n, avg(p_oppose) AS o,
                   count(*) AS k
            FROM judgments WHERE run_id = ? AND step = ? AND judge_id = ?
            GROUP BY topic, prompt_id
        )
        SELECT topic, avg(s) AS v_support, avg(n) AS v_neutral, avg(o) AS v_oppose,
               count(*) AS n_prompts, sum(k) AS n_samples
        FROM per_prompt GROUP BY topic ORDER BY topic
        """,
        [run_id, step, judge_id],
    ).df()


def output_health(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Per checkpoint: share of samples that are empty, truncated, repetitive or degenerate."""
    return con.execute(
        """
        SELECT step, count(*) AS n_samples,
               avg((health = 'empty')::INT) AS empty,
               avg((health = 'truncated')::INT) AS truncated,
               avg((health = 'repetitive')::INT) AS repetitive,
               avg((health = 'degenerate')::INT) AS degenerate,
               avg((health <> 'ok')::INT) AS unhealthy,
               avg(n_tokens) AS mean_tokens
        FROM samples WHERE run_id = ? GROUP BY step ORDER BY step
        """,
        [run_id],
    ).df()


def labelled_judgments(con: duckdb.DuckDBPyConnection, judge_id: str) -> pd.DataFrame:
    """Reference labels (a stance, not 'none') on samples `judge_id` judged, in any run.

    One row per (source, sample): sample_id, source, label, created_at, run_id, topic and
    the judge's p_support, p_neutral, p_oppose for that sample.
    """
    return con.execute(
        """
        SELECT r.sample_id, r.source, r.label, r.created_at, j.run_id, j.topic,
               j.p_support, j.p_neutral, j.p_oppose
        FROM reference_labels r JOIN judgments j USING (sample_id)
        WHERE j.judge_id = ? AND r.label IN ('support', 'neutral', 'oppose')
        ORDER BY r.sample_id, r.source
        """,
        [judge_id],
    ).df()


def judgment_confidence(con: duckdb.DuckDBPyConnection, run_id: str, judge_id: str) -> pd.DataFrame:
    """One row per judgment of the run: step, topic, prompt_id, p_*, ood (NULL if unmeasured)."""
    return con.execute(
        "SELECT step, topic, prompt_id, p_support, p_neutral, p_oppose, ood FROM judgments "
        "WHERE run_id = ? AND judge_id = ? ORDER BY step, topic, prompt_id, sample_id",
        [run_id, judge_id],
    ).df()


def judge_manifest(con: duckdb.DuckDBPyConnection, judge_id: str) -> dict:
    """The manifest a judge was registered with (its OOD threshold lives there); {} if none."""
    import json

    row = con.execute("SELECT manifest FROM judges WHERE judge_id = ?", [judge_id]).fetchone()
    if not row or not row[0]:
        return {}
    return json.loads(row[0]) if isinstance(row[0], str) else dict(row[0])
