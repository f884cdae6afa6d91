"""SimPO stage: TRL's experimental CPOTrainer with loss_type="simpo" and cpo_alpha=0.

SimPO needs no reference model: its reward is the length-normalised log-probability
scaled by β, with a target margin γ between chosen and rejected.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from vdbench.training.common import training_args_kwargs
from vdbench.training.config import SimPOHParams


def build_simpo_trainer(model, tokenizer, train_dataset, hp: SimPOHParams, output_dir: Path,
                        callbacks=(), report_to: Sequence[str] = (),
                        run_name: str | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the experimental-module import warning
        from trl.experimental.cpo import CPOConfig, CPOTrainer

    args = CPOConfig(
        **training_args_kwargs(hp, output_dir, report_to=report_to, run_name=run_name),
        loss_type="simpo",
        cpo_alpha=0.0,
        beta=hp.beta,
        simpo_gamma=hp.gamma,
        max_length=hp.max_length,
        remove_unused_columns=False,  # CPO's collator needs the raw prompt/chosen/rejected columns
    )
    return CPOTrainer(model=model, args=args, train_dataset=train_dataset,
                      processing_class=tokenizer, callbacks=list(callbacks))
