"""DriftCallback: sample the eval set during training and store it as checkpoints.

Works with any `transformers.Trainer` (TRL's included) and with our PPO loop, which calls
the same hooks. At step 0 (`on_train_begin`), at every scheduled step (`on_step_end`) and
at the end, it generates K samples per eval prompt and stores them with the checkpoint's
step, total steps and fraction of training, under a run that records stage and lineage.

Guarantees:
- Training is unaffected: sampling runs inside a forked RNG (python, numpy, torch CPU and
  CUDA) with its own seed, in eval mode, and restores the model's mode afterwards.
- No step is stored twice, and a re-run skips steps already stored (`done_steps`).
- Only rank 0 reads or writes the store; the other ranks generate their share of the
  items, rank 0 gathers them; every rank makes the same collective calls in the same
  order, so none waits forever (ZeRO-3/FSDP: `sync_generate`).
- Judging inline is optional; without a judge the samples wait for `vdbench judge run`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from transformers import TrainerCallback

from vdbench.evalsets.model import EvalSet
from vdbench.runs import RunSpec, SampleRecord, done_steps, register_run, write_checkpoint
from vdbench.store import Store
from vdbench.training import distributed
from vdbench.training.config import DriftConfig
from vdbench.training.generation import (
    Generation,
    forked_rng,
    sample_prompts,
    step_seed,
)
from vdbench.training.judging import InlineJudge
from vdbench.training.schedule import checkpoint_schedule

log = logging.getLogger(__name__)


class DriftCallback(TrainerCallback):
    """Sample `eval_set` at step 0, on a schedule and at the end; store samples (rank 0).

    Args:
        store: the vdbench store (or its path).
        run: the run's identity and lineage (stage, algorithm, parent, hparams).
        eval_set: the prompts to sample, or a name/path for `resolve_eval_set`.
        config: schedule and sampling settings (K, temperature, max new tokens, batch).
        tokenizer: used when the Trainer does not pass `processing_class`.
        judge: a judge name/manifest path, or a loaded judge; scores each checkpoint's
            samples on rank 0 right after they are stored. None: leave them unjudged.
        total_steps: overrides `state.max_steps` (e.g. a loop without a TrainerState).
        checkpoint_paths: step → model path to record (e.g. {0: the base model dir}).
        save_checkpoints: also make the Trainer save a checkpoint at every sampled step
            (recorded as ``output_dir/checkpoint-STEP``), so a later stage can start from
            any point of the curve with ``--parent RUN:STEP``.
    """

    def __init__(
        self, store: Store | str, run: RunSpec, eval_set: EvalSet | str,
        config: DriftConfig | None = None,
        *, tokenizer: Any = None, judge: Any = None, total_steps: int | None = None,
        checkpoint_paths: dict[int, str] | None = None, save_checkpoints: bool = False,
    ):
        self.store = store if isinstance(store, Store) else Store(store)
        if isinstance(eval_set, str):
            from vdbench.evalsets.stored import resolve_eval_set

            eval_set = resolve_eval_set(eval_set, self.store)
        self.run = replace(run, eval_set=eval_set.name)
        self.eval_set = eval_set
        self.config = config or DriftConfig()
        self.tokenizer = tokenizer
        self.judge = InlineJudge(judge) if judge is not None else None
        self.total_steps = total_steps
        self.checkpoint_paths = dict(checkpoint_paths or {})
        self.save_checkpoints = save_checkpoints
        self.schedule: list[int] = []
        self.sampled: set[int] = set()
        self.seconds = 0.0  # wall time spent sampling, storing and judging (overhead)
        self.stored: dict[int, int] = {}  # step → samples newly stored (rank 0)
        self._sync = self.config.sync_generate

    # -- hooks -------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        total = self.total_steps or state.max_steps
        self.total_steps = total
        every = self.config.every
        if every is not None and every > total:  # the CLI refuses this; a library user is warned
            log.warning("every=%d exceeds the run (%d steps): sampling only its ends", every, total)
            every = total
        eval_steps = [s for s in self.config.eval_steps if s <= total]
        self.schedule = checkpoint_schedule(total, every, eval_steps)
        if self._sync is None:
            self._sync = distributed.weights_are_sharded()
        already: set[int] = set()
        if distributed.is_main():
            self._prepare_store()
            already = done_steps(self.store, self.run.run_id)
        self.sampled |= distributed.broadcast_object(already)
        # Step 0, or a resumed Trainer's step when the schedule includes it.
        if state.global_step in self.schedule:
            self._maybe_capture(state.global_step, model, processing_class, args)
        return control

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        step = state.global_step
        if step in self.schedule:
            if self.save_checkpoints and step not in self.sampled and args is not None:
                control.should_save = True
                self.checkpoint_paths.setdefault(step, f"{args.output_dir}/checkpoint-{step}")
            self._maybe_capture(step, model, processing_class, args)
        return control

    def on_train_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        # A run stopped early (or a schedule whose end step was never reached) still
        # gets its final state sampled.
        self._maybe_capture(state.global_step, model, processing_class, args)
        return control

    # -- work --------------------------------------------------------------------------
    def _prepare_store(self) -> None:
        from vdbench.evalsets.stored import register_eval_set

        register_eval_set(self.store, self.eval_set)
        self.run = register_run(self.store, self.run)

    def _maybe_capture(self, step: int, model, processing_class, args) -> None:
        if step in self.sampled or model is None:
            return
        self.sampled.add(step)
        tokenizer = self.tokenizer or processing_class
        if tokenizer is None:
            raise ValueError("DriftCallback needs a tokenizer: pass tokenizer= or processing_class")
        started = time.perf_counter()
        generations = self._generate(step, model, tokenizer, args)
        gathered = distributed.gather_objects(generations)
        if gathered is not None:  # rank 0
            merged = sorted((g for part in gathered for g in part),
                            key=lambda g: (g.prompt_index, g.sample_idx))
            self._store(step, merged)
        distributed.barrier()
        self.seconds += time.perf_counter() - started

    def _generate(self, step: int, model, tokenizer, args) -> list[Generation]:
        cfg = self.config
        seed = step_seed(cfg.seed, self.run.run_id, step)
        settings = cfg.generation_settings(seed + distributed.rank())
        device = getattr(args, "device", None) if args is not None else None
        with forked_rng(seed):
            return sample_prompts(
                model, tokenizer, [p.text for p in self.eval_set.prompts], settings,
                rank=distributed.rank(), world_size=distributed.world_size(),
                synced_gpus=bool(self._sync), device=device,
            )

    def _store(self, step: int, generations: Sequence[Generation]) -> None:
        prompts = self.eval_set.prompts
        records = [SampleRecord(prompt_id=prompts[g.prompt_index].prompt_id,
                                topic=prompts[g.prompt_index].topic, sample_idx=g.sample_idx,
                                text=g.text, n_tokens=g.n_tokens, health=g.health)
                   for g in generations]
        assert self.total_steps is not None
        added = write_checkpoint(
            self.store, self.run.run_id, step, max(self.total_steps, step),
            self.checkpoint_paths.get(step), self.eval_set.name, records,
            self.config.gen_settings(),
        )
        self.stored[step] = added
        log.info("stored %d samples of %s at step %d/%d", added, self.run.run_id, step, self.total_steps)
        if self.judge is not None:
            self.judge.judge_pending(self.store, self.run.run_id)
