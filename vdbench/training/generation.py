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

    Sampling is temperature + top-p only (see SeededSampler): a model's own
    generation_config (top_k, its temperature) cannot silently change the distribution
    the protocol specifies. `seed` seeds the sampler's private generator.
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


class SeededSampler:
    """Temperature / top-p sampling as the last logits processor, with its own generator.

    It picks one token per row by inverse-CDF sampling (one uniform draw per row) and
    returns logits that are −inf everywhere else, so `generate` runs greedy
    (`do_sample=False`) and takes exactly that token. Compared with `generate`'s own
    sampler this draws B numbers per step instead of B × vocab (faster on CPU), and it
    never touches the global RNG: the same seed and batch give the same samples.
    Processors that run before it (min length, the model's bad-word lists, ...) apply.
    """

    def __init__(self, temperature: float, top_p: float = 1.0, seed: int = 0):
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self._generator = None

    def _rng(self, device):
        import torch

        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1).nan_to_num(0.0)
        order = None
        if self.top_p < 1.0:
            probs, order = probs.sort(dim=-1, descending=True)
            keep = (probs.cumsum(-1) - probs) < self.top_p  # the top token is always kept
            probs = probs * keep
        cdf = probs.cumsum(-1)
        total = cdf[:, -1:]
        draw = torch.rand((scores.shape[0], 1), generator=self._rng(scores.device), device=scores.device)
        picked = torch.searchsorted(cdf, draw * total).clamp(max=scores.shape[-1] - 1)
        if order is not None:
            picked = order.gather(-1, picked)
        dead = total.squeeze(-1) <= 0  # every token masked: fall back to the best score
        if dead.any():
            picked[dead] = scores[dead].argmax(-1, keepdim=True)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, picked, 0.0)


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


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, width: int | None = None):
    """(input_ids, attention_mask) tensors, padded on the left to `width` (default: the
    longest row)."""
    import torch

    width = width or max(len(r) for r in rows)
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


def _prefill_shared_prompts(model, rows: list[list[int]], keys: list[int], pad_id: int, device):
    """A KV cache of each distinct prompt in the batch (all but its last token), expanded
    to the batch's rows: K samples of one prompt pay for its prefill once."""
    import torch

    distinct = list(dict.fromkeys(keys))
    where = {key: i for i, key in enumerate(distinct)}
    width = max(len(r) for r in rows)
    first = {key: row for key, row in zip(keys, rows, strict=True)}
    ids, mask = left_pad([first[k] for k in distinct], pad_id, width)
    if device is not None:
        ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                use_cache=True)
    cache = out.past_key_values
    cache.reorder_cache(torch.tensor([where[k] for k in keys], device=ids.device))
    return cache


def generate_items(
    model, tokenizer, prompt_ids: Sequence[Sequence[int]], items: Sequence[tuple[int, int]],
    settings: GenerationSettings, *, synced_gpus: bool = False, n_batches: int | None = None,
    device=None, share_prefix: bool = True,
) -> list[Generation]:
    """Generate one response per (prompt_index, sample_idx) item, `batch_size` per call.

    Items are sorted by prompt length (little padding) with a prompt's samples kept
    together; with `share_prefix` each distinct prompt of a batch is prefilled once and
    its KV cache shared by its samples. `n_batches` forces that many `generate` calls
    (repeating an item as filler, results dropped), so ranks under `synced_gpus` stay in
    lockstep: every batch then makes the same calls (one prefill, one generate).
    """
    import torch
    from transformers import LogitsProcessorList

    order = sorted(range(len(items)), key=lambda i: (-len(prompt_ids[items[i][0]]), items[i]))
    batches = [order[i:i + settings.batch_size] for i in range(0, len(order), settings.batch_size)]
    real_batches = len(batches)
    if n_batches is not None:
        while len(batches) < n_batches:
            batches.append(order[-1:])  # empty when this rank has no items
    # Decided from the prompts alone, so every rank decides the same way.
    share_prefix = share_prefix and bool(prompt_ids) and min(len(r) for r in prompt_ids) >= 2
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stops = stop_token_ids(model, tokenizer)
    stop_set = set(stops)
    device = device or _model_device(model)
    sampler = SeededSampler(settings.temperature, settings.top_p, settings.seed) if settings.temperature > 0 else None
    out: list[Generation] = []
    was_training = model.training
    model.eval()
    try:
        for batch_no, batch in enumerate(batches):
            keys = [items[i][0] for i in batch] or [0]
            rows = [list(prompt_ids[k]) for k in keys]
            input_ids, attention_mask = left_pad(rows, pad_id)
            if device is not None:
                input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
            kwargs: dict[str, Any] = dict(
                max_new_tokens=settings.max_new_tokens, do_sample=False,
                pad_token_id=pad_id, eos_token_id=stops or None, use_cache=True,
                synced_gpus=synced_gpus,
                # The model's own sampling defaults must not stack on ours.
                temperature=None, top_p=None, top_k=None,
            )
            if sampler is not None:
                kwargs["logits_processor"] = LogitsProcessorList([sampler])
            with torch.no_grad():
                if share_prefix:
                    kwargs["cache"] = _prefill_shared_prompts(model, rows, keys, pad_id, device)
                sequences = model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            if batch_no >= real_batches or not batch:
                continue  # filler
            new = sequences[:, input_ids.shape[1]:].tolist()
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

    Ranks take contiguous, near-equal slices of the (prompt, sample) items, so a prompt's
    samples mostly stay together (one prefill); the union over ranks is every item
    exactly once. The tokenizer's padding side is left untouched (we pad ourselves).
    """
    prompt_ids = [render_prompt(tokenizer, p) for p in prompts]
    items = [(p, k) for p in range(len(prompts)) for k in range(settings.samples_per_prompt)]
    per_rank = math.ceil(len(items) / world_size)
    mine = items[rank * per_rank:(rank + 1) * per_rank]
    n_batches = None
    if synced_gpus and world_size > 1:
        n_batches = math.ceil(per_rank / settings.batch_size)
    return generate_items(model, tokenizer, prompt_ids, mine, settings,
                          synced_gpus=synced_gpus, n_batches=n_batches, device=device)


def sample_prompts_one_by_one(model, tokenizer, prompts: Sequence[Prompt],
                              settings: GenerationSettings, device=None) -> list[Generation]:
    """The naive baseline: one `generate` call per prompt, its K samples drawn by
    `generate`'s own sampler (`do_sample=True`; the prompt repeated K times).

    Kept for the benchmark that measures what our batched sampler buys, and as an
    independent reference in tests (greedy outputs must agree).
    """
    import torch

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stops = stop_token_ids(model, tokenizer)
    device = device or _model_device(model)
    sampling = settings.temperature > 0
    out: list[Generation] = []
    model.eval()
    for index, prompt in enumerate(prompts):
        ids = torch.tensor([render_prompt(tokenizer, prompt)] * settings.samples_per_prompt, device=device)
        kwargs: dict[str, Any] = dict(max_new_tokens=settings.max_new_tokens, do_sample=sampling,
                                      pad_token_id=pad_id, eos_token_id=stops or None)
        if sampling:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
        with torch.no_grad():
            sequences = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        for k, row in enumerate(sequences[:, ids.shape[1]:].tolist()):
            answer, n_tokens, hit_limit = _split_at_stop(row, set(stops), pad_id)
            text = tokenizer.decode(answer, skip_special_tokens=True).strip()
            out.append(Generation(index, k, text, n_tokens, hit_limit, classify_health(text, hit_limit)))
    return out
