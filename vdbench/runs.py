"""Runs, lineage and checkpoints in the store; a checkpoint and its samples land in one
transaction, so a killed writer never leaves a partial checkpoint behind."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from vdbench.errors import InputError
from vdbench.store import Store, insert_arrow, sample_id


@dataclass(frozen=True)
class RunSpec:
    """A run's identity and lineage. A run is one stage of one algorithm."""

    run_id: str
    stage: str  # base | sft | preference | external
    algorithm: str  # sft | dpo | simpo | ppo | none
    model: str | None = None
    parent_run: str | None = None
    parent_step: int | None = None
    eval_set: str | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None


@dataclass(frozen=True)
class SampleRecord:
    prompt_id: str
    topic: str
    sample_idx: int
    text: str
    n_tokens: int
    health: str


def parse_parent(value: str | None) -> tuple[str | None, int | None]:
    """``RUN`` or ``RUN:STEP`` → (run, step); STEP defaults to the parent's last checkpoint."""
    if not value:
        return None, None
    run, sep, step = value.rpartition(":")
    if sep and step.isdigit():
        return run, int(step)
    return value, None


def register_run(store: Store, spec: RunSpec) -> RunSpec:
    """Create the run, or check a re-run matches it; resolves the parent's checkpoint step."""
    with store.write() as con:
        parent_step = spec.parent_step
        if spec.parent_run is not None:
            parent = con.execute("SELECT run_id FROM runs WHERE run_id = ?", [spec.parent_run]).fetchone()
            if parent is None:
                raise InputError(f"parent run {spec.parent_run!r} does not exist in {store.path}",
                                 hint="list runs with `vdbench metrics --db DB --runs`")
            steps = [r[0] for r in con.execute(
                "SELECT step FROM checkpoints WHERE run_id = ? ORDER BY step", [spec.parent_run]
            ).fetchall()]
            if parent_step is None:
                parent_step = steps[-1] if steps else None
            elif steps and parent_step not in steps:
                raise InputError(f"parent run {spec.parent_run!r} has no checkpoint at step {parent_step}",
                                 hint=f"its checkpoints: {steps}")
        spec = RunSpec(**{**asdict(spec), "parent_step": parent_step})
        existing = con.execute(
            "SELECT stage, algorithm, parent_run FROM runs WHERE run_id = ?", [spec.run_id]
        ).fetchone()
        if existing is not None:
            if tuple(existing) != (spec.stage, spec.algorithm, spec.parent_run):
                raise InputError(
                    f"run {spec.run_id!r} already exists as stage={existing[0]} "
                    f"algorithm={existing[1]} parent={existing[2]}",
                    hint="choose another --run name, or resume with the same settings",
                )
            con.execute("UPDATE runs SET updated_at = current_timestamp WHERE run_id = ?", [spec.run_id])
            return spec
        con.execute(
            "INSERT INTO runs (run_id, stage, algorithm, model, parent_run, parent_step, eval_set, "
            "hparams, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [spec.run_id, spec.stage, spec.algorithm, spec.model, spec.parent_run, parent_step,
             spec.eval_set, json.dumps(spec.hparams, default=str), spec.seed],
        )
    return spec


def done_steps(store: Store, run_id: str) -> set[int]:
    """Checkpoint steps already stored for the run (each stored whole, or not at all)."""
    if not store.path.exists():
        return set()
    with store.read() as con:
        return {r[0] for r in con.execute(
            "SELECT step FROM checkpoints WHERE run_id = ?", [run_id]).fetchall()}


def samples_table(run_id: str, step: int, eval_set: str, samples: Sequence[SampleRecord],
                  gen_settings: dict[str, Any]) -> pa.Table:
    settings = json.dumps(gen_settings, sort_keys=True)
    return pa.table({
        "sample_id": pa.array([sample_id(run_id, step, eval_set, s.prompt_id, s.sample_idx)
                               for s in samples], pa.int64()),
        "run_id": [run_id] * len(samples),
        "step": pa.array([step] * len(samples), pa.int32()),
        "eval_set": [eval_set] * len(samples),
        "prompt_id": [s.prompt_id for s in samples],
        "topic": [s.topic for s in samples],
        "sample_idx": pa.array([s.sample_idx for s in samples], pa.int32()),
        "text": [s.text for s in samples],
        "n_tokens": pa.array([s.n_tokens for s in samples], pa.int32()),
        "health": [s.health for s in samples],
        "gen_settings": [settings] * len(samples),
    })


def write_checkpoint(
    store: Store, run_id: str, step: int, total_steps: int, path: str | None, eval_set: str,
    samples: Sequence[SampleRecord], gen_settings: dict[str, Any],
) -> int:
    """Store a checkpoint and all its samples atomically; returns samples newly added."""
    if total_steps <= 0:
        raise InputError(f"total_steps must be positive, got {total_steps}")
    table = samples_table(run_id, step, eval_set, samples, gen_settings)
    with store.write() as con:
        added = insert_arrow(con, "samples", table)
        con.execute(
            "INSERT OR IGNORE INTO checkpoints (run_id, step, total_steps, fraction, path) "
            "VALUES (?, ?, ?, ?, ?)",
            [run_id, step, total_steps, min(1.0, step / total_steps), path],
        )
        con.execute("UPDATE runs SET updated_at = current_timestamp WHERE run_id = ?", [run_id])
    return added
