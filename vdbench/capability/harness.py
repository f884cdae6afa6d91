"""The capability engine: lm-evaluation-harness run on the model in memory.

`CapabilityEvaluator` reads lm-eval's task index once, loads every requested task (so an
unknown name, a broken YAML or a dataset missing from the offline Hugging Face cache is
refused before any training or sampling starts), then scores a model in memory with
`lm_eval.simple_evaluate` and lm-eval's own HF wrapper (`HFLM(pretrained=model,
tokenizer=tokenizer)`): no checkpoint is written to disk for it and no task is
re-implemented here. `CapabilityCapture` adds the store: skip what is stored, write what
is new, time it. Only the process that writes the store evaluates (rank 0).

lm_eval is imported only here, and only when capability is asked for.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import io
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from vdbench.capability.records import CapabilityScore, stored_tasks, write_capability
from vdbench.capability.spec import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LIMIT,
    INSTALL_HINT,
    MICRO,
    TaskRef,
    check_batch_size,
    check_limit,
    parse_tasks,
)
from vdbench.errors import InputError
from vdbench.store import Store

log = logging.getLogger(__name__)

# lm-eval bootstraps only the stderr of metrics that are not means (acc and acc_norm
# have closed forms); its default of 100,000 replicates is minutes per checkpoint.
BOOTSTRAP_ITERS = 1000


def require_lm_eval() -> str:
    """lm-eval's version; InputError (with the install command) when it is not installed."""
    if importlib.util.find_spec("lm_eval") is None:
        raise InputError("capability tasks run on lm-evaluation-harness, which is not installed",
                         hint=f"{INSTALL_HINT} (or pip install lm-eval)")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lm_eval")
    except PackageNotFoundError:
        return "unknown"


@lru_cache(maxsize=8)
def _task_manager(include: tuple[str, ...], defaults: bool) -> Any:
    """lm-eval's task index over its own tasks (when `defaults`) and `include` directories.

    Indexing lm-eval's thousands of task YAMLs takes seconds: done once per process.
    """
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=list(include) or None, include_defaults=defaults)


def _is_dataset_missing(exc: BaseException) -> bool:
    """Whether loading failed because a dataset is neither cached nor reachable."""
    try:
        from datasets.exceptions import DatasetNotFoundError
    except ImportError:  # pragma: no cover - datasets always comes with lm-eval
        DatasetNotFoundError = ()  # type: ignore[assignment]  # noqa: N806
    if isinstance(exc, ConnectionError | DatasetNotFoundError):
        return True
    text = str(exc)
    return any(word in text for word in ("OfflineModeIsEnabled", "on the Hub", "HF_DATASETS_OFFLINE",
                                         "couldn't be found on the Hugging Face Hub"))


@contextlib.contextmanager
def _lm_eval_errors(task: str) -> Iterator[None]:
    """Turn lm-eval's failures to load or run `task` into errors a user can act on."""
    try:
        yield
    except InputError:
        raise
    except KeyError as exc:
        raise InputError(f"{task!r} is not an lm-eval task, group or tag ({exc.args[0] if exc.args else exc})",
                         hint="list lm-eval's tasks with `lm-eval ls tasks`; for a local task "
                         "give the path of its YAML") from None
    except Exception as exc:  # lm-eval and datasets raise many types; all are bad input here
        if _is_dataset_missing(exc):
            raise InputError(
                f"capability task {task!r} needs its dataset in the Hugging Face cache, and it "
                f"is not there ({type(exc).__name__}: {str(exc)[:300]})",
                hint="download it once where the Hub is reachable (run lm-eval on the task, or "
                "datasets.load_dataset on its dataset_path), then run offline with "
                "HF_DATASETS_OFFLINE=1; or choose another task") from None
        raise InputError(f"lm-eval cannot load or run capability task {task!r}: "
                         f"{type(exc).__name__}: {str(exc)[:400]}",
                         hint="check the task's YAML (lm-eval validate --tasks TASK)") from None


def _top_level(loaded: dict[str, Any]) -> list[str]:
    """Names in a TaskManager.load result that no loaded group contains (what was asked)."""
    children = {c for kids in loaded.get("group_map", {}).values() for c in kids}
    names = [*loaded.get("groups", {}), *loaded.get("tasks", {})]
    return [n for n in names if n not in children]


@dataclass
class _Plan:
    """One simple_evaluate call: a task index and the task specs it runs."""

    manager: Any
    specs: list[str]
    top: list[str] = field(default_factory=list)  # top-level result names


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Hide lm-eval's progress bars, info logging and the `git describe` it runs per call
    (which prints "fatal: not a git repository" outside one); all shown again on failure.

    Redirects both sys.stderr and file descriptor 2 (the subprocess writes there).
    """
    if not enabled:
        yield
        return
    logger = logging.getLogger("lm_eval")
    level = logger.level
    logger.setLevel(logging.ERROR)
    buffer = io.StringIO()
    sys.stderr.flush()
    saved_fd = captured = None
    with contextlib.suppress(OSError, ValueError):  # no real fd 2 (some embedded interpreters)
        captured = tempfile.TemporaryFile()
        saved_fd = os.dup(2)
        os.dup2(captured.fileno(), 2)
    try:
        with contextlib.redirect_stderr(buffer):
            yield
    except BaseException:
        if saved_fd is not None and captured is not None:
            os.dup2(saved_fd, 2)
            captured.seek(0)
            sys.stderr.write(captured.read()[-4000:].decode("utf-8", "replace"))
        sys.stderr.write(buffer.getvalue()[-4000:])
        raise
    finally:
        logger.setLevel(level)
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        if captured is not None:
            captured.close()


_RUN_METADATA: dict[str, Any] = {}


@contextlib.contextmanager
def _metadata_once() -> Iterator[None]:
    """simple_evaluate records the environment (torch's collect_env: a dozen subprocesses,
    about a second) and runs `git describe` on every call. A training run calls it at every
    checkpoint, so within one process both are computed once and reused: the recorded
    metadata is the same, the scores are untouched. Without these names in
    lm_eval.evaluator (another lm-eval version), nothing is changed."""
    import lm_eval.evaluator as evaluator

    env, git = getattr(evaluator, "add_env_info", None), getattr(evaluator, "get_git_commit_hash", None)
    if env is None or git is None:
        yield
        return

    def env_once(storage: dict[str, Any]) -> None:
        if "env" not in _RUN_METADATA:
            probe: dict[str, Any] = {}
            env(probe)
            _RUN_METADATA["env"] = probe
        storage.update(_RUN_METADATA["env"])

    def git_once() -> Any:
        if "git" not in _RUN_METADATA:
            _RUN_METADATA["git"] = git()
        return _RUN_METADATA["git"]

    evaluator.add_env_info, evaluator.get_git_commit_hash = env_once, git_once
    try:
        yield
    finally:
        evaluator.add_env_info, evaluator.get_git_commit_hash = env, git


@lru_cache(maxsize=1)
def _quiet_hflm() -> type:
    """lm-eval's HFLM with its per-request progress bars off (the wrapper is lm-eval's)."""
    from lm_eval.models.huggingface import HFLM

    class QuietHFLM(HFLM):
        def loglikelihood(self, requests, disable_tqdm: bool = False):
            return super().loglikelihood(requests, disable_tqdm=True)

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            return super().loglikelihood_rolling(requests, disable_tqdm=True)

        def generate_until(self, requests, disable_tqdm: bool = False):
            return super().generate_until(requests, disable_tqdm=True)

    return QuietHFLM


class CapabilityEvaluator:
    """Capability tasks resolved and loaded once; `evaluate(model, tokenizer)` scores one
    checkpoint's in-memory model.

    tasks: a TASKS list (vdbench.capability.spec.parse_tasks). limit: documents per task
    (per subtask of a group); None for all. Raises InputError for anything lm-eval cannot
    load, before a model is involved.
    """

    def __init__(self, tasks: str | Sequence[str], *, limit: int | None = DEFAULT_LIMIT,
                 batch_size: int = DEFAULT_BATCH_SIZE, quiet: bool = True):
        self.refs: tuple[TaskRef, ...] = parse_tasks(tasks)
        self.limit = check_limit(limit)
        self.batch_size = check_batch_size(batch_size)
        self.quiet = quiet
        self.engine = f"lm-eval {require_lm_eval()}"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._micro: dict[str, _Plan] = {}
        self.task_names: list[str] = []  # top-level names, in the order asked
        self._plan: _Plan | None = None
        self._names_of: dict[TaskRef, list[str]] = {}
        others = [r for r in self.refs if r.kind != MICRO]
        if others:
            self._plan = self._resolve(others)
        for ref in self.refs:
            if ref.kind == MICRO:
                from vdbench.capability.micro import TASK_NAME

                self.task_names.append(TASK_NAME)
            else:
                assert self._plan is not None
                self.task_names += self._names_of[ref]

    def _resolve(self, refs: list[TaskRef]) -> _Plan:
        include = sorted({str(r.path if r.path.is_dir() else r.path.parent)
                          for r in refs if r.kind == "local"})
        defaults = any(r.kind == "lm-eval" for r in refs)
        with _quiet(self.quiet):
            manager = _task_manager(tuple(include), defaults)
        plan = _Plan(manager, [])
        for ref in refs:
            specs = self._specs(ref, manager)
            names: list[str] = []
            for spec in specs:
                with _lm_eval_errors(spec if ref.kind == "lm-eval" else ref.spec), _quiet(self.quiet):
                    loaded = manager.load([spec])
                names += _top_level(loaded)
            plan.specs += specs
            self._names_of[ref] = names
        plan.top = [n for names in self._names_of.values() for n in names]
        return plan

    @staticmethod
    def _specs(ref: TaskRef, manager: Any) -> list[str]:
        """What to ask lm-eval for: a name, a YAML path, or a directory's groups/tasks."""
        if ref.kind == "lm-eval":
            if ref.spec not in manager.all_tasks:
                close = difflib.get_close_matches(ref.spec, manager.all_tasks, n=3)
                raise InputError(f"{ref.spec!r} is not an lm-eval task, group or tag",
                                 hint=(f"did you mean {', '.join(close)}? " if close else "")
                                 + "list them with `lm-eval ls tasks`; a local task needs the "
                                 "path of its YAML")
            return [ref.spec]
        if ref.path.is_file():
            return [ref.spec]
        inside = {name: entry for name, entry in manager.task_index.items()
                  if getattr(entry, "yaml_path", None)
                  and Path(entry.yaml_path).resolve().is_relative_to(ref.path)}
        groups = [n for n in manager.all_groups if n in inside]
        tasks = groups or [n for n in manager.all_subtasks if n in inside]
        if not tasks:
            raise InputError("no lm-eval task YAML in this directory", where=ref.spec,
                             hint="a task YAML has a `task:` key (see lm-eval's new_task_guide)")
        return sorted(tasks)

    def _micro_plan(self, tokenizer: Any) -> _Plan:
        """The micro task written for this tokenizer's chat format (cached per format)."""
        from vdbench.capability.micro import TASK_NAME, chat_renderer, write_micro_task

        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="vdbench-capability-")
        directory = write_micro_task(Path(self._tmp.name), chat_renderer(tokenizer))
        key = directory.name
        if key not in self._micro:
            from lm_eval.tasks import TaskManager

            with _quiet(self.quiet):
                manager = TaskManager(include_path=str(directory), include_defaults=False)
            self._micro[key] = _Plan(manager, [TASK_NAME], [TASK_NAME])
        return self._micro[key]

    def evaluate(self, model: Any, tokenizer: Any) -> list[CapabilityScore]:
        """Every task's metrics for `model` (a transformers causal LM, in memory).

        Runs under a forked RNG (training's python/numpy/torch streams are untouched and
        the scores do not depend on them) and restores the model's train/eval mode.
        """
        import lm_eval

        from vdbench.training.generation import forked_rng

        plans = ([self._plan] if self._plan is not None else [])
        if any(r.kind == MICRO for r in self.refs):
            plans.append(self._micro_plan(tokenizer))
        was_training = bool(getattr(model, "training", False))
        scores: list[CapabilityScore] = []
        try:
            with forked_rng(0), _quiet(self.quiet), _metadata_once():
                lm = _quiet_hflm()(pretrained=model, tokenizer=tokenizer, batch_size=self.batch_size)
                for plan in plans:
                    with _lm_eval_errors(", ".join(plan.top)):
                        out = lm_eval.simple_evaluate(
                            model=lm, tasks=list(plan.specs), task_manager=plan.manager,
                            limit=self.limit, bootstrap_iters=BOOTSTRAP_ITERS, log_samples=True,
                            random_seed=None, numpy_random_seed=None, torch_random_seed=None,
                        )
                    scores += parse_results(out, plan.top, self.settings())
        finally:
            model.train(was_training)
        return scores

    def settings(self) -> dict[str, Any]:
        return {"engine": self.engine, "limit": self.limit, "batch_size": self.batch_size}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def parse_results(out: dict[str, Any], top: Sequence[str],
                  settings: dict[str, Any] | None = None) -> list[CapabilityScore]:
    """simple_evaluate's output as one CapabilityScore per (task, metric, filter).

    lm-eval keys a result `metric,filter` (e.g. `acc,none`) beside `metric_stderr,filter`;
    per-item scores come from its logged samples (leaf tasks, in document order) and are
    kept only where every item has a number (not for corpus-level metrics such as BLEU).
    Subtasks of a group keep the group as `parent_task`; `top` names are top level.
    """
    results: dict[str, dict[str, Any]] = out.get("results", {})
    samples: dict[str, list[dict[str, Any]]] = out.get("samples") or {}
    counts: dict[str, dict[str, int]] = out.get("n-samples", {})
    groups: dict[str, list[str]] = out.get("group_subtasks", {})
    parent = {child: group for group, kids in groups.items() for child in kids if child != group}

    def n_items(name: str) -> int:
        if name in counts:
            return int(counts[name].get("effective", 0))
        return sum(n_items(child) for child in groups.get(name, []) if child != name)

    scores = []
    for name, row in results.items():
        for key, raw in row.items():
            metric, sep, filt = key.partition(",")
            value = _number(raw)
            if not sep or metric.endswith("_stderr") or value is None:
                continue
            logged = sorted((s for s in samples.get(name, []) if s.get("filter") == filt),
                            key=lambda s: s["doc_id"])
            per_item = [_number(s.get(metric)) for s in logged]
            items = tuple(x for x in per_item if x is not None)
            extra = {"num_fewshot": out.get("n-shot", {}).get(name),
                     "task_version": out.get("versions", {}).get(name)}
            scores.append(CapabilityScore(
                task=name, metric=metric, filter=filt, value=value,
                stderr=_number(row.get(f"{metric}_stderr,{filt}")), n=n_items(name),
                item_scores=items if per_item and len(items) == len(per_item) else None,
                parent_task=None if name in top else parent.get(name),
                settings={**(settings or {}), **extra},
            ))
    return scores


class CapabilityCapture:
    """Capability at checkpoints, written to the store (the writing process only).

    Built lazily: the evaluator (lm-eval's task index and datasets) loads on the first
    checkpoint it scores, or at `check()`. A step whose tasks are all stored is skipped,
    so a resumed run measures only what is missing.
    """

    def __init__(self, tasks: str | Sequence[str], *, limit: int | None = DEFAULT_LIMIT,
                 batch_size: int = DEFAULT_BATCH_SIZE, quiet: bool = True):
        self.tasks, self.limit, self.batch_size, self.quiet = tasks, limit, batch_size, quiet
        self._evaluator: CapabilityEvaluator | None = None
        self.seconds = 0.0
        self.stored: dict[int, int] = {}  # step → rows newly stored
        self._warned_sharded = False

    @classmethod
    def from_config(cls, config: Any, *, quiet: bool = True) -> CapabilityCapture | None:
        """From a DriftConfig's capability fields; None when it asks for none."""
        tasks = tuple(getattr(config, "capability", ()) or ())
        if not tasks:
            return None
        return cls(tasks, limit=getattr(config, "capability_limit", DEFAULT_LIMIT),
                   batch_size=getattr(config, "capability_batch_size", DEFAULT_BATCH_SIZE),
                   quiet=quiet)

    @property
    def evaluator(self) -> CapabilityEvaluator:
        if self._evaluator is None:
            self._evaluator = CapabilityEvaluator(self.tasks, limit=self.limit,
                                                  batch_size=self.batch_size, quiet=self.quiet)
        return self._evaluator

    def check(self) -> list[str]:
        """Load every task now (InputError if one cannot run); returns the task names."""
        return list(self.evaluator.task_names)

    def missing(self, store: Store, run_id: str, step: int) -> bool:
        """Whether any task has no score stored at this checkpoint."""
        return not set(self.evaluator.task_names) <= stored_tasks(store, run_id, step)

    def measure(self, store: Store, run_id: str, step: int, model: Any, tokenizer: Any, *,
                sharded: bool = False) -> int:
        """Score the model at `step` unless every task is stored there; returns rows added.

        sharded: the weights are split across processes (ZeRO-3/FSDP), where one process
        cannot run a forward pass alone: skipped with one warning.
        """
        if sharded:
            if not self._warned_sharded:
                log.warning("capability is not measured inline with sharded weights (ZeRO-3/FSDP): "
                            "save checkpoints and run `vdbench capability run` afterwards")
                self._warned_sharded = True
            return 0
        if not self.missing(store, run_id, step):
            return 0
        started = time.perf_counter()
        scores = self.evaluator.evaluate(model, tokenizer)
        added = write_capability(store, run_id, step, scores)
        self.stored[step] = added
        self.seconds += time.perf_counter() - started
        heads = ", ".join(f"{s.task} {s.metric} {s.value:.3f}" for s in scores
                          if s.parent_task is None and s.metric in ("acc", "exact_match"))
        log.info("capability of %s at step %d: %s (%.1f s)", run_id, step, heads or "stored",
                 time.perf_counter() - started)
        return added

    def close(self) -> None:
        if self._evaluator is not None:
            self._evaluator.close()
