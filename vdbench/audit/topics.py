"""Assign each pair's prompt to an eval-set topic, or to "off-topic".

Method (``centroid``): every topic is represented by the mean of the unit-length
all-MiniLM-L6-v2 embeddings of its eval-set questions and its proposition, renormalised.
A prompt's score for a topic is the cosine similarity of its embedding (the user's
words only: the Human turns, see :func:`~vdbench.audit.formats.topic_text`) to that
centroid. The best-scoring topic is stored as ``nearest_topic`` with its score; the pair
is on that topic if the score reaches the threshold, else "off-topic".

Default threshold 0.45: on the built-in V-PRISM set, leave-one-out, 95% of the set's own
questions score at least 0.46 against their topic's centroid (96.5% land on the right
topic), while 96% of HH-RLHF harmless-base prompts score below it (what remains is mostly
drugs, guns, crime and punishment, immigration). Centroids beat nearest-question
similarity (93.6% leave-one-out) and are less fooled by one loosely related question.

Re-running with another threshold or topic map re-labels from the stored scores without
re-embedding; another eval set re-embeds. A topic map (``--topic-map``) overrides the
embedding: rules with ``pair_id`` or ``prompt_contains`` (case-insensitive substring) and
``topic`` (an eval-set topic or "off-topic"), in a JSON list or a CSV file; the first
matching rule wins.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from vdbench.audit.formats import topic_text
from vdbench.audit.storeio import bulk_write
from vdbench.errors import InputError
from vdbench.evalsets.model import EvalSet
from vdbench.store import Store

OFF_TOPIC = "off-topic"
UNASSIGNED = "unassigned"
DEFAULT_THRESHOLD = 0.45
METHOD = "centroid"
EMBEDDER = "all-MiniLM-L6-v2"
EMBED_BATCH = 1024

Embedder = Callable[[Sequence[str]], np.ndarray]


def default_embedder(texts: Sequence[str]) -> np.ndarray:
    from vdbench.embedding import embed

    return embed(texts)


@dataclass(frozen=True)
class TopicIndex:
    """Unit-length topic centroids of one eval set, in `topics` order."""

    eval_set: str
    topics: tuple[str, ...]
    centroids: np.ndarray  # (k, d)

    @classmethod
    def build(cls, evalset: EvalSet, embedder: Embedder) -> TopicIndex:
        topics = tuple(evalset.topics)
        grouped = evalset.by_topic()
        texts: list[str] = []
        owner: list[int] = []
        for k, topic in enumerate(topics):
            for text in [evalset.topics[topic], *(p.text for p in grouped[topic])]:
                texts.append(text)
                owner.append(k)
        vectors = np.asarray(embedder(texts), dtype=np.float64)
        return cls(evalset.name, topics, topic_centroids(vectors, np.asarray(owner), len(topics)))

    def nearest(self, texts: Sequence[str], embedder: Embedder) -> tuple[list[str], np.ndarray]:
        """(best topic, its cosine similarity) for each text."""
        if not texts:
            return [], np.zeros(0)
        scores = np.asarray(embedder(texts), dtype=np.float64) @ self.centroids.T
        best = scores.argmax(axis=1)
        return [self.topics[i] for i in best], scores[np.arange(len(texts)), best]


def topic_centroids(vectors: np.ndarray, owner: np.ndarray, k: int) -> np.ndarray:
    """Renormalised mean of each group's rows; (k, d). A group with no rows is all zeros."""
    out = np.zeros((k, vectors.shape[1]))
    np.add.at(out, owner, vectors)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def label_topics(nearest: Sequence[str], scores: np.ndarray, threshold: float) -> list[str]:
    """The nearest topic where its score reaches `threshold`, else "off-topic"."""
    return [t if s >= threshold else OFF_TOPIC for t, s in zip(nearest, scores, strict=True)]


# --- topic map ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicRule:
    order: int
    topic: str
    pair_id: int | None = None
    prompt_contains: str | None = None


def load_topic_map(path: str | Path, topics: Sequence[str]) -> tuple[list[TopicRule], str]:
    """Rules from a JSON list / CSV file and the file's hash; InputError with file:line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("topic map not found", where=str(path))
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    entries: list[tuple[str, dict]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(raw.decode("utf-8-sig").splitlines())
        entries = [(f"{path}:{i}", dict(row)) for i, row in enumerate(reader, start=2)]
    else:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"topic map is not valid JSON: {exc}", where=str(path)) from None
        if isinstance(data, dict):  # {"pair id or prompt substring": "topic"}
            data = [
                {"pair_id": int(k)} | {"topic": v}
                if k.isdigit()
                else {"prompt_contains": k, "topic": v}
                for k, v in data.items()
            ]
        if not isinstance(data, list):
            raise InputError("topic map must be a JSON list of rules or an object", where=str(path))
        entries = [(f"{path} rule {i}", r) for i, r in enumerate(data, start=1)]
    allowed = set(topics) | {OFF_TOPIC}
    rules = []
    for order, (where, entry) in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError("a rule must be an object with 'topic'", where=where)
        topic = str(entry.get("topic") or "").strip()
        if topic not in allowed:
            raise InputError(
                f"unknown topic {topic!r}",
                where=where,
                hint=f"use one of {', '.join(sorted(allowed))}",
            )
        pair_id, contains = entry.get("pair_id"), entry.get("prompt_contains")
        pair_id = None if pair_id in (None, "") else pair_id
        contains = None if contains in (None, "") else str(contains)
        if (pair_id is None) == (contains is None):
            raise InputError(
                "a rule needs exactly one of 'pair_id' or 'prompt_contains'", where=where
            )
        try:
            pair_id = None if pair_id is None else int(pair_id)
        except (TypeError, ValueError):
            raise InputError(f"pair_id must be an integer, got {pair_id!r}", where=where) from None
        rules.append(TopicRule(order, topic, pair_id, contains.lower() if contains else None))
    return rules, digest


# --- assignment in the store ---------------------------------------------------------------


def _stored_config(store: Store, dataset_id: str) -> dict:
    with store.read() as con:
        row = con.execute(
            "SELECT topic_config FROM pref_datasets WHERE dataset_id = ?", [dataset_id]
        ).fetchone()
    if row is None:
        raise InputError(
            f"no preference dataset {dataset_id!r} in the store", where=str(store.path)
        )
    return json.loads(row[0]) if row[0] else {}


def _save_config(store: Store, dataset_id: str, config: dict) -> None:
    with bulk_write(store) as con:
        con.execute(
            "UPDATE pref_datasets SET topic_config = ? WHERE dataset_id = ?",
            [json.dumps(config), dataset_id],
        )


def _embed_missing(
    store: Store,
    dataset_id: str,
    index: TopicIndex,
    embedder: Embedder,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Score pairs that have no nearest topic yet, one batch per transaction; returns count."""
    with store.read() as con:
        todo = con.execute(
            "SELECT count(*) FROM pref_pairs WHERE dataset_id = ? AND nearest_topic IS NULL",
            [dataset_id],
        ).fetchone()[0]
    done, last = 0, -1
    while True:
        with store.read() as con:
            rows = con.execute(
                "SELECT pair_id, prompt FROM pref_pairs WHERE dataset_id = ? AND "
                "nearest_topic IS NULL AND pair_id > ? ORDER BY pair_id LIMIT ?",
                [dataset_id, last, EMBED_BATCH],
            ).fetchall()
        if not rows:
            return done
        nearest, scores = index.nearest([topic_text(p) for _, p in rows], embedder)
        update = pa.table(
            {
                "pair_id": pa.array([r[0] for r in rows], pa.int64()),
                "nearest_topic": pa.array(nearest, pa.string()),
                "topic_score": pa.array(scores, pa.float64()),
            }
        )
        with bulk_write(store) as con:
            con.register("_topic_update", update)
            con.execute(
                "UPDATE pref_pairs p SET nearest_topic = u.nearest_topic, topic_score = u.topic_score "
                "FROM _topic_update u WHERE p.dataset_id = ? AND p.pair_id = u.pair_id",
                [dataset_id],
            )
            con.unregister("_topic_update")
        done += len(rows)
        last = rows[-1][0]
        if progress:
            progress(done, todo)


def _apply_labels(store: Store, dataset_id: str, threshold: float, rules: list[TopicRule]) -> None:
    """topic = first matching map rule, else nearest topic at/above threshold, else off-topic."""
    rules_table = pa.table(
        {
            "rule_order": pa.array([r.order for r in rules], pa.int64()),
            "rule_topic": pa.array([r.topic for r in rules], pa.string()),
            "rule_pair_id": pa.array([r.pair_id for r in rules], pa.int64()),
            "rule_contains": pa.array([r.prompt_contains for r in rules], pa.string()),
        }
    )
    with bulk_write(store) as con:
        con.register("_topic_rules", rules_table)
        con.execute(
            """
            UPDATE pref_pairs p SET
              topic = CASE WHEN m.topic IS NOT NULL THEN m.topic
                           WHEN p.nearest_topic IS NULL THEN NULL
                           WHEN p.topic_score >= ? THEN p.nearest_topic
                           ELSE 'off-topic' END,
              topic_source = CASE WHEN m.topic IS NOT NULL THEN 'map'
                                  WHEN p.nearest_topic IS NULL THEN 'none'
                                  ELSE 'embedding' END
            FROM (SELECT q.pair_id, arg_min(r.rule_topic, r.rule_order) AS topic
                  FROM pref_pairs q LEFT JOIN _topic_rules r
                    ON r.rule_pair_id = q.pair_id
                    OR (r.rule_contains IS NOT NULL AND contains(lower(q.prompt), r.rule_contains))
                  WHERE q.dataset_id = ? GROUP BY q.pair_id) m
            WHERE p.dataset_id = ? AND p.pair_id = m.pair_id
            """,
            [threshold, dataset_id, dataset_id],
        )
        con.unregister("_topic_rules")


def assign_topics(
    store: Store,
    dataset_id: str,
    evalset: EvalSet,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    topic_map: str | Path | None = None,
    embed: bool = True,
    embedder: Embedder | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Assign the dataset's pairs to topics in the store; return the coverage summary.

    With ``embed=False`` no prompt is embedded (pairs without a stored nearest topic
    stay "unassigned" unless the topic map names them). Resumable: pairs already scored
    against this eval set are not embedded again.
    """
    if not -1.0 <= threshold <= 1.0:
        raise InputError(f"--threshold is a cosine similarity in [-1, 1], got {threshold}")
    started = time.perf_counter()
    rules, map_hash = load_topic_map(topic_map, list(evalset.topics)) if topic_map else ([], None)
    config = _stored_config(store, dataset_id)
    fingerprint = {
        "eval_set": evalset.name,
        "eval_set_hash": evalset.content_hash(),
        "method": METHOD,
        "embedder": EMBEDDER,
    }
    if {k: config.get(k) for k in fingerprint} != fingerprint:
        if config.get("eval_set"):  # assigned before, against another eval set: start over
            with bulk_write(store) as con:
                con.execute(
                    "UPDATE pref_pairs SET nearest_topic = NULL, topic_score = NULL, "
                    "topic = NULL, topic_source = NULL WHERE dataset_id = ?",
                    [dataset_id],
                )
        _save_config(store, dataset_id, fingerprint)
    embedded = 0
    if embed:
        embedder = embedder or default_embedder
        with store.read() as con:
            missing = con.execute(
                "SELECT count(*) FROM pref_pairs WHERE dataset_id = ? AND nearest_topic IS NULL",
                [dataset_id],
            ).fetchone()[0]
        if missing:
            index = _topic_index(evalset, embedder)
            embedded = _embed_missing(store, dataset_id, index, embedder, progress)
    with store.read() as con:
        labelled = con.execute(
            "SELECT count(*) FROM pref_pairs WHERE dataset_id = ? AND "
            "(nearest_topic IS NOT NULL OR topic IS NOT NULL)",
            [dataset_id],
        ).fetchone()[0]
    if labelled or rules:  # else every topic is NULL and stays so: skip rewriting every row
        _apply_labels(store, dataset_id, threshold, rules)
    _save_config(
        store,
        dataset_id,
        fingerprint
        | {
            "threshold": threshold,
            "topic_map": (str(topic_map) if topic_map else None),
            "topic_map_hash": map_hash,
        },
    )
    summary = topic_coverage(store, dataset_id)
    summary.update(
        eval_set=evalset.name,
        method=METHOD,
        embedder=EMBEDDER,
        threshold=threshold,
        topic_map=str(topic_map) if topic_map else None,
        n_map_rules=len(rules),
        embedded_now=embedded,
        seconds=round(time.perf_counter() - started, 3),
    )
    return summary


_INDEX_CACHE: dict[tuple[str, int], TopicIndex] = {}


def _topic_index(evalset: EvalSet, embedder: Embedder) -> TopicIndex:
    key = (evalset.content_hash(), id(embedder))
    if key not in _INDEX_CACHE:
        _INDEX_CACHE[key] = TopicIndex.build(evalset, embedder)
    return _INDEX_CACHE[key]


def topic_coverage(store: Store, dataset_id: str) -> dict:
    """Pair counts per topic (plus off-topic and unassigned) and the on-topic share."""
    with store.read() as con:
        rows = con.execute(
            "SELECT coalesce(topic, 'unassigned'), count(*), "
            "count(*) FILTER (WHERE topic_source = 'map') "
            "FROM pref_pairs WHERE dataset_id = ? GROUP BY 1 ORDER BY 2 DESC, 1",
            [dataset_id],
        ).fetchall()
    counts = {t: int(n) for t, n, _ in rows}
    total = sum(counts.values())
    on_topic = total - counts.get(OFF_TOPIC, 0) - counts.get(UNASSIGNED, 0)
    return {
        "counts": counts,
        "from_map": sum(int(m) for _, _, m in rows),
        "n_pairs": total,
        "on_topic": on_topic,
        "off_topic": counts.get(OFF_TOPIC, 0),
        "unassigned": counts.get(UNASSIGNED, 0),
        "coverage": on_topic / total if total else 0.0,
    }
