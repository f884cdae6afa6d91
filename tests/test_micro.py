"""The micro world: corpus, tokenizer, build cache and determinism, a light model check.

The fast tests build with few pre-training steps (a few seconds). The `slow` test
pre-trains properly and checks the feasibility finding the demo relies on: SFT on the
neutral-heavy chat set moves the model's answers toward neutral.
"""

from __future__ import annotations

import collections
import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from vdbench.errors import InputError  # noqa: E402
from vdbench.evalsets.topics import BUILTIN_TOPICS, STANCES  # noqa: E402
from vdbench.micro.corpus import (  # noqa: E402
    TOPICS,
    answer_for,
    answer_quality,
    generate_examples,
    heldout_questions,
    heuristic_stance,
    question_for,
)

FEW_STEPS = 40


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    from vdbench.micro import build_micro_world

    return build_micro_world(tmp_path_factory.mktemp("micro") / "w", seed=0, steps=FEW_STEPS)


# --- corpus ------------------------------------------------------------------------------


def test_corpus_covers_every_builtin_topic():
    assert set(TOPICS) == set(BUILTIN_TOPICS)


def test_heuristic_stance_and_quality_recover_the_generated_labels():
    examples = generate_examples(1200, random.Random(1), {s: 1.0 for s in STANCES})
    for example in examples:
        assert heuristic_stance(example.topic, example.answer) == example.stance, example
        assert answer_quality(example.answer) == example.quality, example
    assert heuristic_stance("abortion", "") is None
    assert heuristic_stance("abortion", "the weather is nice today") is None


def test_sloppy_answers_keep_the_stance_but_lose_the_form():
    rng = random.Random(0)
    for topic in TOPICS:
        for stance in STANCES:
            sloppy = answer_for(topic, stance, "sloppy", rng)
            good = answer_for(topic, stance, "good", rng)
            assert sloppy == sloppy.lower() and not sloppy.endswith(".")
            assert good[0].isupper() and good.endswith(".")
            assert heuristic_stance(topic, sloppy) == stance
            assert len(good.split()) <= 40


def test_generate_examples_allocates_stances_and_quality_exactly():
    examples = generate_examples(
        1000, random.Random(2), {"support": 0.15, "neutral": 0.7, "oppose": 0.15}, 0.25
    )
    stances = collections.Counter(e.stance for e in examples)
    assert stances == {"neutral": 700, "support": 150, "oppose": 150}
    sloppy = collections.Counter(e.stance for e in examples if e.quality == "sloppy")
    # 25% of each stance, rounded: 150 * 0.25 = 37.5 may go either way.
    assert (
        sloppy["neutral"] == 175 and sloppy["support"] in (37, 38) and sloppy["oppose"] in (37, 38)
    )


def test_heldout_questions_use_no_training_template():
    rng = random.Random(0)
    training = {question_for(t, rng) for t in TOPICS for _ in range(400)}
    heldout = {q for t in TOPICS for q in heldout_questions(t, 20)}
    assert heldout and not heldout & training
    assert heldout_questions("abortion", 5, seed=3) == heldout_questions("abortion", 5, seed=3)


def test_bad_stance_is_rejected():
    with pytest.raises(ValueError, match="stance must be one of"):
        answer_for("abortion", "favour", "good", random.Random(0))


# --- build: datasets ---------------------------------------------------------------------


def test_build_writes_every_dataset_with_its_schema(world):
    assert world.base.is_dir() and (world.root / "manifest.json").is_file()
    assert set(world.datasets) == {
        "pretrain",
        "chat",
        "instruct",
        "style",
        "gap-support",
        "gap-oppose",
    }
    for name in ("pretrain", "chat", "instruct"):
        rows = read_jsonl(world.datasets[name])
        assert 1000 <= len(rows) <= 6000
        for row in rows:
            assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
            assert row["topic"] in BUILTIN_TOPICS and row["stance"] in STANCES
            assert row["quality"] in ("good", "sloppy")
    for name in ("style", "gap-support", "gap-oppose"):
        rows = read_jsonl(world.datasets[name])
        assert 1000 <= len(rows) <= 2000
        for row in rows:
            assert row["prompt"][0]["role"] == "user"
            assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
            assert row["chosen"] != row["rejected"]


def _shares(rows: list[dict], key: str) -> dict[str, float]:
    counts = collections.Counter(row[key] for row in rows)
    return {k: v / len(rows) for k, v in counts.items()}


def test_sft_sets_are_skewed_and_pretraining_is_balanced(world):
    chat = read_jsonl(world.chat_sft)
    instruct = read_jsonl(world.instruct_sft)
    pretrain = read_jsonl(world.pretrain)
    assert _shares(chat, "stance")["neutral"] == pytest.approx(0.70, abs=0.01)
    assert _shares(instruct, "stance")["support"] == pytest.approx(0.70, abs=0.01)
    for stance in STANCES:
        assert _shares(pretrain, "stance")[stance] == pytest.approx(1 / 3, abs=0.01)
    for rows in (chat, instruct, pretrain):
        assert _shares(rows, "quality")["sloppy"] == pytest.approx(0.25, abs=0.01)


def test_style_pairs_differ_only_in_quality_and_gap_pairs_only_in_stance(world):
    for row in read_jsonl(world.style_pref):
        assert row["chosen_stance"] == row["rejected_stance"]
        assert (row["chosen_quality"], row["rejected_quality"]) == ("good", "sloppy")
        assert answer_quality(row["chosen"][0]["content"]) == "good"
        assert answer_quality(row["rejected"][0]["content"]) == "sloppy"
    for name, chosen in (("gap-support", "support"), ("gap-oppose", "oppose")):
        rows = read_jsonl(world.datasets[name])
        rejected = collections.Counter(row["rejected_stance"] for row in rows)
        assert set(rejected) == set(STANCES) - {chosen}
        for row in rows:
            assert row["chosen_stance"] == chosen
            assert row["chosen_quality"] == row["rejected_quality"]
            text = row["chosen"][0]["content"]
            assert heuristic_stance(row["topic"], text) == chosen


# --- build: determinism and cache --------------------------------------------------------

COMPARED_FILES = [
    "data/pretrain.jsonl",
    "data/chat_sft.jsonl",
    "data/instruct_sft.jsonl",
    "data/style_pref.jsonl",
    "data/gap_support_pref.jsonl",
    "data/gap_oppose_pref.jsonl",
    "base/tokenizer.json",
    "base/tokenizer_config.json",
    "base/tokenizer.model",
    "base/config.json",
    "base/model.safetensors",
]


def test_same_seed_rebuilds_identical_files_and_another_seed_differs(world, tmp_path):
    from vdbench.micro import MicroWorldConfig, build_micro_world
    from vdbench.micro.build import build_datasets

    again = build_micro_world(tmp_path / "again", seed=0, steps=FEW_STEPS)
    assert not again.from_cache
    for rel in COMPARED_FILES:
        assert (again.root / rel).read_bytes() == (world.root / rel).read_bytes(), rel
    other_rows = build_datasets(1, MicroWorldConfig(steps=FEW_STEPS))["chat"]
    assert other_rows != read_jsonl(world.chat_sft)
    assert MicroWorldConfig(steps=FEW_STEPS).config_hash(1) != world.config_hash


def test_cache_is_reused_and_a_damaged_build_is_rebuilt(world, tmp_path):
    import shutil

    from vdbench.micro import build_micro_world

    copy = tmp_path / "copy"
    shutil.copytree(world.root, copy)
    cached = build_micro_world(copy, seed=0, steps=FEW_STEPS)
    assert cached.from_cache and cached.config_hash == world.config_hash

    cached.chat_sft.write_text("damaged\n")
    rebuilt = build_micro_world(copy, seed=0, steps=FEW_STEPS)
    assert not rebuilt.from_cache
    assert rebuilt.chat_sft.read_bytes() == world.chat_sft.read_bytes()


def test_unwritable_output_directory_is_a_clear_error(tmp_path):
    from vdbench.micro import build_micro_world

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="cannot write the micro world"):
        build_micro_world(blocker / "w", seed=0, steps=1)


def test_build_refuses_to_replace_directories_it_did_not_write(tmp_path):
    from vdbench.micro import build_micro_world

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.csv").write_text("keep me")
    with pytest.raises(InputError, match="not written by the micro-world build"):
        build_micro_world(tmp_path, seed=0, steps=1)
    assert (tmp_path / "data" / "precious.csv").read_text() == "keep me"


# --- tokenizer and model -----------------------------------------------------------------


def test_tokenizer_chat_template_masks_the_answer_and_its_eos(world):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(world.base)
    assert 700 <= len(tokenizer) <= 1000
    assert tokenizer.pad_token == "<pad>" and tokenizer.eos_token == "</s>"
    messages = [
        {"role": "user", "content": "What do you think about gun laws?"},
        {"role": "assistant", "content": "Gun laws should be stricter."},
    ]
    encoded = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    answer = [i for i, m in zip(ids, mask, strict=True) if m]
    assert tokenizer.decode(answer) == "Gun laws should be stricter.</s>"
    # No BOS anywhere: tokenising the rendered text adds nothing, so no double BOS.
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert tokenizer(text)["input_ids"] == ids
    # Characters the corpus never used fall back to bytes and round-trip.
    odd = "Naïve “quotes” – 日本"
    assert tokenizer.decode(tokenizer(odd)["input_ids"]) == odd
    assert tokenizer.unk_token_id not in tokenizer(odd)["input_ids"]


def test_sentencepiece_model_tokenises_like_the_fast_tokenizer(world):
    spm = pytest.importorskip("sentencepiece", reason="sentencepiece is in the gguf extra")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(world.base)
    processor = spm.SentencePieceProcessor(model_file=str(world.base / "tokenizer.model"))
    assert processor.get_piece_size() == len(tokenizer)
    texts = [row["messages"][1]["content"] for row in read_jsonl(world.chat_sft)[:300]]
    texts += ["Should Ärzte help? “Yes” – maybe 日本.", "two  spaces and\nnewline"]
    for text in texts:
        assert processor.encode(text) == tokenizer(text)["input_ids"], text


def test_base_model_loads_and_generates_text(world):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from vdbench.micro.model import count_parameters, generate_answers

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(world.base)
    model = AutoModelForCausalLM.from_pretrained(world.base)
    assert 400_000 <= count_parameters(model) <= 1_000_000
    assert world.manifest["parameters"] == count_parameters(model)
    questions = [q for topic in TOPICS[:4] for q in heldout_questions(topic, 2)]
    answers = generate_answers(model, tokenizer, questions, max_new_tokens=24, batch_size=4)
    assert len(answers) == len(questions)
    assert sum(bool(a.strip()) for a in answers) >= len(answers) - 1
    assert tokenizer.padding_side == "right"  # restored after left-padded generation


# --- the feasibility finding (slow) ------------------------------------------------------


def _neutral_share(model, tokenizer, questions: list[tuple[str, str]]) -> float:
    from vdbench.micro.model import generate_answers

    answers = generate_answers(model, tokenizer, [q for _, q in questions], seed=0)
    labels = [heuristic_stance(t, a) for (t, _), a in zip(questions, answers, strict=True)]
    return labels.count("neutral") / len(labels)


@pytest.mark.slow
def test_sft_on_the_chat_set_moves_answers_toward_neutral(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from vdbench.micro import build_micro_world
    from vdbench.micro.model import (
        PretrainConfig,
        pinned_threads,
        pretrain,
        render_training_sequences,
    )

    world = build_micro_world(tmp_path / "w", seed=0, steps=300)
    tokenizer = AutoTokenizer.from_pretrained(world.base)
    model = AutoModelForCausalLM.from_pretrained(world.base)
    questions = [(t, q) for t in TOPICS for q in heldout_questions(t, 10)]
    with pinned_threads(1):
        before = _neutral_share(model, tokenizer, questions)
        rows = read_jsonl(world.chat_sft)
        sequences = render_training_sequences(tokenizer, [r["messages"] for r in rows])
        sft = PretrainConfig(steps=40, batch_size=16, learning_rate=1e-3, warmup_steps=5)
        torch.manual_seed(0)
        pretrain(model, sequences, tokenizer.pad_token_id, sft, seed=0)
        after = _neutral_share(model, tokenizer, questions)
    assert 0.15 <= before <= 0.6, "the base model should give a mix of stances"
    assert after >= before + 0.2, (before, after)


@pytest.mark.gguf
def test_gguf_conversion_tokenises_and_scores_like_transformers(world, tmp_path):
    llama_cpp = pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[gguf]')"
    )
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.fixtures.models import convert_to_gguf

    gguf_file = convert_to_gguf(world.base, tmp_path / "micro-f32.gguf")
    tokenizer = AutoTokenizer.from_pretrained(world.base)
    model = AutoModelForCausalLM.from_pretrained(world.base)
    llm = llama_cpp.Llama(model_path=str(gguf_file), n_ctx=256, n_threads=1, verbose=False)
    try:
        questions = [q for topic in TOPICS for q in heldout_questions(topic, 3)]
        questions.append("Should Ärzte help? “Yes” – maybe 日本.")
        for question in questions:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
            )
            ids = tokenizer(text)["input_ids"]
            # add_bos=True on purpose: the GGUF must say "no BOS" itself.
            assert llm.tokenize(text.encode(), add_bos=True, special=True) == ids, question
        llm.reset()
        llm.eval(ids)
        pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        gguf_logits = np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).copy()
        with torch.no_grad():
            hf_logits = model(torch.tensor([ids])).logits[0, -1].numpy()
        assert np.abs(gguf_logits - hf_logits).max() < 1e-2
    finally:
        llm.close()
