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
- Sampling inline is optional too: with ``inline=False`` the callback only saves a
  checkpoint at every scheduled step (step 0 included, as ``checkpoint-0``), and
  ``vdbench sample --watch OUTPUT_DIR`` samples them beside training (vdbench.watch).
- Capability (`config.capability`, optional): rank 0 scores the in-memory model with
  lm-evaluation-harness at each checkpoint, before storing it (vdbench.capability).
- Trackers: once `attach(trainer)` is called, each checkpoint's stance values and output
  health go through the Trainer's callbacks (its `report_to` integrations) at that step
  (vdbench.training.trackers).
- Drift budget (needs a judge): after each checkpoint, a topic's stance whose bootstrap
  interval of M from the stage's first checkpoint lies beyond its budget is warned about
  on stderr and recorded as a run event; with `stop_on_budget`, training stops cleanly
  (a checkpoint is saved at that step, the run is marked stopped).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from vdbench import queries
from vdbench.capability.harness import CapabilityCapture
from vdbench.evalsets.model import EvalSet
from vdbench.metrics.budget import BudgetBreach, budget_breaches, drift_moves, parse_drift_budget
from vdbench.run_events import DRIFT_BUDGET, STOPPED, record_event
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
from vdbench.training.trackers import PREFIX as TRACKER_PREFIX
from vdbench.training.trackers import checkpoint_scalars

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
        drift_budget: {stance: max |M|} (or "neutral:0.2,…"), judged after each
            checkpoint on the inline judge's scores (vdbench.metrics.budget).
        stop_on_budget: end training at the first checkpoint beyond the budget.
        inline: False: sample nothing here; save ``output_dir/checkpoint-STEP`` at every
            scheduled step (the start as ``checkpoint-0``) for a watcher to sample.
    """

    def __init__(
        self, store: Store | str, run: RunSpec, eval_set: EvalSet | str,
        config: DriftConfig | None = None,
        *, tokenizer: Any = None, judge: Any = None, total_steps: int | None = None,
        checkpoint_paths: dict[int, str] | None = None, save_checkpoints: bool = False,
        drift_budget: Mapping[str, float] | str | None = None, stop_on_budget: bool = False,
        inline: bool = True,
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
        # Capability beside values (config.capability): scored on rank 0 at each checkpoint.
        self.capability = CapabilityCapture.from_config(self.config)
        self.drift_budget = (parse_drift_budget(drift_budget) if isinstance(drift_budget, str)
                             else dict(drift_budget or {}))
        if self.drift_budget and self.judge is None:
            raise ValueError("a drift budget is judged on stances: pass judge= too")
        if stop_on_budget and not self.drift_budget:
            raise ValueError("stop_on_budget needs a drift_budget")
        self.stop_on_budget = stop_on_budget
        self.inline = inline
        if not inline and (self.judge is not None or self.drift_budget or self.capability is not None):
            raise ValueError("inline=False samples nothing here: judge, drift budget and "
                             "capability belong to the watcher (vdbench sample --watch)")
        self.saved: list[int] = []  # inline=False: scheduled steps handed to the Trainer to save
        self.breaches: list[BudgetBreach] = []  # recorded by this process (new ones only)
        self.stop_step: int | None = None  # the checkpoint training stopped at
        self._stop_wanted = False  # the budget was exceeded: stop at this step's end
        self.stop_breaches: list[BudgetBreach] = []  # what was beyond the budget there
        self.trainer: Any = None  # set by attach(): where tracker scalars are logged
        self._recorded: set[tuple[str, str]] = set()  # (topic, stance) already in the store

    def attach(self, trainer: Any) -> DriftCallback:
        """Log each checkpoint's scalars through `trainer` (a transformers Trainer: its
        callbacks, hence its `report_to` trackers; or anything with `log(dict)`)."""
        self.trainer = trainer
        return self

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
        if not self.inline:
            if distributed.is_main():
                self._prepare_store()  # the run and its lineage, for the watcher to adopt
            if state.global_step == 0 and 0 in self.schedule and args is not None:
                self._save_start(model, processing_class, args)
            return control
        already: set[int] = set()
        if distributed.is_main():
            self._prepare_store()
            already = done_steps(self.store, self.run.run_id)
            self._recorded = self._recorded_breaches()
            if already and self.judge is not None:
                # A run killed between storing a checkpoint and judging it left samples
                # unjudged; judge them now, since their step will not be sampled again.
                self.judge.judge_pending(self.store, self.run.run_id)
        self.sampled |= distributed.broadcast_object(already)
        # Step 0, or a resumed Trainer's step when the schedule includes it.
        if state.global_step in self.schedule:
            self._maybe_capture(state.global_step, model, processing_class, args)
        return control

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        step = state.global_step
        if not self.inline:
            if step in self.schedule and step not in self.saved:
                control.should_save = True
                self.saved.append(step)
            return control
        if step in self.schedule:
            if self.save_checkpoints and step not in self.sampled and args is not None:
                control.should_save = True
                self.checkpoint_paths.setdefault(step, f"{args.output_dir}/checkpoint-{step}")
            self._maybe_capture(step, model, processing_class, args)
        if self._stop_wanted and self.stop_step is None and step < (self.total_steps or step):
            self.stop_step = step
            control.should_training_stop = True
            control.should_save = True  # the Trainer saves OUTPUT/checkpoint-STEP next
            if args is not None:
                path = f"{args.output_dir}/checkpoint-{step}"
                self.checkpoint_paths.setdefault(step, path)
                if distributed.is_main():
                    self._record_stop_path(step, path)
        return control

    def on_train_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if not self.inline:  # the final model is saved with its trainer_state.json
            return control
        # A run stopped early (or a schedule whose end step was never reached) still
        # gets its final state sampled.
        self._maybe_capture(state.global_step, model, processing_class, args)
        if self.stop_step is not None and distributed.is_main():
            record_event(self.store, self.run.run_id, self.stop_step, STOPPED, {
                "reason": "drift budget", "planned_steps": self.total_steps,
                "budget": self.drift_budget,
                "breaches": [b.as_dict() for b in self.stop_breaches]})
        return control

    # -- work --------------------------------------------------------------------------
    def _save_start(self, model, processing_class, args) -> None:
        """The model before training as ``output_dir/checkpoint-0`` (rank 0), written in a
        sibling directory and renamed, its trainer_state.json last, so a watcher never sees
        it half-written. An existing checkpoint-0 (a resumed run) is kept."""
        from vdbench.watch import save_start_checkpoint

        if distributed.is_main() and model is not None:
            save_start_checkpoint(Path(args.output_dir), model, self.tokenizer or processing_class,
                                  max_steps=self.total_steps or 0)
        self.saved.append(0)
        distributed.barrier()

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
            if self.capability is not None:  # before the store: trackers see it at this step
                self.capability.measure(self.store, self.run.run_id, step, model, tokenizer,
                                        sharded=bool(self._sync))
            self._store(step, merged)
        distributed.barrier()
        if self.stop_on_budget:  # rank 0 judged the budget: every rank stops together
            self._stop_wanted = distributed.broadcast_object(self._stop_wanted)
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
        self._after_checkpoint(step)

    # -- trackers and the drift budget (rank 0) ---------------------------------------
    def _after_checkpoint(self, step: int) -> None:
        """Judge the budget at `step`, then log the checkpoint's scalars."""
        if self.trainer is None and not self.drift_budget:
            return
        judge_id = self.judge.judge.identity.judge_id if self.judge is not None else None
        scalars = checkpoint_scalars(self.store, self.run.run_id, step, judge_id)
        if self.drift_budget and judge_id is not None:
            scalars[f"{TRACKER_PREFIX}/budget/exceeded"] = float(self._check_budget(step, judge_id))
        self._log(scalars)

    def _check_budget(self, step: int, judge_id: str) -> int:
        """Warn about and record new breaches at `step`; return how many pairs are beyond."""
        with self.store.read() as con:
            row = con.execute("SELECT min(step) FROM checkpoints WHERE run_id = ?",
                              [self.run.run_id]).fetchone()
            first = int(row[0]) if row and row[0] is not None else step
            if first == step:
                return 0
            samples = queries.judged_samples(con, self.run.run_id, judge_id, steps=[first, step])
        breaches = budget_breaches(self.drift_budget, drift_moves(samples, first, step), step, first)
        new = [b for b in breaches if (b.topic, b.stance) not in self._recorded]
        for breach in new:
            print(f"warning: drift budget exceeded: {breach.describe()}", file=sys.stderr)
        if new:
            record_event(self.store, self.run.run_id, step, DRIFT_BUDGET, {
                "budget": self.drift_budget, "breaches": [b.as_dict() for b in new]})
            self._recorded |= {(b.topic, b.stance) for b in new}
            self.breaches.extend(new)
        if breaches and self.stop_on_budget and not self._stop_wanted \
                and step < (self.total_steps or step):
            self._stop_wanted = True
            self.stop_breaches = breaches
            print(f"stopping at step {step} of {self.total_steps}: {len(breaches)} topic "
                  "stance(s) beyond the drift budget", file=sys.stderr)
        return len(breaches)

    def _recorded_breaches(self) -> set[tuple[str, str]]:
        """(topic, stance) pairs a previous process already recorded for this run."""
        if not self.drift_budget:
            return set()
        with self.store.read() as con:
            events = queries.run_events(con, self.run.run_id)
        return {(b["topic"], b["stance"]) for e in events if e["kind"] == DRIFT_BUDGET
                for b in e["payload"].get("breaches", ())}

    def _record_stop_path(self, step: int, path: str) -> None:
        """The stop step's checkpoint row gets the directory the Trainer saves it to."""
        with self.store.write() as con:
            con.execute("UPDATE checkpoints SET path = ? WHERE run_id = ? AND step = ? "
                        "AND path IS NULL", [path, self.run.run_id, step])

    def _log(self, scalars: dict[str, float]) -> None:
        """Send `scalars` to the attached trainer's trackers at the current step."""
        trainer = self.trainer
        if trainer is None or not scalars:
            return
        handler = getattr(trainer, "callback_handler", None)
        if handler is None:  # our PPOTrainer: its log() feeds its tracker callbacks
            trainer.log(dict(scalars))
            return
        # Straight to the callbacks rather than trainer.log(): TRL's log() overrides fold
        # in (and reset) their running training metrics, which belong to the next loss log.
        # The handler clears should_log, which the Trainer's own loss log for this step
        # still needs: keep it.
        state, control = trainer.state, trainer.control
        should_log = control.should_log
        state.log_history.append({**scalars, "step": state.global_step})
        trainer.control = handler.on_log(trainer.args, state, control, dict(scalars))
        trainer.control.should_log = should_log
