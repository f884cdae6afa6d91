"""Eval sets in the store: register once (immutable by name), load back by name."""

from __future__ import annotations

import pyarrow as pa

from vdbench.errors import InputError
from vdbench.evalsets.model import EvalPrompt, EvalSet
from vdbench.evalsets.registry import BUILTIN_NAMES, get_eval_set
from vdbench.store import Store, insert_arrow


def register_eval_set(store: Store, evalset: EvalSet) -> bool:
    """Store the eval set; True if newly added. Same name with other content is an error."""
    digest = evalset.content_hash()
    with store.write() as con:
        row = con.execute(
            "SELECT content_hash FROM eval_sets WHERE eval_set = ?", [evalset.name]
        ).fetchone()
        if row is not None:
            if row[0] != digest:
                raise InputError(
                    f"eval set {evalset.name!r} is already in the store with different prompts",
                    where=str(store.path),
                    hint="import it under another name (--name); stored eval sets never change",
                )
            return False
        con.execute(
            "INSERT INTO eval_sets (eval_set, source, n_prompts, content_hash) VALUES (?, ?, ?, ?)",
            [evalset.name, evalset.source, len(evalset.prompts), digest],
        )
        insert_arrow(con, "topics", pa.table({
            "eval_set": [evalset.name] * len(evalset.topics),
            "topic": list(evalset.topics),
            "proposition": list(evalset.topics.values()),
        }))
        insert_arrow(con, "prompts", pa.table({
            "eval_set": [evalset.name] * len(evalset.prompts),
            "prompt_id": [p.prompt_id for p in evalset.prompts],
            "topic": [p.topic for p in evalset.prompts],
            "text": [p.text for p in evalset.prompts],
            "framing": [p.framing for p in evalset.prompts],
        }))
    return True


def stored_eval_set_names(store: Store) -> list[str]:
    if not store.path.exists():
        return []
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT eval_set FROM eval_sets ORDER BY eval_set").fetchall()]


def load_stored_eval_set(store: Store, name: str) -> EvalSet:
    with store.read() as con:
        src = con.execute("SELECT source FROM eval_sets WHERE eval_set = ?", [name]).fetchone()
        if src is None:
            raise InputError(f"eval set {name!r} is not in the store", where=str(store.path))
        topics = dict(con.execute(
            "SELECT topic, proposition FROM topics WHERE eval_set = ? ORDER BY topic", [name]
        ).fetchall())
        rows = con.execute(
            "SELECT prompt_id, topic, text, framing FROM prompts WHERE eval_set = ? ORDER BY prompt_id",
            [name],
        ).fetchall()
    return EvalSet(name=name, topics=topics, prompts=[EvalPrompt(*r) for r in rows], source=src[0])


def resolve_eval_set(name_or_path: str, store: Store | None = None) -> EvalSet:
    """Built-in name, a name stored in `store`, or a file path — in that order."""
    if name_or_path not in BUILTIN_NAMES and store is not None and store.path.exists():
        if name_or_path in stored_eval_set_names(store):
            return load_stored_eval_set(store, name_or_path)
    return get_eval_set(name_or_path)
