"""Sharded workers: `sample` and `judge run` split over N processes that never open the store
for writing; each writes Parquet shards that one `vdbench ingest DIR` loads.

Split: an item belongs to shard ``stable_id("shard", key) mod N`` (a blake2b hash, the same
in every process and on every host), where the key is the prompt id for `sample` and the
sample id for `judge run`. Every item lands in exactly one of the N shards.

Layout: ``DIR/<table>/<name>-shard<K>of<N>.parquet``, one sub-directory per store table,
columns a subset of that table's (defaults such as created_at are filled on ingest).
Each file is written to a temporary name and renamed, so a killed worker leaves no
partial shard, and a re-run finds its file and skips (or rewrites the same rows); ingest
is INSERT OR IGNORE, so loading a shard twice adds nothing.

`judge run --shard` reads the samples from the store read-only (no sample shards needed).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from vdbench.errors import InputError
from vdbench.store import stable_id

# Load order for `vdbench ingest DIR`: parents before the rows that name them.
SHARD_TABLES = ("eval_sets", "topics", "prompts", "runs", "checkpoints", "samples", "judges", "judgments")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Shard:
    """Shard K of N (0 ≤ K < N) and the directory its Parquet files go to."""

    index: int
    count: int
    directory: Path

    def owns(self, key: object) -> bool:
        """True when the item with this key is this shard's work."""
        return stable_id("shard", key) % self.count == self.index

    @property
    def tag(self) -> str:
        return f"shard{self.index}of{self.count}"

    def path(self, table: str, name: str) -> Path:
        return self.directory / table / f"{_SAFE.sub('_', name)}-{self.tag}.parquet"


def parse_shard(shard: str | None, shard_dir: str | Path | None) -> Shard | None:
    """`--shard K/N` and `--shard-dir DIR` → a Shard (None when neither is given).

    InputError for a malformed K/N, K ≥ N, N < 1, one option without the other, or a
    directory whose parent does not exist (DIR itself is created).
    """
    if shard is None and shard_dir is None:
        return None
    if shard is None:
        raise InputError("--shard-dir needs --shard K/N", hint="e.g. --shard 0/4 --shard-dir shards/")
    if shard_dir is None:
        raise InputError("--shard needs --shard-dir DIR (where this worker writes its Parquet shards)")
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
    if not match:
        raise InputError(f"--shard expects K/N (e.g. 0/4), got {shard!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise InputError(f"--shard {shard}: N must be at least 1")
    if index >= count:
        raise InputError(f"--shard {shard}: K must be in 0..{count - 1}",
                         hint="shards count from 0, e.g. $SLURM_ARRAY_TASK_ID/N with --array=0-(N-1)")
    directory = Path(shard_dir)
    if directory.exists() and not directory.is_dir():
        raise InputError("--shard-dir is not a directory", where=str(directory))
    if not directory.parent.exists():
        raise InputError("parent directory of --shard-dir does not exist", where=str(directory.parent),
                         hint="create it first")
    return Shard(index, count, directory)


def write_shard(path: Path, rows: pa.Table) -> None:
    """Write `rows` to `path` atomically (temporary file in the same directory, then rename)."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(rows, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _eval_set_tables(eval_set) -> dict[str, pa.Table]:
    return {
        "eval_sets": pa.table({"eval_set": [eval_set.name], "source": [eval_set.source],
                               "n_prompts": pa.array([len(eval_set.prompts)], pa.int32()),
                               "content_hash": [eval_set.content_hash()]}),
        "topics": pa.table({"eval_set": [eval_set.name] * len(eval_set.topics),
                            "topic": list(eval_set.topics),
                            "proposition": list(eval_set.topics.values())}),
        "prompts": pa.table({"eval_set": [eval_set.name] * len(eval_set.prompts),
                             "prompt_id": [p.prompt_id for p in eval_set.prompts],
                             "topic": [p.topic for p in eval_set.prompts],
                             "text": [p.text for p in eval_set.prompts],
                             "framing": pa.array([p.framing for p in eval_set.prompts], pa.string())}),
    }


def _run_table(run) -> pa.Table:
    import json

    return pa.table({
        "run_id": [run.run_id], "stage": [run.stage], "algorithm": [run.algorithm],
        "model": pa.array([run.model], pa.string()), "parent_run": pa.array([run.parent_run], pa.string()),
        "parent_step": pa.array([run.parent_step], pa.int32()),
        "eval_set": pa.array([run.eval_set], pa.string()),
        "hparams": [json.dumps(run.hparams, default=str)], "seed": pa.array([run.seed], pa.int32()),
    })


def sample_shard(shard: Shard, run, checkpoints: Sequence, eval_set, cfg, *, engine: str = "hf",
                 tokenizer_path=None, trust_remote_code: bool = False, dtype: str | None = None,
                 quiet: bool = False) -> dict[str, Any]:
    """Sample this shard's prompts at every checkpoint into Parquet shards; returns a summary.

    Same seeds as an unsharded `sample` (per checkpoint). At temperature 0 the rows equal
    the unsharded ones; at temperature > 0 a draw depends on which prompts share a batch,
    so shards give the same ids and counts but other texts than one process would.
    A checkpoint whose samples shard exists is skipped (a killed worker resumes).
    """
    from vdbench.runs import SampleRecord, samples_table
    from vdbench.sampling import _has_cuda, _sample_vllm, require_engine
    from vdbench.training.generation import forked_rng, sample_prompts, step_seed
    from vdbench.training.models import check_model_dir, load_model_and_tokenizer
    from vdbench.training.runner import quiet_libraries

    require_engine(engine)
    quiet_libraries()
    for ref in checkpoints:
        check_model_dir(ref.path, trust_remote_code=trust_remote_code,
                        require_tokenizer=tokenizer_path is None)
    mine = eval_set.subset(eval_set.name, {p.prompt_id for p in eval_set.prompts if shard.owns(p.prompt_id)})
    fixed = {**_eval_set_tables(eval_set), "runs": _run_table(run)}
    for table, rows in fixed.items():  # every shard writes them; ingest keeps one copy
        write_shard(shard.path(table, run.run_id), rows)
    started, statuses, stored = time.perf_counter(), [], 0
    for ref in checkpoints:
        target = shard.path("samples", f"{run.run_id}-step{ref.step}")
        if target.exists():
            statuses.append("already written")
            continue
        t0 = time.perf_counter()
        seed = step_seed(cfg.seed, run.run_id, ref.step)
        generations = []
        if mine.prompts and engine == "vllm":
            generations = _sample_vllm(ref, mine, cfg, tokenizer_path=tokenizer_path,
                                       trust_remote_code=trust_remote_code, seed=seed)
        elif mine.prompts:
            device = "cuda" if _has_cuda() else None  # one GPU per worker (the scheduler's choice)
            model, tokenizer = load_model_and_tokenizer(
                ref.path, trust_remote_code=trust_remote_code,
                dtype=dtype or ("auto" if device else None), device=device, tokenizer_path=tokenizer_path)
            with forked_rng(seed):
                generations = sample_prompts(model, tokenizer, [p.text for p in mine.prompts],
                                             cfg.generation_settings(seed), device=device)
            del model
        records = [SampleRecord(prompt_id=mine.prompts[g.prompt_index].prompt_id,
                                topic=mine.prompts[g.prompt_index].topic, sample_idx=g.sample_idx,
                                text=g.text, n_tokens=g.n_tokens, health=g.health)
                   for g in sorted(generations, key=lambda g: (g.prompt_index, g.sample_idx))]
        checkpoint = pa.table({"run_id": [run.run_id], "step": pa.array([ref.step], pa.int32()),
                               "total_steps": pa.array([ref.total_steps], pa.int32()),
                               "fraction": [min(1.0, ref.step / ref.total_steps)], "path": [str(ref.path)]})
        write_shard(shard.path("checkpoints", f"{run.run_id}-step{ref.step}"), checkpoint)
        # samples last: its presence marks the checkpoint's shard complete
        write_shard(target, samples_table(run.run_id, ref.step, eval_set.name, records, cfg.gen_settings()))
        stored += len(records)
        statuses.append("written")
        if not quiet:
            print(f"step {ref.step}/{ref.total_steps}: {len(records)} samples ({shard.tag}) → {target} "
                  f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return {"run": run.run_id, "eval_set": eval_set.name, "engine": engine, "shard": shard.tag,
            "shard_dir": str(shard.directory), "prompts": len(mine.prompts),
            "checkpoints": [{"path": str(c.path), "step": c.step, "total_steps": c.total_steps, "status": s}
                            for c, s in zip(checkpoints, statuses, strict=True)],
            "samples_written": stored, "seconds": round(time.perf_counter() - started, 2)}


def judge_shard(shard: Shard, store, run_id: str, judge, *, chunk: int = 512) -> dict[str, Any]:
    """Judge this shard's unjudged samples of the run (store opened read-only) into one shard file.

    A shard whose file exists is skipped; samples already judged in the store are left out.
    """
    import json

    from vdbench import queries
    from vdbench.judges.base import JudgeItem
    from vdbench.judgments import judgments_table, unjudged_samples

    identity = judge.identity
    target = shard.path("judgments", f"{run_id}-{identity.judge_id}")
    started = time.perf_counter()
    with store.read() as con:
        queries.require_run(con, run_id)
    if target.exists():
        return {"run": run_id, "judge": identity.judge_id, "shard": shard.tag, "status": "already written",
                "judged": 0, "path": str(target), "seconds": 0.0}
    todo = unjudged_samples(store, run_id, identity.judge_id)
    todo = todo[[shard.owns(int(s)) for s in todo["sample_id"]]].reset_index(drop=True)
    scores = []
    for offset in range(0, len(todo), chunk):
        part = todo.iloc[offset: offset + chunk]
        scores.extend(judge.score([JudgeItem(r.topic, r.proposition, r.prompt, r.response)
                                   for r in part.itertuples(index=False)]))
    write_shard(shard.path("judges", identity.judge_id), pa.table({
        "judge_id": [identity.judge_id], "name": [identity.name], "backend": [identity.backend],
        "model": [identity.model], "template_hash": [identity.template_hash],
        "model_hash": [identity.model_hash], "manifest": [json.dumps(identity.manifest, default=str)]}))
    write_shard(target, judgments_table(identity.judge_id, todo, scores))
    return {"run": run_id, "judge": identity.judge_id, "shard": shard.tag, "status": "written",
            "judged": len(todo), "path": str(target), "seconds": round(time.perf_counter() - started, 2)}
