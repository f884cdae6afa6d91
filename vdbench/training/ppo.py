"""Our PPO for causal LMs on transformers + accelerate (TRL ≥ 1.13 has no PPOTrainer).

One *step* = one rollout batch followed by `ppo_epochs` passes of clipped updates:
  1. rollout: sample responses to a batch of prompts (left-padded, temperature 1 by
     default) with the current policy;
  2. score: reward model (or a reward function) on prompt + response; optional penalty
     for responses that never end;
  3. per-token reward −β·(log π − log π_ref) plus the score on the last token, where
     π_ref is a frozen copy of the starting policy and β is `kl_coef`;
  4. GAE (γ, λ) on a value head over the policy's last hidden state; advantages whitened;
  5. clipped policy loss + vf_coef × clipped value loss, `mini_batches` per epoch.
The drift callback's hooks are called like a Trainer's (step 0, each step, the end), and
so are on_log and the Trainer's control flags: `should_save` saves OUTPUT/checkpoint-STEP,
`should_training_stop` ends training after the step. With `report_to`, transformers' own
tracker callbacks (TensorBoard, W&B, trackio, MLflow, …) get every on_log: each step's
statistics and the drift callback's scalars, exactly as under a Trainer.
Dropout stays off throughout so rollout and update log-probabilities agree.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn
from transformers import TrainerControl, TrainerState

from vdbench.training import ppo_core
from vdbench.training.config import PPOHParams
from vdbench.training.generation import Prompt, left_pad, render_prompt, stop_token_ids

RewardFn = Callable[[list[list[int]], list[list[int]]], Sequence[float]]


class PolicyWithValue(nn.Module):
    """A causal LM plus a scalar value head on its last hidden state."""

    def __init__(self, policy: Any):
        super().__init__()
        self.policy = policy
        hidden = policy.config.get_text_config().hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.normal_(self.value_head.weight, std=1.0 / math.sqrt(hidden + 1))
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids, attention_mask, position_ids):
        out = self.policy(input_ids=input_ids, attention_mask=attention_mask,
                          position_ids=position_ids, output_hidden_states=True, use_cache=False)
        values = self.value_head(out.hidden_states[-1].to(self.value_head.weight.dtype)).squeeze(-1)
        return out.logits, values


def _positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(-1) - 1).clamp(min=0)


class PPOTrainer:
    """PPO with a KL penalty against the frozen starting policy.

    Args:
        policy: the causal LM to train (trained in place).
        tokenizer: its tokenizer (chat template renders the prompts).
        prompts: strings (one user turn) or message lists ending in a user turn.
        config: PPOHParams.
        reward_model: a sequence-classification model with one output, or
        reward_fn: f(prompt_ids, response_ids) → one score per response (ids without
            padding; the response includes its end-of-sequence token when it ended).
        callbacks: TrainerCallbacks (e.g. DriftCallback); on_train_begin/on_step_end/
            on_log/on_train_end are called with `model=` the policy and `processing_class=`.
        report_to: transformers integration names (e.g. ["tensorboard"]); their callbacks
            are put first, as a Trainer does, and `args` is then a TrainingArguments.
        run_name: the trackers' run name.
    """

    def __init__(self, policy, tokenizer, prompts: Sequence[Prompt], config: PPOHParams, *,
                 reward_model: nn.Module | None = None, reward_fn: RewardFn | None = None,
                 callbacks: Sequence[Any] = (), accelerator=None, log_to_stderr: bool = False,
                 output_dir: str | Path = ".", report_to: Sequence[str] = (),
                 run_name: str | None = None):
        from accelerate import Accelerator

        if (reward_model is None) == (reward_fn is None):
            raise ValueError("pass exactly one of reward_model and reward_fn")
        if not prompts:
            raise ValueError("PPO needs at least one prompt")
        self.config = config
        self.tokenizer = tokenizer
        self.reward_fn = reward_fn
        self.callbacks = list(callbacks)
        self.log_to_stderr = log_to_stderr
        self.accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
        self.device = self.accelerator.device
        torch.manual_seed(config.seed)
        self.ref_policy = copy.deepcopy(policy).eval().requires_grad_(False).to(self.device)
        self.reward_model = (reward_model.eval().requires_grad_(False).to(self.device)
                             if reward_model is not None else None)
        policy.eval()  # dropout off for rollouts and updates alike
        wrapped = PolicyWithValue(policy)
        optimizer = torch.optim.AdamW(wrapped.parameters(), lr=config.learning_rate, eps=1e-5)
        self.model, self.optimizer = self.accelerator.prepare(wrapped, optimizer)
        self.prompt_ids = [render_prompt(tokenizer, p) for p in prompts]
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.stop_ids = stop_token_ids(policy, tokenizer)
        world = self.accelerator.num_processes
        self.total_steps = config.max_steps or max(
            1, math.ceil(config.epochs * len(prompts) / (config.batch_size * world)))
        self.state = TrainerState(max_steps=self.total_steps,
                                  is_world_process_zero=self.accelerator.is_main_process,
                                  is_local_process_zero=self.accelerator.is_local_main_process)
        self.args: Any = SimpleNamespace(device=self.device, output_dir=str(output_dir))
        if report_to:
            from transformers import TrainingArguments
            from transformers.integrations import get_reporting_integration_callbacks

            self.args = TrainingArguments(
                output_dir=str(output_dir), report_to=list(report_to), run_name=run_name,
                learning_rate=config.learning_rate, max_steps=self.total_steps, seed=config.seed,
                logging_steps=1, save_strategy="no", disable_tqdm=True,
                use_cpu=self.device.type == "cpu",
                # the Accelerator above is the process state: adopt it, do not reset it
                accelerator_config={"use_configured_state": True})
            trackers = [cls() for cls in get_reporting_integration_callbacks(list(report_to))]
            self.callbacks = trackers + self.callbacks
        self.history: list[dict[str, float]] = []
        self.control = TrainerControl()
        self._order_gen = torch.Generator().manual_seed(config.seed)
        self._order: list[int] = []

    # -- public ------------------------------------------------------------------------
    @property
    def policy(self):
        return self.accelerator.unwrap_model(self.model).policy

    def train(self) -> list[dict[str, float]]:
        """Run all steps; returns per-step statistics (reward, kl, losses, ...)."""
        control = self.control = TrainerControl()
        self._emit("on_train_begin", control)
        while self.state.global_step < self.total_steps:
            stats = self.step()
            self.state.global_step += 1
            self.history.append({**stats, "step": self.state.global_step})
            if self.log_to_stderr and self.accelerator.is_main_process:
                print(f"step {self.state.global_step}/{self.total_steps}: reward {stats['reward']:+.4f}, "
                      f"kl {stats['kl']:.4f}, pg {stats['pg_loss']:+.4f}, vf {stats['vf_loss']:.4f}",
                      file=sys.stderr)
            self._emit("on_step_end", control)
            self.log(stats)
            if control.should_save:
                self.save(Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}")
                control.should_save = False
            if control.should_training_stop:
                break
        self._emit("on_train_end", control)
        return self.history

    def log(self, logs: dict[str, float]) -> None:
        """Hand `logs` to every callback's on_log at the current step (trackers included),
        and keep them in `state.log_history` as a Trainer does."""
        self.state.log_history.append({**logs, "step": self.state.global_step})
        for callback in self.callbacks:
            if hasattr(callback, "on_log"):
                callback.on_log(self.args, self.state, self.control, logs=dict(logs),
                                model=self.policy, processing_class=self.tokenizer)

    def step(self) -> dict[str, float]:
        """One rollout batch and its PPO updates."""
        cfg = self.config
        batch = self._rollout(self._next_prompts())
        mask = batch["mask"]
        rewards, kl = ppo_core.kl_penalised_rewards(batch["scores"], batch["logprobs"],
                                                    batch["ref_logprobs"], mask, cfg.kl_coef)
        advantages, returns = ppo_core.gae(rewards, batch["values"], mask, cfg.gamma, cfg.lam)
        if cfg.whiten_advantages:
            advantages = ppo_core.masked_whiten(advantages, mask)
        n = mask.shape[0]
        mb_size = max(1, math.ceil(n / cfg.mini_batches))
        totals: dict[str, float] = {"pg_loss": 0.0, "vf_loss": 0.0, "clipfrac": 0.0, "approx_kl": 0.0}
        updates = 0
        for _ in range(cfg.ppo_epochs):
            perm = torch.randperm(n, generator=self._order_gen)
            for start in range(0, n, mb_size):
                idx = perm[start:start + mb_size].to(self.device)
                logits, values = self.model(batch["input_ids"][idx], batch["attention_mask"][idx],
                                            batch["position_ids"][idx])
                p = batch["prompt_len"]
                new_logp = ppo_core.token_logprobs(logits[:, p - 1:-1], batch["responses"][idx],
                                                   cfg.rollout_temperature)
                new_values = values[:, p - 1:-1]
                pg, pg_stats = ppo_core.policy_loss(new_logp, batch["logprobs"][idx],
                                                    advantages[idx], mask[idx], cfg.clip_range)
                vf, vf_stats = ppo_core.value_loss(new_values, batch["values"][idx], returns[idx],
                                                   mask[idx], cfg.clip_range_value)
                loss = pg + cfg.vf_coef * vf
                self.accelerator.backward(loss)
                if cfg.max_grad_norm:
                    self.accelerator.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                totals["pg_loss"] += pg.item()
                totals["vf_loss"] += vf.item()
                totals["clipfrac"] += pg_stats["clipfrac"]
                totals["approx_kl"] += pg_stats["approx_kl"]
                updates += 1
        seq_kl = ppo_core.sequence_kl(batch["logprobs"], batch["ref_logprobs"], mask)
        stats = {k: v / max(updates, 1) for k, v in totals.items()}
        stats.update(
            reward=self._mean(batch["scores"]),
            kl=self._mean(seq_kl),
            kl_k3=self._mean(ppo_core.sequence_kl_k3(batch["logprobs"], batch["ref_logprobs"], mask)),
            non_score_reward=self._mean((-cfg.kl_coef * kl).sum(1)),
            response_length=self._mean(mask.sum(1).float()),
            ended=self._mean(batch["ended"].float()),
        )
        return stats

    @torch.no_grad()
    def reference_kl(self, n_prompts: int | None = 256) -> float:
        """KL(π‖π_ref) per response (nats, k3 estimator), on fresh rollouts of the policy
        from the first `n_prompts` prompts (None: all), a rollout batch at a time."""
        order = list(range(len(self.prompt_ids)))[: n_prompts or len(self.prompt_ids)]
        chunk = max(1, self.config.batch_size)
        kls = []
        for start in range(0, len(order), chunk):
            batch = self._rollout(order[start:start + chunk], score=False)
            kls.append(ppo_core.sequence_kl_k3(batch["logprobs"], batch["ref_logprobs"], batch["mask"]))
        return self._mean(torch.cat(kls))

    def save(self, output_dir: str | Path) -> None:
        """The policy (save_pretrained + tokenizer), its value head and the step history."""
        from safetensors.torch import save_file

        from vdbench.watch import write_trainer_state

        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            out = Path(output_dir)
            out.mkdir(parents=True, exist_ok=True)
            unwrapped = self.accelerator.unwrap_model(self.model)
            unwrapped.policy.save_pretrained(out)
            self.tokenizer.save_pretrained(out)
            save_file({k: v.detach().cpu().contiguous() for k, v in unwrapped.value_head.state_dict().items()},
                      str(out / "value_head.safetensors"))
            (out / "ppo_history.json").write_text(json.dumps(self.history, indent=1), "utf-8")
            # last, as a Trainer does: its presence says the directory is complete (vdbench.watch)
            write_trainer_state(out, self.state.global_step, self.total_steps)
        self.accelerator.wait_for_everyone()

    # -- internals ---------------------------------------------------------------------
    def _emit(self, hook: str, control) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self.args, self.state, control, model=self.policy,
                                    processing_class=self.tokenizer)

    def _mean(self, values: torch.Tensor) -> float:
        return self.accelerator.gather(values.float().reshape(-1).to(self.device)).mean().item()

    def _next_prompts(self) -> list[int]:
        """This process's prompt indices for the next batch (reshuffled every epoch)."""
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        need = self.config.batch_size * world
        while len(self._order) < need:
            self._order.extend(torch.randperm(len(self.prompt_ids), generator=self._order_gen).tolist())
        global_batch, self._order = self._order[:need], self._order[need:]
        return global_batch[rank::world]

    @torch.no_grad()
    def _rollout(self, prompt_indices: list[int], score: bool = True) -> dict[str, Any]:
        from vdbench.training.distributed import weights_are_sharded

        cfg = self.config
        prompt_rows = [self.prompt_ids[i] for i in prompt_indices]
        prompt_ids, prompt_mask = left_pad(prompt_rows, self.pad_id)
        prompt_ids, prompt_mask = prompt_ids.to(self.device), prompt_mask.to(self.device)
        policy = self.policy
        sequences = policy.generate(
            input_ids=prompt_ids, attention_mask=prompt_mask, max_new_tokens=cfg.response_length,
            do_sample=True, temperature=cfg.rollout_temperature, top_k=0, top_p=1.0,
            pad_token_id=self.pad_id, eos_token_id=self.stop_ids or None, use_cache=True,
            synced_gpus=weights_are_sharded(),
        )
        p = prompt_ids.shape[1]
        responses = sequences[:, p:]
        if responses.shape[1] == 0:  # nothing generated: keep one pad so shapes stay valid
            responses = torch.full((len(prompt_rows), 1), self.pad_id, device=self.device)
        mask = ppo_core.response_mask(responses, self.stop_ids)
        responses = torch.where(mask.bool(), responses, torch.full_like(responses, self.pad_id))
        ended = torch.zeros(len(prompt_rows), dtype=torch.bool, device=self.device)
        for stop in self.stop_ids:
            ended |= ((responses == stop) & mask.bool()).any(1)
        input_ids = torch.cat([prompt_ids, responses], 1)
        attention_mask = torch.cat([prompt_mask, mask], 1)
        position_ids = _positions(attention_mask)

        logits, values = self.model(input_ids, attention_mask, position_ids)
        logprobs = ppo_core.token_logprobs(logits[:, p - 1:-1], responses, cfg.rollout_temperature)
        values = values[:, p - 1:-1] * mask
        ref_logits = self.ref_policy(input_ids=input_ids, attention_mask=attention_mask,
                                     position_ids=position_ids, use_cache=False).logits
        ref_logprobs = ppo_core.token_logprobs(ref_logits[:, p - 1:-1], responses, cfg.rollout_temperature)
        batch: dict[str, Any] = dict(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
            responses=responses, mask=mask, prompt_len=p, logprobs=logprobs * mask,
            ref_logprobs=ref_logprobs * mask, values=values, ended=ended,
        )
        if score:
            batch["scores"] = self._score(prompt_rows, responses, mask, input_ids, attention_mask,
                                          position_ids, ended)
        return batch

    def _score(self, prompt_rows, responses, mask, input_ids, attention_mask, position_ids, ended):
        if self.reward_fn is not None:
            response_rows = [r[: int(m.sum())].tolist() for r, m in zip(responses, mask, strict=True)]
            scores = torch.tensor([float(s) for s in self.reward_fn(prompt_rows, response_rows)],
                                  device=self.device)
        else:
            assert self.reward_model is not None
            scores = self.reward_model(input_ids=input_ids, attention_mask=attention_mask,
                                       position_ids=position_ids).logits[:, 0].float()
        if self.config.missing_eos_penalty is not None:
            scores = torch.where(ended, scores, scores - self.config.missing_eos_penalty)
        return scores
