"""Batched sampling with left padding, and the output health of every sample.

Prompts are rendered with the tokenizer's chat template (generation prompt added), each
is repeated K times, the (prompt, sample) items are sorted by prompt length so a batch
pads little, and each batch is one `generate` call with left padding. Under many
processes the items are sharded across ranks; with `synced_gpus` (ZeRO-3 / FSDP) every
rank runs the same number of `generate` calls, padding its shard with repeats whose
results are dropped, so no rank waits on a collective the others never reach.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vdbench.health import classify_health
from vdbench.store import stable_id

Prompt = str | Sequence[dict[str, str]]


@contextlib.contextmanager
def forked_rng(seed: int) -> Iterator[None]:
    """Run the block with all RNGs seeded from `seed`; restore every RNG state afterwards.

    Covers python `random`, numpy's global RNG, torch's CPU generator and the current
    CUDA device's generator.
    """
    import numpy as np
    import torch

    py_state = random.getstate()
    np_state = np.random.get_state()
    cpu_state = torch.random.get_rng_state()
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    cuda_state = torch.cuda.get_rng_state() if cuda else None
    try:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.random.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.manual_seed(seed)  # current device only, like the state saved above
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.random.set_rng_state(cpu_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state(cuda_state)


def step_seed(seed: int, run_id: str, step: int) -> int:
    """A per-checkpoint sampling seed: reproducible, different at every step."""
    return stable_id("drift-seed", seed, run_id, step) & 0x7FFFFFFF


@dataclass(frozen=True)
class GenerationSettings:
    """How to sample. temperature 0 means greedy (every sample identical).

    top_k is disabled (0) so a model's own generation_config cannot silently truncate
    the distribution the protocol specifies.
    """

    samples_per_prompt: int = 5
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 256
    batch_size: int = 64
    seed: int = 0


@dataclass(frozen=True)
class Generation:
    """One sampled response. `n_tokens` counts generated tokens (end-of-sequence included);
    `hit_limit` is True when it stopped at max_new_tokens without ending."""

    prompt_index: int
    sample_idx: int
    text: str
    n_tokens: int
    hit_limit: bool
    health: str


def render_prompt(tokenizer, prompt: Prompt) -> list[int]:
    """Token ids of a prompt through the chat template, ready for the assistant's answer.

    A string is one user turn. The rendered text is tokenized without extra special
    tokens: templates that want a BOS write it themselves.
    """
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    text = "\n".join(m["content"] for m in messages)
    return list(tokenizer(text)["input_ids"])


def stop_token_ids(model, tokenizer) -> list[int]:
    """End-of-sequence ids from the tokenizer and the model's generation config."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(gen_eos, int):
        ids.add(gen_eos)
    elif gen_eos:
        ids.update(int(i) for i in gen_eos)
    return sorted(ids)


def left_pad(rows: Sequence[Sequence[int]], pad_id: int):
    """(input_ids, attention_mask) tensors, padded on the left to the longest row."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
    return ids, mask


def _model_device(model):
    try:
        return next(model.parameters()).device
    except StopIteration:  # a parameter-less wrapper; generate will place inputs itself
        return None


def _split_at_stop(tokens: list[int], stops: set[int], pad_id: int | None) -> tuple[list[int], int, bool]:
    """(answer tokens, generated count incl. the stop token, hit the limit)."""
    for i, tok in enumerate(tokens):
        if tok in stops:
            return tokens[:i], i + 1, False
    # No stop token: the row ran to the end of the batch, i.e. to max_new_tokens.
    kept = [t for t in tokens if t != pad_id] if pad_id is not None and pad_id not in stops else tokens
    return kept, len(kept), True


def generate_items(
    model, tokenizer, prompt_ids: Sequence[Sequence[int]], items: Sequence[tuple[int, int]],
    settings: GenerationSettings, *, synced_gpus: bool = False, n_batches: int | None = None,
    device=None,
) -> list[Generation]:
    """Generate one response per (prompt_index, sample_idx) item, `batch_size` per call.

    `n_batches` forces that many `generate` calls (repeating the last item as filler,
    results dropped), so ranks under `synced_gpus` stay in lockstep.
    """
    import torch

    order = sorted(range(len(items)), key=lambda i: -len(prompt_ids[items[i][0]]))
    batches = [order[i:i + settings.batch_size] for i in range(0, len(order), settings.batch_size)]
    if n_batches is not None:
        filler = [order[-1]] if order else []
        while len(batches) < n_batches:
            batches.append(filler)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stops = stop_token_ids(model, tokenizer)
    device = device or _model_device(model)
    sampling = settings.temperature > 0
    out: list[Generation] = []
    was_training = model.training
    model.eval()
    try:
        for batch_no, batch in enumerate(batches):
            rows = [prompt_ids[items[i][0]] for i in batch] if batch else [prompt_ids[0] if prompt_ids else [pad_id]]
            input_ids, attention_mask = left_pad(rows, pad_id)
            if device is not None:
                input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
            kwargs: dict[str, Any] = dict(
                max_new_tokens=settings.max_new_tokens, do_sample=sampling,
                pad_token_id=pad_id, eos_token_id=stops or None, use_cache=True,
                synced_gpus=synced_gpus,
            )
            if sampling:
                kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
            with torch.no_grad():
                sequences = model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            new = sequences[:, input_ids.shape[1]:].tolist()
            is_filler = n_batches is not None and batch_no >= math.ceil(len(order) / settings.batch_size)
            if is_filler or not batch:
                continue
            stop_set = set(stops)
            for row, index in zip(new, batch, strict=True):
                answer, n_tokens, hit_limit = _split_at_stop(row, stop_set, pad_id)
                text = tokenizer.decode(answer, skip_special_tokens=True).strip()
                prompt_index, sample_idx = items[index]
                out.append(Generation(prompt_index, sample_idx, text, n_tokens, hit_limit,
                                      classify_health(text, hit_limit)))
    finally:
        model.train(was_training)
    out.sort(key=lambda g: (g.prompt_index, g.sample_idx))
    return out


def sample_prompts(
    model, tokenizer, prompts: Sequence[Prompt], settings: GenerationSettings, *,
    rank: int = 0, world_size: int = 1, synced_gpus: bool = False, device=None,
) -> list[Generation]:
    """This rank's share of K samples for every prompt (all of them when world_size is 1).

    Items are dealt round-robin to ranks; the union over ranks is every (prompt, sample)
    exactly once. The tokenizer's padding side is left untouched (we pad ourselves).
    """
    prompt_ids = [render_prompt(tokenizer, p) for p in prompts]
    items = [(p, k) for p in range(len(prompts)) for k in range(settings.samples_per_prompt)]
    mine = items[rank::world_size]
    n_batches = None
    if synced_gpus and world_size > 1:
        per_rank = math.ceil(len(items) / world_size)
        n_batches = math.ceil(per_rank / settings.batch_size)
    return generate_items(model, tokenizer, prompt_ids, mine, settings,
                          synced_gpus=synced_gpus, n_batches=n_batches, device=device)


def sample_prompts_one_by_one(model, tokenizer, prompts: Sequence[Prompt],
                              settings: GenerationSettings, device=None) -> list[Generation]:
    """The naive baseline: one `generate` call per prompt (its K samples together).

    Kept for the benchmark that measures what batching across prompts buys.
    """
    prompt_ids = [render_prompt(tokenizer, p) for p in prompts]
    single = GenerationSettings(**{**settings.__dict__, "batch_size": settings.samples_per_prompt})
    out: list[Generation] = []
    for p in range(len(prompts)):
        items = [(p, k) for k in range(settings.samples_per_prompt)]
        out.extend(generate_items(model, tokenizer, prompt_ids, items, single, device=device))
    return out
