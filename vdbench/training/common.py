"""TrainingArguments shared by the TRL-based stages (SFT, DPO, SimPO, reward model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vdbench.training.config import StageHParams


def use_bf16(requested: bool | None) -> bool:
    """bf16 mixed precision: as requested, else on where a CUDA device supports it."""
    if requested is not None:
        return requested
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def training_args_kwargs(hp: StageHParams, output_dir: Path, *, save_steps: list[int] | None = None,
                         ddp_timeout_s: int = 7200, report_to: Sequence[str] = (),
                         run_name: str | None = None) -> dict[str, Any]:
    """Keyword arguments for a TRL XConfig from our hyper-parameters.

    Saving is driven by DriftCallback (save at sampled steps) or by the caller's final
    save, so the Trainer's own step-interval saving is off. `ddp_timeout_s` must exceed
    the time rank 0 spends sampling and judging one checkpoint while the others wait.
    `report_to`: transformers tracker integrations (none by default); `run_name` names
    the run there.
    """
    import torch

    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        learning_rate=hp.learning_rate,
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps if hp.max_steps else -1,
        per_device_train_batch_size=hp.batch_size,
        gradient_accumulation_steps=hp.grad_accum,
        warmup_steps=hp.warmup_ratio,  # a float < 1 is a ratio of the total steps
        lr_scheduler_type=hp.lr_scheduler,
        weight_decay=hp.weight_decay,
        max_grad_norm=hp.max_grad_norm,
        seed=hp.seed,
        data_seed=hp.seed,
        bf16=use_bf16(hp.bf16),
        activation_checkpointing=hp.gradient_checkpointing,
        logging_steps=1,
        save_strategy="no",
        report_to=list(report_to) or "none",
        run_name=run_name,
        disable_tqdm=True,
        dataloader_num_workers=0,
        ddp_timeout=ddp_timeout_s,
        use_cpu=not torch.cuda.is_available(),
    )
    return kwargs
