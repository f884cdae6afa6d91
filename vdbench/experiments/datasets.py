"""An experiment's datasets as files: declared paths, micro-world sets, mixes written here,
and gap-selected subsets (`vdbench audit select`) written by a worker job."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from vdbench.experiments.spec import ExperimentSpec

MIX_SEED = 0  # a mix is the same file for every seed: seeds vary training, not data


def materialize(spec: ExperimentSpec, world: Any, out_dir: Path) -> dict[str, str]:
    """Dataset name -> JSONL path. Mixes are written now; selections get the path their
    job will write."""
    paths: dict[str, str] = {}
    for name, ds in spec.datasets.items():
        if ds.kind == "micro":
            paths[name] = str(world.datasets[ds.value])
        elif ds.kind == "file":
            paths[name] = ds.value
    for name, ds in spec.datasets.items():
        if ds.kind == "mix":
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / f"{name}.jsonl"
            write_mix([Path(paths[p]) for p in ds.value], target, limit_each=ds.limit_each)
            paths[name] = str(target)
        elif ds.kind == "select":
            paths[name] = str(out_dir / f"{name}.jsonl")
    return paths


def write_mix(parts: list[Path], target: Path, *, limit_each: int | None) -> int:
    """The first `limit_each` rows of each part, shuffled together with a fixed seed;
    rewritten only when the content would change (atomic). Returns the row count."""
    rows: list[str] = []
    for part in parts:
        lines = [line for line in part.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows.extend(lines[:limit_each] if limit_each else lines)
    random.Random(MIX_SEED).shuffle(rows)
    text = "\n".join(rows) + "\n"
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return len(rows)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return len(rows)


def select_job(spec: dict[str, Any], report: Any) -> dict[str, Any]:
    """Audit `spec['input']` into the store (resumable) and write the kept pairs to
    `spec['output']` with their manifest, as `vdbench audit select` does."""
    from vdbench.audit.pipeline import AuditOptions, run_audit
    from vdbench.audit.select import SelectOptions, manifest_path, run_select
    from vdbench.store import Store

    output = Path(spec["output"])
    manifest = manifest_path(output)
    if output.is_file() and manifest.is_file():
        return {"_status": "already selected", **json.loads(manifest.read_text())}
    store = Store(spec["db"])
    opts = AuditOptions(input=spec["input"], format="trl", name=spec["name"], limit=spec["limit"],
                        judge=spec["judge"] or AuditOptions.judge, seed=spec["seed"], n_boot=200)
    audited = run_audit(store, opts, progress=report)
    report("select", 0, 1)
    return run_select(store, SelectOptions(dataset=audited["dataset"]["dataset_id"],
                                           keep=spec["keep"], output=str(output), judge=opts.judge,
                                           min_margin=spec.get("min_margin")))
