"""Judge both sides of every pair against its topic's proposition; resumable and batched.

An on-topic pair is judged against its topic's proposition; an off-topic pair against its
nearest topic's (so the dataset-wide gap is measured on every pair, and the off-topic
share of it is reported apart). Each batch of judgments is one transaction. A re-run
judges only the (pair, side) this judge has not judged against the pair's current
topic: a judgment made against another topic's proposition (after a change of eval set,
threshold or topic map) is replaced.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pyarrow as pa

from vdbench.audit.storeio import bulk_write
from vdbench.judges.base import Judge, JudgeItem
from vdbench.judgments import register_judge
from vdbench.store import Store, insert_arrow

SIDES = ("chosen", "rejected")
DEFAULT_JUDGE_BATCH = 128  # pairs per transaction (2 responses each)

# The topic whose proposition a pair is judged against.
JUDGE_TOPIC_SQL = (
    "CASE WHEN p.topic IS NOT NULL AND p.topic <> 'off-topic' THEN p.topic ELSE p.nearest_topic END"
)


def _pending_sql(limit_clause: str) -> str:
    return f"""
        SELECT p.pair_id, p.prompt, p.chosen, p.rejected, {JUDGE_TOPIC_SQL} AS judge_topic,
               NOT EXISTS (SELECT 1 FROM pair_judgments j WHERE j.judge_id = $judge
                   AND j.dataset_id = p.dataset_id AND j.pair_id = p.pair_id
                   AND j.side = 'chosen' AND j.topic = {JUDGE_TOPIC_SQL}) AS need_chosen,
               NOT EXISTS (SELECT 1 FROM pair_judgments j WHERE j.judge_id = $judge
                   AND j.dataset_id = p.dataset_id AND j.pair_id = p.pair_id
                   AND j.side = 'rejected' AND j.topic = {JUDGE_TOPIC_SQL}) AS need_rejected
        FROM pref_pairs p
        WHERE p.dataset_id = $dataset AND {JUDGE_TOPIC_SQL} IS NOT NULL AND p.pair_id > $after
        ORDER BY p.pair_id
        {limit_clause}
    """


def count_pending(store: Store, dataset_id: str, judge_id: str) -> int:
    """Pairs with at least one side still to judge."""
    sql = f"SELECT count(*) FROM ({_pending_sql('')}) WHERE need_chosen OR need_rejected"
    with store.read() as con:
        return int(
            con.execute(sql, {"judge": judge_id, "dataset": dataset_id, "after": -1}).fetchone()[0]
        )


def judge_pairs(
    store: Store,
    dataset_id: str,
    judge: Judge,
    propositions: dict[str, str],
    *,
    batch_pairs: int = DEFAULT_JUDGE_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Judge what is missing; returns counts and timing. `propositions`: topic → proposition."""
    started = time.perf_counter()
    identity = judge.identity
    with bulk_write(store) as con:
        register_judge(con, identity)
    total = count_pending(store, dataset_id, identity.judge_id)
    judged_pairs = judged_responses = 0
    after = -1
    while True:
        with store.read() as con:
            rows = con.execute(
                f"SELECT * FROM ({_pending_sql('')}) WHERE need_chosen OR need_rejected "
                "ORDER BY pair_id LIMIT $batch",
                {
                    "judge": identity.judge_id,
                    "dataset": dataset_id,
                    "after": after,
                    "batch": batch_pairs,
                },
            ).fetchall()
        if not rows:
            break
        items, keys = [], []
        for pair_id, prompt, chosen, rejected, topic, need_chosen, need_rejected in rows:
            for side, text, needed in (
                ("chosen", chosen, need_chosen),
                ("rejected", rejected, need_rejected),
            ):
                if needed:
                    items.append(JudgeItem(topic, propositions[topic], prompt, text))
                    keys.append((pair_id, side, topic))
        scores = judge.score(items)
        if len(scores) != len(items):
            raise RuntimeError(f"judge returned {len(scores)} scores for {len(items)} items")
        table = pa.table(
            {
                "judge_id": pa.array([identity.judge_id] * len(keys), pa.string()),
                "dataset_id": pa.array([dataset_id] * len(keys), pa.string()),
                "pair_id": pa.array([k[0] for k in keys], pa.int64()),
                "side": pa.array([k[1] for k in keys], pa.string()),
                "topic": pa.array([k[2] for k in keys], pa.string()),
                "p_support": pa.array([s.p_support for s in scores], pa.float64()),
                "p_neutral": pa.array([s.p_neutral for s in scores], pa.float64()),
                "p_oppose": pa.array([s.p_oppose for s in scores], pa.float64()),
                "label": pa.array([s.label for s in scores], pa.string()),
                "truncated": pa.array([bool(s.truncated) for s in scores], pa.bool_()),
                "note": pa.array([s.note for s in scores], pa.string()),
                "ood": pa.array([s.ood for s in scores], pa.float64()),
            }
        )
        with bulk_write(store) as con:
            insert_arrow(con, "pair_judgments", table, on_conflict="replace")
        judged_pairs += len(rows)
        judged_responses += len(items)
        after = rows[-1][0]
        if progress:
            progress(judged_pairs, total)
    return {
        "judge_id": identity.judge_id,
        "judged_pairs_now": judged_pairs,
        "judged_responses_now": judged_responses,
        "seconds": round(time.perf_counter() - started, 3),
    }
