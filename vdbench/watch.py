"""`vdbench sample --watch DIR`: sample a training run's checkpoints as the trainer writes them.

A sidecar beside any trainer that saves `checkpoint-STEP` directories (`vdbench train
--no-inline-sampling`, a plain `transformers.Trainer`, TRL, our PPO). Each new checkpoint
is sampled (and optionally judged and scored for capability) once it is complete, into
the same store rows `vdbench sample` writes, so inline sampling, the watcher and a later
`vdbench sample` never duplicate one another.

A checkpoint is complete when:
- its `trainer_state.json` parses and names its step (Trainers write it after the weights),
- it has `config.json` and its weights (`model.safetensors`, or an index whose every shard
  is present; likewise `pytorch_model.bin`), and
- no file in it changed size or modification time for `settle` seconds.
Directories that never complete are reported, never read.

The watcher stops when the trainer's last checkpoint is stored (a checkpoint whose step
reaches its `max_steps`, or the training directory's own final `trainer_state.json` once
every checkpoint up to it is stored), at `until_step`, after `idle_timeout` seconds with
nothing new, or on Ctrl-C. Everything stored stays stored; a rerun resumes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vdbench.errors import InputError
from vdbench.runs import done_steps
from vdbench.sampling import CHECKPOINT_NAME, CheckpointRef

TRAINER_STATE = "trainer_state.json"


# --- completeness (pure on the file system) ---------------------------------------------
def read_state(path: Path) -> dict[str, Any] | None:
    """The directory's trainer_state.json, or None while it is absent or half-written."""
    try:
        state = json.loads((path / TRAINER_STATE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("global_step"), int) else None


def _indexed_shards_present(path: Path, index_name: str) -> bool | None:
    index = path / index_name
    if not index.exists():
        return None
    try:
        shards = set(json.loads(index.read_text("utf-8"))["weight_map"].values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return bool(shards) and all((path / s).is_file() for s in shards)


def weights_present(path: Path) -> bool:
    """config.json and a full set of weights (single file, or every shard an index names)."""
    if not (path / "config.json").is_file():
        return False
    for single, index in (("model.safetensors", "model.safetensors.index.json"),
                          ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        if (path / single).is_file():
            return True
        shards = _indexed_shards_present(path, index)
        if shards is not None:
            return shards
    return (path / "adapter_config.json").is_file() and any(
        (path / n).is_file() for n in ("adapter_model.safetensors", "adapter_model.bin"))


def snapshot(path: Path) -> tuple[tuple[str, int, int], ...]:
    """(relative name, size, mtime ns) of every file under `path`: equal twice = at rest."""
    out = []
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = Path(root) / name
            try:
                st = full.stat()
            except OSError:  # removed while we looked: not at rest
                return (("", -1, time.monotonic_ns()),)
            out.append((str(full.relative_to(path)), st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


@dataclass
class ReadinessTracker:
    """Decides, poll after poll, which checkpoint directories are complete and at rest."""

    settle_s: float = 2.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[Path, tuple[tuple, float]] = field(default_factory=dict)

    def ready(self, path: Path) -> bool:
        if read_state(path) is None or not weights_present(path):
            self._seen.pop(path, None)
            return False
        snap, now = snapshot(path), self.clock()
        previous = self._seen.get(path)
        if previous is None or previous[0] != snap:
            self._seen[path] = (snap, now)
            return False
        return now - previous[1] >= self.settle_s


def checkpoint_dirs(out_dir: Path) -> list[Path]:
    """`checkpoint-STEP` children, by step (temporary names such as tmp-checkpoint-* excluded)."""
    try:
        children = [c for c in out_dir.iterdir() if c.is_dir() and CHECKPOINT_NAME.match(c.name)]
    except FileNotFoundError:
        return []
    return sorted(children, key=lambda c: int(c.name.split("-")[-1]))


# --- writing checkpoints a watcher can trust ---------------------------------------------
def write_trainer_state(path: Path, step: int, max_steps: int, **extra: Any) -> None:
    """A minimal trainer_state.json (global_step, max_steps), written atomically."""
    tmp = path / f".{TRAINER_STATE}.tmp"
    tmp.write_text(json.dumps({"global_step": step, "max_steps": max_steps, **extra}, indent=1), "utf-8")
    os.replace(tmp, path / TRAINER_STATE)


def save_start_checkpoint(out_dir: Path, model: Any, tokenizer: Any, *, max_steps: int) -> Path:
    """The model before training as OUT/checkpoint-0: written under a temporary name and
    renamed whole, so no reader sees it half-written. An existing one is kept."""
    final = out_dir / "checkpoint-0"
    if read_state(final) is not None:
        return final
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".tmp-checkpoint-0"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)  # a half-written one from a killed run
    getattr(model, "module", model).save_pretrained(tmp)
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    write_trainer_state(tmp, 0, max_steps)
    os.replace(tmp, final)
    return final


# --- the watch loop ----------------------------------------------------------------------
@dataclass
class WatchOutcome:
    stored: list[int] = field(default_factory=list)  # steps this process stored
    already: list[int] = field(default_factory=list)  # steps found stored before
    incomplete: list[str] = field(default_factory=list)  # directories never complete
    reason: str = ""  # why the watcher stopped
    samples_stored: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"stored_steps": self.stored, "already_stored": self.already,
                "incomplete": self.incomplete, "stopped": self.reason,
                "samples_stored": self.samples_stored, "seconds": round(self.seconds, 2)}


def _candidates(out_dir: Path) -> list[tuple[Path, int]]:
    """(directory, step) to consider: every checkpoint-STEP, then the trainer's own final
    save in `out_dir` itself when no checkpoint holds its step (as `vdbench sample` does)."""
    found = [(p, int(p.name.split("-")[-1])) for p in checkpoint_dirs(out_dir)]
    final = read_state(out_dir)
    if final is not None and final["global_step"] not in {s for _, s in found}:
        found.append((out_dir, final["global_step"]))
    return found


def watch(out_dir: Path, run_id: str, store: Any, sample: Callable[[CheckpointRef], int], *,
          poll_s: float = 5.0, settle_s: float = 2.0, until_step: int | None = None,
          idle_timeout_s: float | None = None, total_steps: int | None = None,
          quiet: bool = False, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> WatchOutcome:
    """Follow `out_dir`, calling `sample(ref)` (→ samples stored) on each new complete
    checkpoint in step order, until the run's last checkpoint, `until_step`, the idle
    timeout or Ctrl-C (KeyboardInterrupt propagates; what is stored stays stored)."""
    tracker = ReadinessTracker(settle_s, clock)
    outcome = WatchOutcome()
    started = last_progress = clock()
    done = done_steps(store, run_id)
    seen: set[Path] = set()
    if not quiet:
        print(f"watching {out_dir} for checkpoint-* (poll {poll_s:g} s, settle {settle_s:g} s); "
              "Ctrl-C stops, a rerun resumes", file=sys.stderr)
    try:
        while True:
            for path, step in _candidates(out_dir):
                seen.add(path)
                if step in done:
                    if step not in outcome.stored and step not in outcome.already:
                        outcome.already.append(step)
                    continue
                if (until_step is not None and step > until_step) or not tracker.ready(path):
                    continue
                state = read_state(path)
                assert state is not None  # ready() read it
                step = state["global_step"]
                total = total_steps or int(state.get("max_steps") or 0) or step
                outcome.samples_stored += sample(CheckpointRef(path.resolve(), step, max(total, step)))
                done.add(step)
                outcome.stored.append(step)
                last_progress = clock()
            outcome.reason = _stop_reason(out_dir, done, until_step, total_steps, idle_timeout_s,
                                          clock() - last_progress)
            if outcome.reason:
                return outcome
            sleep(poll_s)
    except KeyboardInterrupt:
        outcome.reason = "interrupted"
        raise
    finally:
        outcome.incomplete = sorted(str(p) for p in seen if p != out_dir and p.exists()
                                    and not (read_state(p) and weights_present(p)))
        outcome.seconds = clock() - started


def _stop_reason(out_dir: Path, done: set[int], until_step: int | None, total_steps: int | None,
                 idle_timeout_s: float | None, idle_s: float) -> str:
    """Why to stop now ("" to keep watching)."""
    for path, step in _candidates(out_dir):
        state = read_state(path)
        end = total_steps or (state or {}).get("max_steps")
        if step in done and isinstance(end, int) and end > 0 and step >= end:
            return f"the run's last checkpoint (step {step}) is stored"
    final = read_state(out_dir)
    if final is not None and final["global_step"] in done:
        return f"training finished at step {final['global_step']} and it is stored"
    if until_step is not None and any(s >= until_step for s in done):
        return f"reached --until-step {until_step}"
    if idle_timeout_s is not None and idle_s >= idle_timeout_s:
        return f"nothing new for {idle_timeout_s:g} s (--idle-timeout)"
    return ""


def check_watch_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise InputError("--watch needs a training output directory, not a file", where=str(path))
    if not path.exists() and not path.parent.is_dir():
        raise InputError("--watch directory's parent does not exist", where=str(path))
    return path
