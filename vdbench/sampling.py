"""Sample checkpoints trained anywhere (verl, OpenRLHF, any Trainer): checkpoints → samples.

Point at model directories, or at training output directories holding `checkpoint-*`;
each checkpoint's step and the run's total steps come from its `trainer_state.json`, else
from the directory name (`checkpoint-STEP`) or the caller's `steps`. Each checkpoint's
samples are stored in one transaction, and checkpoints already stored are skipped, so a
killed run resumes where it stopped. Under `torchrun` / `accelerate launch` the prompts
are shared out across processes and rank 0 alone writes.
"""

from __future__ import annotations

import glob
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdbench.errors import InputError
from vdbench.evalsets.model import EvalSet
from vdbench.runs import RunSpec, SampleRecord, done_steps, register_run, write_checkpoint
from vdbench.store import Store

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
ENGINES = ("hf", "vllm")


@dataclass(frozen=True)
class CheckpointRef:
    """A model directory and where it sits in its training run."""

    path: Path
    step: int
    total_steps: int


def _trainer_state(path: Path) -> dict[str, Any]:
    state_file = path / "trainer_state.json"
    if not state_file.exists():
        return {}
    try:
        state = json.loads(state_file.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read trainer_state.json: {exc}", where=str(state_file)) from None
    return state if isinstance(state, dict) else {}


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").exists()


def _checkpoint_children(path: Path) -> list[Path]:
    children = [c for c in path.iterdir() if c.is_dir() and CHECKPOINT_NAME.match(c.name)]
    return sorted(children, key=lambda c: int(c.name.split("-")[-1]))


def expand_checkpoint_args(args: Sequence[str]) -> list[Path]:
    """Model directories named by `args`: globs expanded, training dirs → their checkpoint-*.

    A training output directory that is also a model (the final save) counts too when its
    trainer_state.json names a step none of its checkpoint-* holds.
    """
    out: list[Path] = []
    for arg in args:
        matches = sorted(glob.glob(arg)) if glob.has_magic(arg) else [arg]
        if not matches:
            raise InputError(f"no checkpoint matches {arg!r}")
        for match in map(Path, matches):
            if not match.exists():
                raise InputError("checkpoint directory not found", where=str(match))
            if not match.is_dir():
                raise InputError("not a directory", where=str(match))
            children = _checkpoint_children(match)
            if _is_model_dir(match):
                step = _trainer_state(match).get("global_step")
                child_steps = {_step_of(c) for c in children}
                if not children or (isinstance(step, int) and step not in child_steps):
                    out.append(match)
            if not children and not _is_model_dir(match):
                raise InputError("neither a model directory (config.json) nor a directory of checkpoint-*",
                                 where=str(match))
            out.extend(children)
    return out


def _step_of(path: Path) -> int | None:
    """The training step a directory holds: trainer_state.json, else its checkpoint-STEP name."""
    state = _trainer_state(path)
    if isinstance(state.get("global_step"), int):
        return state["global_step"]
    match = CHECKPOINT_NAME.match(path.name)
    return int(match.group(1)) if match else None


def discover_checkpoints(args: Sequence[str], steps: Sequence[int] | None = None,
                         total_steps: int | None = None) -> list[CheckpointRef]:
    """Checkpoints with step and total, sorted by step.

    Step: trainer_state.json's global_step, else the `checkpoint-STEP` name, else the
    next of `steps`. `steps` may instead give every checkpoint's step (one per
    checkpoint, in order), which overrides both. Total: `total_steps`, else
    trainer_state.json's max_steps, else the largest step found.
    """
    paths = expand_checkpoint_args(args)
    known = [_step_of(p) for p in paths]
    unknown = [p for p, s in zip(paths, known, strict=True) if s is None]
    if steps is not None and len(steps) == len(paths):
        known = [int(s) for s in steps]
    elif steps is not None and len(steps) == len(unknown):
        given = iter(int(s) for s in steps)
        known = [s if s is not None else next(given) for s in known]
    elif steps is not None:
        raise InputError(f"--steps gives {len(steps)} steps for {len(paths)} checkpoints "
                         f"({len(unknown)} without a known step)",
                         hint="give one step per checkpoint in the order listed ("
                         + ", ".join(p.name for p in paths) + "), or one per checkpoint lacking "
                         "trainer_state.json")
    if unknown and (steps is None):
        raise InputError("cannot tell which training step this checkpoint is", where=str(unknown[0]),
                         hint="pass --steps (one per checkpoint), or keep trainer_state.json")
    by_step: dict[int, Path] = {}
    for path, step in zip(paths, known, strict=True):
        assert step is not None
        if step in by_step:
            raise InputError(f"two checkpoints claim step {step}: {by_step[step]} and {path}")
        by_step[step] = path
    totals = [t for p in paths if isinstance(t := _trainer_state(p).get("max_steps"), int) and t > 0]
    largest = max(by_step)
    total = total_steps or (max(totals) if totals else None) or largest or 1
    if largest > total:
        raise InputError(f"checkpoint step {largest} is past the run's total of {total} steps",
                         hint="pass --total-steps")
    return [CheckpointRef(by_step[s].resolve(), s, total) for s in sorted(by_step)]


def require_engine(engine: str) -> None:
    """InputError unless `engine` can run here (vLLM is an optional extra)."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}", hint=f"one of {', '.join(ENGINES)}")
    if engine == "vllm":
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise InputError("--engine vllm needs vLLM, which is not installed",
                             hint="pip install 'vdbench[vllm]' on a GPU machine, or use --engine hf")


def _sample_vllm(ref: CheckpointRef, eval_set: EvalSet, cfg, *, tokenizer_path, trust_remote_code, seed):
    """K samples per prompt with vLLM (rank 0 only; vLLM does its own parallelism)."""
    from vllm import LLM, SamplingParams  # type: ignore[import-not-found]

    from vdbench.health import classify_health
    from vdbench.training.generation import Generation, render_prompt

    llm = LLM(model=str(ref.path), tokenizer=str(tokenizer_path or ref.path),
              trust_remote_code=trust_remote_code, seed=seed)
    tokenizer = llm.get_tokenizer()
    prompts = [{"prompt_token_ids": render_prompt(tokenizer, p.text)} for p in eval_set.prompts]
    params = SamplingParams(n=cfg.samples_per_prompt, temperature=cfg.temperature, top_p=cfg.top_p,
                            max_tokens=cfg.max_new_tokens, seed=seed)
    out = []
    for index, result in enumerate(llm.generate(prompts, params)):
        for k, completion in enumerate(result.outputs):
            hit = completion.finish_reason == "length"
            text = completion.text.strip()
            out.append(Generation(index, k, text, len(completion.token_ids), hit, classify_health(text, hit)))
    return out


def sample_checkpoints(
    store: Store, run: RunSpec, checkpoints: Sequence[CheckpointRef], eval_set: EvalSet, cfg, *,
    engine: str = "hf", tokenizer_path: str | Path | None = None, trust_remote_code: bool = False,
    dtype: str | None = None, judge: Any = None, quiet: bool = False,
) -> dict[str, Any]:
    """Sample every checkpoint not yet stored for `run`; returns a summary.

    `cfg` is a DriftConfig (samples per prompt, temperature, max new tokens, batch, seed).
    Every process calls this; rank 0 registers, writes and judges.
    """
    from vdbench.training import distributed
    from vdbench.training.generation import (
        forked_rng,
        sample_prompts,
        step_seed,
    )
    from vdbench.training.judging import InlineJudge
    from vdbench.training.models import check_model_dir, load_model_and_tokenizer

    require_engine(engine)
    if engine == "vllm" and getattr(cfg, "capability", None):
        raise InputError("--capability scores log-likelihoods through the HF model: it needs "
                         "--engine hf", hint="sample with vLLM, then run vdbench capability run")
    from vdbench.training.runner import quiet_libraries

    quiet_libraries()
    for ref in checkpoints:  # every directory checked before the first model loads
        check_model_dir(ref.path, trust_remote_code=trust_remote_code,
                        require_tokenizer=tokenizer_path is None)
    capability = _capability(cfg, distributed.is_main())  # a bad task fails before any write
    device = None
    if distributed.world_size() > 1 or _has_cuda():
        from accelerate import PartialState

        device = PartialState().device  # initialises the process group under torchrun
    main = distributed.is_main()
    done: set[int] = set()
    if main:
        from vdbench.evalsets.stored import register_eval_set

        register_eval_set(store, eval_set)
        run = register_run(store, run)
        done = done_steps(store, run.run_id)
    done = distributed.broadcast_object(done)
    judging = InlineJudge(judge) if judge is not None else None
    if judging is not None and main:
        judging.load()  # a judge that cannot work fails before any sampling
    stored: dict[int, int] = {}
    started = time.perf_counter()
    for ref in checkpoints:
        if ref.step in done:
            if capability is not None and capability.missing(store, run.run_id, ref.step):
                _capability_only(capability, store, run, ref, tokenizer_path, trust_remote_code,
                                 dtype, device)
            continue
        t0 = time.perf_counter()
        if engine == "vllm":
            generations = (_sample_vllm(ref, eval_set, cfg, tokenizer_path=tokenizer_path,
                                        trust_remote_code=trust_remote_code,
                                        seed=step_seed(cfg.seed, run.run_id, ref.step)) if main else [])
            gathered = [generations] if main else None
        else:
            model, tokenizer = load_model_and_tokenizer(
                ref.path, trust_remote_code=trust_remote_code, dtype=dtype or ("auto" if _has_cuda() else None),
                device=str(device) if device is not None else None, tokenizer_path=tokenizer_path)
            seed = step_seed(cfg.seed, run.run_id, ref.step)
            settings = cfg.generation_settings(seed + distributed.rank())
            with forked_rng(seed):
                generations = sample_prompts(
                    model, tokenizer, [p.text for p in eval_set.prompts], settings,
                    rank=distributed.rank(), world_size=distributed.world_size(),
                    synced_gpus=bool(cfg.sync_generate), device=device)
            if capability is not None:  # same model, same pass (rank 0 scores, others wait)
                capability.measure(store, run.run_id, ref.step, model, tokenizer,
                                   sharded=bool(cfg.sync_generate))
            del model
            gathered = distributed.gather_objects(generations)
        if gathered is not None:
            merged = sorted((g for part in gathered for g in part), key=lambda g: (g.prompt_index, g.sample_idx))
            records = [SampleRecord(prompt_id=eval_set.prompts[g.prompt_index].prompt_id,
                                    topic=eval_set.prompts[g.prompt_index].topic, sample_idx=g.sample_idx,
                                    text=g.text, n_tokens=g.n_tokens, health=g.health) for g in merged]
            stored[ref.step] = write_checkpoint(store, run.run_id, ref.step, ref.total_steps, str(ref.path),
                                                eval_set.name, records, cfg.gen_settings())
            if judging is not None:
                judging.judge_pending(store, run.run_id)
            if not quiet:
                print(f"step {ref.step}/{ref.total_steps}: {stored[ref.step]} samples from {ref.path} "
                      f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        distributed.barrier()
    return {
        "run": run.run_id, "stage": run.stage, "eval_set": eval_set.name, "engine": engine,
        "checkpoints": [{"path": str(c.path), "step": c.step, "total_steps": c.total_steps,
                         "status": "stored" if c.step in stored else "already stored"}
                        for c in checkpoints],
        "samples_stored": int(sum(stored.values())),
        "seconds": round(time.perf_counter() - started, 2),
        **({"capability": {"tasks": capability.check(), "stored_steps": sorted(capability.stored),
                           "seconds": round(capability.seconds, 2)}} if capability else {}),
    }


def _capability(cfg, main: bool):
    """The capability capture `cfg` asks for, its tasks loaded now on every process (so a
    bad one fails everywhere at once); None when none is asked for, or off rank 0."""
    from vdbench.capability.harness import CapabilityCapture

    capture = CapabilityCapture.from_config(cfg)
    if capture is not None:
        capture.check()
    return capture if main else None


def _capability_only(capability, store: Store, run: RunSpec, ref: CheckpointRef, tokenizer_path,
                     trust_remote_code: bool, dtype, device) -> None:
    """A checkpoint sampled before but not scored: load it for capability alone (rank 0)."""
    from vdbench.training.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(
        ref.path, trust_remote_code=trust_remote_code, dtype=dtype or ("auto" if _has_cuda() else None),
        device=str(device) if device is not None else None, tokenizer_path=tokenizer_path)
    capability.measure(store, run.run_id, ref.step, model, tokenizer)


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
