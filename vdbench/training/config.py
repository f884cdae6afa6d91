"""Hyper-parameters of each training stage and of drift capture, with documented defaults.

Defaults follow common practice for the paper's setting (Llama-3/Qwen-class models of a
few billion parameters, full fine-tuning); the paper does not list every value, so each
field says where its default comes from. The micro world needs far larger learning rates
(it has ~0.6M parameters): pass them on the command line, as `vdbench demo` does.

Every dataclass here is plain data: `asdict()` of it is what `runs.hparams` records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ALGORITHMS = ("sft", "dpo", "simpo", "ppo")


@dataclass
class DriftConfig:
    """What the drift callback samples, and when.

    `every`: sample every N optimiser steps (None: about 10 evenly spaced checkpoints).
    `eval_steps`: extra explicit steps (e.g. a dense early schedule 0,5,10,20,40); both
    schedules are merged, and step 0 and the last step are always included.
    Paper defaults: 5 samples per prompt, temperature 0.7, at most 256 new tokens.
    `batch_size` counts sequences per `generate` call (prompts × samples, left-padded).
    """

    eval_set: str = "vprism"
    every: int | None = None
    eval_steps: tuple[int, ...] = ()
    samples_per_prompt: int = 5
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 256
    batch_size: int = 64
    seed: int = 0
    sync_generate: bool | None = None  # None: on when ZeRO-3 / FSDP shard the weights
    # Capability beside values (vdbench.capability): TASKS entries scored at every sampled
    # checkpoint (micro, lm-eval task names, local task YAMLs); documents per task; batch.
    capability: tuple[str, ...] = ()
    capability_limit: int | None = 200
    capability_batch_size: int = 32

    def generation_settings(self, seed: int):
        """The sampler's settings for one process (`seed` already includes the rank)."""
        from vdbench.training.generation import GenerationSettings

        return GenerationSettings(
            samples_per_prompt=self.samples_per_prompt, temperature=self.temperature,
            top_p=self.top_p, max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
            seed=seed,
        )

    def gen_settings(self) -> dict[str, Any]:
        """What a sample row records about how it was generated."""
        return {
            "samples_per_prompt": self.samples_per_prompt,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        }


@dataclass
class StageHParams:
    """Options every TRL-based stage shares (fields map 1:1 onto TrainingArguments).

    `epochs` is ignored when `max_steps` is set. `bf16=None` means: on when a CUDA device
    supports it, off on CPU. `batch_size` is per device; the effective batch is
    batch_size × grad_accum × number of processes.
    """

    learning_rate: float = 2e-5
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 8
    grad_accum: int = 1
    warmup_ratio: float = 0.03
    lr_scheduler: str = "linear"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 1024
    seed: int = 0
    bf16: bool | None = None
    gradient_checkpointing: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SFTHParams(StageHParams):
    """SFT (TRL SFTTrainer, loss on assistant turns only).

    Defaults: lr 2e-5, 1 epoch, linear decay with 3% warm-up — the usual full fine-tuning
    recipe for 1–8B chat models (e.g. Tulu/Alpaca-style SFT).
    """

    assistant_only_loss: bool = True


@dataclass
class DPOHParams(StageHParams):
    """DPO (TRL DPOTrainer, sigmoid loss). Defaults: β = 0.1 and lr 5e-7, as in the DPO
    paper's and Zephyr's recipes for full fine-tuning."""

    learning_rate: float = 5e-7
    beta: float = 0.1


@dataclass
class SimPOHParams(StageHParams):
    """SimPO (TRL CPOTrainer with loss_type="simpo", cpo_alpha=0: no reference model,
    length-normalised reward). Defaults follow the SimPO paper's Llama-3 setting:
    β = 2.0, target margin γ = 1.0 (γ/β = 0.5), lr 5e-7."""

    learning_rate: float = 5e-7
    beta: float = 2.0
    gamma: float = 1.0


@dataclass
class RewardHParams:
    """The PPO reward model: TRL RewardTrainer (Bradley–Terry) on the preference data.

    `graded`: when pairs carry stances (chosen_stance/rejected_stance) or scores
    (score_chosen/score_rejected), train on graded preferences — margins by grade
    difference plus the pairs the grades imply (e.g. neutral over oppose on
    support-gap data), so the model learns support > neutral > oppose rather than only
    "not oppose". `margin_unit` scales a one-grade gap into the Bradley–Terry margin.
    """

    learning_rate: float = 1e-5
    epochs: float = 1.0
    batch_size: int = 8
    max_length: int = 1024
    graded: bool = True
    margin_unit: float = 0.5


@dataclass
class PPOHParams:
    """Our PPO (clipped policy and value losses, GAE, per-token KL penalty to the frozen
    reference). Defaults follow the common RLHF PPO recipe ("N implementation details of
    RLHF with PPO"; TRL's former PPOTrainer): kl_coef 0.05, clip 0.2, value clip 0.2,
    vf_coef 0.1, γ = 1, λ = 0.95, 4 PPO epochs per rollout batch, lr 1e-6.

    One optimiser *step* of the drift schedule is one rollout batch (its PPO epochs
    included). Rollouts sample at temperature 1.0 so the behaviour policy is the policy.
    `missing_eos_penalty` is subtracted from the score of a response that never ended.
    """

    learning_rate: float = 1e-6
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 16  # prompts per rollout batch, per process
    mini_batches: int = 2
    ppo_epochs: int = 4
    response_length: int = 128
    rollout_temperature: float = 1.0
    kl_coef: float = 0.05
    clip_range: float = 0.2
    clip_range_value: float = 0.2
    vf_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    whiten_advantages: bool = True
    missing_eos_penalty: float | None = None
    max_grad_norm: float = 1.0
    seed: int = 0
    reward: RewardHParams = field(default_factory=RewardHParams)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


HPARAMS_BY_ALGORITHM: dict[str, type] = {
    "sft": SFTHParams,
    "dpo": DPOHParams,
    "simpo": SimPOHParams,
    "ppo": PPOHParams,
}

STAGE_BY_ALGORITHM = {"sft": "sft", "dpo": "preference", "simpo": "preference", "ppo": "preference"}


@dataclass
class TrainRequest:
    """Everything `vdbench train ALGO` was asked to do."""

    algorithm: str
    data: Path
    db: Path
    run: str
    hparams: StageHParams | PPOHParams
    drift: DriftConfig = field(default_factory=DriftConfig)
    model: Path | None = None  # None: the parent checkpoint's recorded path
    parent: str | None = None  # RUN or RUN:STEP
    output_dir: Path | None = None  # None: ./vdbench-runs/RUN
    judge: str | None = None
    trust_remote_code: bool = False
    dtype: str | None = None
    save_checkpoints: bool = False
    inline_sampling: bool = True  # False: save checkpoints only; `vdbench sample --watch` samples
    reward_model: Path | None = None  # PPO: an existing reward model instead of training one
    quiet: bool = False
    report_to: tuple[str, ...] = ()  # transformers tracker integrations (tensorboard, wandb, …)
    logging_dir: Path | None = None  # TensorBoard event files (None: OUTPUT_DIR/runs)
    drift_budget: dict[str, float] = field(default_factory=dict)  # stance → max |M|
    stop_on_budget: bool = False
