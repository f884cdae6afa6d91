"""DPO stage: TRL's DPOTrainer (sigmoid loss, β exposed) against a frozen reference copy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vdbench.training.common import training_args_kwargs
from vdbench.training.config import DPOHParams


def build_dpo_trainer(model, tokenizer, train_dataset, hp: DPOHParams, output_dir: Path,
                      callbacks=(), ref_model=None, report_to: Sequence[str] = (),
                      run_name: str | None = None):
    """A DPOTrainer; with `ref_model=None` TRL uses a frozen copy of the starting policy."""
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        **training_args_kwargs(hp, output_dir, report_to=report_to, run_name=run_name),
        beta=hp.beta,
        loss_type=["sigmoid"],
        max_length=hp.max_length,
    )
    return DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=train_dataset,
                      processing_class=tokenizer, callbacks=list(callbacks))
