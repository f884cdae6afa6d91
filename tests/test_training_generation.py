"""Batched, left-padded sampling gives what one-prompt-at-a-time sampling gives."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures.training import QUESTIONS, TOPIC_WORDS
from vdbench.training.generation import (
    GenerationSettings,
    forked_rng,
    render_prompt,
    sample_prompts,
    sample_prompts_one_by_one,
)
from vdbench.training.models import load_model_and_tokenizer

PROMPTS = [QUESTIONS[i % 4].format(w=w) + " " * (i % 3) + "Why?" * (i % 2)
           for i, w in enumerate(list(TOPIC_WORDS.values()) * 2)]


@pytest.fixture(scope="module")
def tiny(tiny_world):
    torch.set_num_threads(1)
    return load_model_and_tokenizer(tiny_world.model)


def test_left_padded_batches_match_unbatched_greedy_generation(tiny):
    model, tok = tiny
    assert len({len(render_prompt(tok, p)) for p in PROMPTS}) > 1  # padding really happens
    greedy = GenerationSettings(samples_per_prompt=2, temperature=0.0, max_new_tokens=6, batch_size=8)
    batched = sample_prompts(model, tok, PROMPTS, greedy)
    single = sample_prompts_one_by_one(model, tok, PROMPTS, greedy)
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.n_tokens for g in batched] == [g.n_tokens for g in single]


def test_every_sample_has_tokens_limit_flag_and_health(tiny):
    model, tok = tiny
    settings = GenerationSettings(samples_per_prompt=3, temperature=0.7, max_new_tokens=5, batch_size=7)
    out = sample_prompts(model, tok, PROMPTS[:4], settings)
    assert [(g.prompt_index, g.sample_idx) for g in out] == [(p, k) for p in range(4) for k in range(3)]
    for g in out:
        assert 1 <= g.n_tokens <= 5
        if g.hit_limit:
            assert g.n_tokens == 5
        assert g.health in {"ok", "empty", "truncated", "repetitive", "degenerate"}
    # A random tiny model rarely emits </s> within 5 tokens: most samples hit the limit.
    assert sum(g.hit_limit for g in out) >= len(out) // 2
    assert all(g.health != "ok" for g in out if g.hit_limit)


def test_shards_across_ranks_cover_every_item_exactly_once(tiny):
    model, tok = tiny
    settings = GenerationSettings(samples_per_prompt=3, temperature=0.7, max_new_tokens=3, batch_size=4)
    parts = [sample_prompts(model, tok, PROMPTS[:5], settings, rank=r, world_size=2, synced_gpus=False)
             for r in range(2)]
    items = sorted((g.prompt_index, g.sample_idx) for part in parts for g in part)
    assert items == [(p, k) for p in range(5) for k in range(3)]


def test_synced_generation_pads_ranks_to_the_same_number_of_calls(tiny, monkeypatch):
    model, tok = tiny
    calls = []
    original = model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        kwargs["synced_gpus"] = False  # no process group here; we only count the calls
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "generate", counting)
    settings = GenerationSettings(samples_per_prompt=1, temperature=0.7, max_new_tokens=2, batch_size=2)
    per_rank = []
    for rank in range(3):
        calls.clear()
        out = sample_prompts(model, tok, PROMPTS[:4], settings, rank=rank, world_size=3, synced_gpus=True)
        per_rank.append((len(calls), len(out)))
    # 4 items over 3 ranks: 2, 2 and 0 items, but every rank makes the same single call.
    assert per_rank == [(1, 2), (1, 2), (1, 0)]


def test_forked_rng_leaves_the_global_generators_untouched():
    import random

    import numpy as np

    torch.manual_seed(1)
    random.seed(1)
    np.random.seed(1)
    expected = (torch.rand(3).tolist(), random.random(), np.random.rand())
    torch.manual_seed(1)
    random.seed(1)
    np.random.seed(1)
    with forked_rng(1234):
        torch.rand(100)
        random.random()
        np.random.rand(10)
    assert (torch.rand(3).tolist(), random.random(), np.random.rand()) == expected
