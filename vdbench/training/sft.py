"""SFT stage: TRL's SFTTrainer on conversational `messages`, loss on assistant turns only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vdbench.training.common import training_args_kwargs
from vdbench.training.config import SFTHParams


def build_sft_trainer(model, tokenizer, train_dataset, hp: SFTHParams, output_dir: Path,
                      callbacks=(), report_to: Sequence[str] = (), run_name: str | None = None):
    """An SFTTrainer without packing (the step count stays predictable for the schedule).

    With `assistant_only_loss`, TRL needs `{% generation %}` markers in the chat template;
    TRL patches known templates itself, and vdbench's fallback template carries them.
    """
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **training_args_kwargs(hp, output_dir, report_to=report_to, run_name=run_name),
        assistant_only_loss=hp.assistant_only_loss,
        max_length=hp.max_length,
        packing=False,
        dataset_num_proc=None,
    )
    return SFTTrainer(model=model, args=args, train_dataset=train_dataset,
                      processing_class=tokenizer, callbacks=list(callbacks))
