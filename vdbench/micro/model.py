"""The micro causal LM: a tiny Llama, its pre-training loop and a batched sampler.

Pre-training is a plain torch loop over chat-rendered rows, AdamW with linear warm-up
and cosine decay. By default the loss covers answer tokens only: with two layers the
model has no capacity to spare on modelling the prompts, and answer-only loss clearly
reduced off-topic answers to unseen questions. CPU-only by design; callers pin torch
threads (see `pinned_threads`).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from vdbench.progress import ProgressFn


@dataclass(frozen=True)
class MicroModelConfig:
    """Shape of the micro Llama. Defaults give ~0.55M parameters with a 1000-token vocab."""

    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    max_position_embeddings: int = 256

    def to_llama_config(self, tokenizer: PreTrainedTokenizerBase) -> LlamaConfig:
        return LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_attention_heads,
            max_position_embeddings=self.max_position_embeddings,
            tie_word_embeddings=True,
            rms_norm_eps=1e-5,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )


@dataclass(frozen=True)
class PretrainConfig:
    """Pre-training hyper-parameters. `steps` optimiser steps of `batch_size` rows."""

    steps: int = 600
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    log_every: int = 20
    prompt_loss: bool = True  # False: loss on the answer tokens only


@dataclass
class PretrainResult:
    """What pre-training did: loss curve as (step, mean loss since last log), timing.

    `seconds` is wall time; `cpu_seconds` is this process's CPU time, the fairer number
    on a shared machine.
    """

    steps: int
    seconds: float
    cpu_seconds: float
    final_loss: float
    loss_curve: list[tuple[int, float]] = field(default_factory=list)


@contextlib.contextmanager
def pinned_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with torch using `num_threads` intra-op threads (None: leave as is).

    Tiny models on 2 cores slow down sharply when threads contend, so builds pin them.
    """
    if num_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def render_training_sequences(
    tokenizer: PreTrainedTokenizerBase, conversations: Sequence[Sequence[dict]]
) -> list[tuple[list[int], int]]:
    """(token ids, index where the last assistant turn starts) per user/assistant pair.

    The input format `pretrain` takes; tokenises in one batch.
    """
    full = [tokenizer.apply_chat_template(list(c), tokenize=False) for c in conversations]
    prompts = [
        tokenizer.apply_chat_template(list(c[:-1]), tokenize=False, add_generation_prompt=True)
        for c in conversations
    ]
    full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    return [(ids, len(prefix)) for ids, prefix in zip(full_ids, prompt_ids, strict=True)]


def _lr_factor(step: int, config: PretrainConfig) -> float:
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine


def pretrain(
    model: LlamaForCausalLM,
    sequences: Sequence[tuple[list[int], int]],
    pad_token_id: int,
    config: PretrainConfig,
    seed: int,
    progress: ProgressFn | None = None,
) -> PretrainResult:
    """Train `model` in place on `sequences` of (token ids, index where the answer starts).

    Next-token loss on every real token, or on answer tokens only when
    `config.prompt_loss` is False.
    Batches are drawn from a seeded shuffle, epoch after epoch, so a seed fixes the run.
    `progress("pre-train", step, steps)` is called every few steps.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
        betas=(0.9, 0.95),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))

    def batches() -> Iterator[list[int]]:
        while True:
            order = torch.randperm(len(sequences), generator=generator).tolist()
            for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
                yield order[start : start + config.batch_size]

    started, cpu_started = time.perf_counter(), time.process_time()
    curve: list[tuple[int, float]] = []
    window: list[float] = []
    last = float("nan")
    batch_iter = batches()
    for step in range(config.steps):
        rows = [sequences[i] for i in next(batch_iter)]
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        for i, (ids, answer_start) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention[i, : len(ids)] = 1
            first = 0 if config.prompt_loss else answer_start
            labels[i, first : len(ids)] = input_ids[i, first : len(ids)]
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        last = loss.item()
        window.append(last)
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            curve.append((step + 1, sum(window) / len(window)))
            window = []
        if progress is not None and ((step + 1) % 10 == 0 or step + 1 == config.steps):
            progress("pre-train", step + 1, config.steps)
    model.eval()
    final = curve[-1][1] if curve else last
    return PretrainResult(
        steps=config.steps,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        final_loss=final,
        loss_curve=curve,
    )


@torch.no_grad()
def generate_answers(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    *,
    max_new_tokens: int = 48,
    temperature: float = 0.7,
    batch_size: int = 64,
    seed: int = 0,
) -> list[str]:
    """One sampled answer per question: chat template, left padding, batched.

    `temperature` 0 means greedy. Answers are decoded without special tokens and
    stripped; an answer that hits `max_new_tokens` is returned as cut.
    """
    device = next(model.parameters()).device
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    torch.manual_seed(seed)
    random.seed(seed)
    was_training = model.training
    model.eval()
    answers: list[str] = []
    try:
        for start in range(0, len(questions), batch_size):
            chunk = questions[start : start + batch_size]
            texts = [
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
                )
                for q in chunk
            ]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(device) for k, v in enc.items()}
            sampling = (
                {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
                if temperature > 0
                else {"do_sample": False}
            )
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            answers += [
                text.strip()
                for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            ]
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return answers
