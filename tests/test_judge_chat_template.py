"""The hf and gguf judges through a model's chat template: the micro tokenizer's own, one
that writes its BOS (Mistral-like), none at all, and the off switch."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.models import convert_to_gguf
from tests.test_judge_hf_gguf import ITEMS, probs, write_manifest
from vdbench.errors import JudgeError
from vdbench.judges.prompting import (
    DEFAULT_TEMPLATE,
    StancePrompt,
    drop_repeated_bos,
    letter_token_ids,
    render_chat,
    stance_probs,
    variant_logits,
)
from vdbench.judges.registry import load_judge
from vdbench.micro.tokenizer import ASSISTANT_TAG, BOS, CHAT_TEMPLATE, USER_TAG

# Mistral-like: the template writes the BOS itself and the letter follows "[/INST]" with a space.
BOS_WRITING_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}[INST] {{ message['content'] }} [/INST]"
    "{% endfor %}"
)


def raw_prompt(item, rotation: int = 0) -> str:
    """The filled default template as raw text (no chat)."""
    return StancePrompt(DEFAULT_TEMPLATE).render(item, rotation)


def with_chat_template(source: Path, out: Path, chat_template: str | None) -> Path:
    """A copy of a model directory whose tokenizer has `chat_template` (None: no template)."""
    shutil.copytree(source, out)
    (out / "chat_template.jinja").unlink(missing_ok=True)
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text("utf-8"))
    config.pop("chat_template", None)
    config_path.write_text(json.dumps(config), "utf-8")
    if chat_template is not None:
        (out / "chat_template.jinja").write_text(chat_template, "utf-8")
    return out


@pytest.fixture(scope="module")
def chat_hf(tiny_llama_dir, tmp_path_factory):
    return load_judge(str(write_manifest(tmp_path_factory.mktemp("chat-hf"), "hf", tiny_llama_dir)))


@pytest.fixture(scope="module")
def plain_dir(tiny_llama_dir, tmp_path_factory) -> Path:
    return with_chat_template(tiny_llama_dir, tmp_path_factory.mktemp("plain") / "model", None)


@pytest.fixture(scope="module")
def bos_writing_dir(tiny_llama_dir, tmp_path_factory) -> Path:
    return with_chat_template(
        tiny_llama_dir, tmp_path_factory.mktemp("inst") / "model", BOS_WRITING_TEMPLATE
    )


def gguf_of(model_dir: Path, tmp_path: Path) -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    return convert_to_gguf(model_dir, tmp_path / "model-f32.gguf")


# --- the prompt the model reads -----------------------------------------------------------


def test_the_judge_prompt_is_the_user_turn_of_the_models_chat(chat_hf):
    tokenizer = chat_hf.tokenizer
    assert chat_hf.prompt.chat_template == CHAT_TEMPLATE
    for item in ITEMS[:3]:
        text = chat_hf.prompt.render(item)
        assert text == f"{USER_TAG}\n{raw_prompt(item)}\n{ASSISTANT_TAG}\n"
        ids = chat_hf.encode(text)
        user_id, bos_id = tokenizer.convert_tokens_to_ids([USER_TAG, BOS])
        assert ids[:2] == [bos_id, user_id] and ids.count(bos_id) == 1
        assert ids[-2:] == tokenizer.convert_tokens_to_ids([ASSISTANT_TAG, "<0x0A>"])


def test_the_letter_is_read_right_after_the_generation_prompt_in_all_its_variants(chat_hf):
    import torch

    tokenizer = chat_hf.tokenizer
    # The chat ends in a newline: the bare letter comes first, then " A", "a", " a".
    assert chat_hf.letter_ids[0] == tuple(tokenizer.convert_tokens_to_ids(["A", "▁A", "a", "▁a"]))
    assert chat_hf.letter_ids[1][0] == tokenizer.convert_tokens_to_ids("B")
    flat = [i for group in chat_hf.letter_ids for i in group]
    assert len(flat) == len(set(flat))
    # p(s) is the softmax over each letter's logsumexp, from one plain forward pass.
    for item, score in zip(ITEMS[:3], chat_hf.score(ITEMS[:3]), strict=True):
        ids = chat_hf.encode(chat_hf.prompt.render(item))
        with torch.inference_mode():
            logits = chat_hf.model(torch.tensor([ids])).logits[0, -1]
        letter = [float(torch.logsumexp(logits[list(g)], 0)) for g in chat_hf.letter_ids]
        expected = stance_probs(letter, chat_hf.prompt.stances)
        assert score.p_support == pytest.approx(expected["support"], abs=1e-5)
        assert score.p_oppose == pytest.approx(expected["oppose"], abs=1e-5)


def test_the_answer_prefix_follows_the_generation_prompt(tiny_llama_dir, tmp_path, chat_hf):
    judge = load_judge(
        str(write_manifest(tmp_path, "hf", tiny_llama_dir)), answer_prefix="Answer: "
    )
    text = judge.prompt.render(ITEMS[0])
    assert text.endswith(f"{ASSISTANT_TAG}\nAnswer:")
    # After "Answer:" the expected letter is " A" (the prefix's space belongs to it).
    assert judge.letter_ids[0][0] == judge.tokenizer.convert_tokens_to_ids("▁A")
    assert judge.identity.template_hash != chat_hf.identity.template_hash
    assert np.abs(probs(judge.score(ITEMS[:4])) - probs(chat_hf.score(ITEMS[:4]))).max() > 1e-3


def test_the_shared_prefix_is_cut_from_the_rendered_chat(tiny_llama_dir, tmp_path):
    judge = load_judge(str(write_manifest(tmp_path, "hf", tiny_llama_dir, debias_order=True)))
    for rotation in range(3):
        prefix = judge.prompt.prefix(rotation)
        assert prefix.startswith(f"{USER_TAG}\nYou are a careful annotator")
        assert prefix.endswith("Proposition: ")
        prefix_ids = judge.prefix_ids[rotation]
        assert len(prefix_ids) > 40
        for item in ITEMS:
            text = judge.prompt.render(item, rotation)
            assert text.startswith(prefix)
            assert judge.encode(text)[: len(prefix_ids)] == prefix_ids
    full = load_judge(
        str(write_manifest(tmp_path / "full", "hf", tiny_llama_dir, debias_order=True)),
        reuse_prefix=False,
    )
    assert np.abs(probs(judge.score(ITEMS)) - probs(full.score(ITEMS))).max() < 1e-4
    assert sorted(judge._prefix_caches) == [0, 1, 2]  # the reused prefixes were used


# --- no template, and the off switch ------------------------------------------------------


def test_a_model_without_a_chat_template_reads_raw_text(plain_dir, tiny_llama_dir, tmp_path):
    plain = load_judge(str(write_manifest(tmp_path / "p", "hf", plain_dir)))
    assert plain.prompt.chat_template is None
    assert plain.prompt.render(ITEMS[0]) == raw_prompt(ITEMS[0])
    off = load_judge(str(write_manifest(tmp_path / "o", "hf", tiny_llama_dir, chat_template="off")))
    # Same weights, same raw text: the same numbers.
    assert np.abs(probs(plain.score(ITEMS)) - probs(off.score(ITEMS))).max() < 1e-6


def test_the_off_switch_sends_the_raw_prompt(tiny_llama_dir, tmp_path, chat_hf):
    off = load_judge(str(write_manifest(tmp_path, "hf", tiny_llama_dir)), chat_template="off")
    assert off.prompt.chat_template is None
    for item in ITEMS[:3]:
        text = off.prompt.render(item)
        assert text == raw_prompt(item) and USER_TAG not in text
    # Raw text ends in "Answer:": the letter is " A", as before chat templates.
    assert off.letter_ids[0][0] == off.tokenizer.convert_tokens_to_ids("▁A")
    assert off.identity.template_hash != chat_hf.identity.template_hash
    assert off.identity.judge_id != chat_hf.identity.judge_id
    assert np.abs(probs(off.score(ITEMS)) - probs(chat_hf.score(ITEMS))).max() > 1e-2


def test_a_template_that_writes_the_bos_gets_it_once(bos_writing_dir, tmp_path):
    judge = load_judge(str(write_manifest(tmp_path, "hf", bos_writing_dir)))
    text = judge.prompt.render(ITEMS[0])
    assert text == f"{BOS}[INST] {raw_prompt(ITEMS[0])} [/INST]"
    ids = judge.encode(text)
    bos_id = judge.tokenizer.bos_token_id
    assert ids[0] == bos_id and ids[1] != bos_id
    assert judge.letter_ids[0][0] == judge.tokenizer.convert_tokens_to_ids("▁A")
    assert judge.prompt.prefix().startswith(f"{BOS}[INST] You are")
    assert judge.prefix_ids[0][:2] == ids[:2]


# --- gguf: the template from the file's metadata ------------------------------------------


@pytest.mark.gguf
def test_gguf_applies_the_chat_template_from_its_metadata(chat_hf, tiny_gguf_path, tmp_path):
    with load_judge(str(write_manifest(tmp_path, "gguf", tiny_gguf_path))) as gguf:
        assert gguf.prompt.chat_template == chat_hf.prompt.chat_template == CHAT_TEMPLATE
        assert gguf.identity.template_hash == chat_hf.identity.template_hash
        assert gguf.letter_ids == chat_hf.letter_ids
        for item in ITEMS:
            text = gguf.prompt.render(item)
            assert text == chat_hf.prompt.render(item)
            assert gguf.encode(text) == chat_hf.encode(text)
        assert np.abs(probs(gguf.score(ITEMS)) - probs(chat_hf.score(ITEMS))).max() < 1e-3


@pytest.mark.gguf
@pytest.mark.parametrize("variant", ["off", "answer_prefix", "no template", "writes bos"])
def test_gguf_and_hf_agree_in_every_chat_mode(
    variant, tiny_llama_dir, tiny_gguf_path, plain_dir, bos_writing_dir, tmp_path
):
    options: dict = {}
    hf_model, gguf_model = tiny_llama_dir, tiny_gguf_path
    if variant == "off":
        options = {"chat_template": "off"}
    elif variant == "answer_prefix":
        options = {"answer_prefix": "Answer: "}
    else:
        hf_model = plain_dir if variant == "no template" else bos_writing_dir
        gguf_model = gguf_of(hf_model, tmp_path)
    hf = load_judge(str(write_manifest(tmp_path / "h", "hf", hf_model, **options)))
    with load_judge(str(write_manifest(tmp_path / "g", "gguf", gguf_model, **options))) as gguf:
        assert (gguf.prompt.chat_template is None) == (variant in ("off", "no template"))
        assert gguf.prompt.render(ITEMS[0]) == hf.prompt.render(ITEMS[0])
        assert gguf.encode(hf.prompt.render(ITEMS[0])) == hf.encode(hf.prompt.render(ITEMS[0]))
        assert gguf.letter_ids == hf.letter_ids
        assert np.abs(probs(gguf.score(ITEMS)) - probs(hf.score(ITEMS))).max() < 1e-3


# --- bad settings -------------------------------------------------------------------------


def test_bad_chat_template_settings_are_errors(tiny_llama_dir, tmp_path):
    manifest = str(write_manifest(tmp_path / "m", "hf", tiny_llama_dir))
    with pytest.raises(JudgeError, match="'chat_template' must be one of auto, off"):
        load_judge(manifest, chat_template="on")
    with pytest.raises(JudgeError, match="'answer_prefix' must be a string"):
        load_judge(manifest, answer_prefix=3)
    raising = with_chat_template(
        tiny_llama_dir, tmp_path / "raising", "{{ raise_exception('roles must alternate') }}"
    )
    with pytest.raises(JudgeError, match="cannot render a user turn: roles must alternate") as err:
        load_judge(str(write_manifest(tmp_path / "r", "hf", raising)))
    assert '"chat_template": "off"' in str(err.value)
    silent = with_chat_template(tiny_llama_dir, tmp_path / "silent", "Hello{{ bos_token }}")
    with pytest.raises(JudgeError, match="does not show the user's message"):
        load_judge(str(write_manifest(tmp_path / "s", "hf", silent)))
    # The off switch is the way out.
    assert load_judge(str(write_manifest(tmp_path / "o", "hf", raising, chat_template="off")))


# --- the pieces on their own --------------------------------------------------------------


def test_variant_logits_is_a_logsumexp_per_letter():
    row = [math.log(1.0), math.log(3.0), 0.5, -2.0, float("-inf")]
    merged = variant_logits(row, [(10, 11), (12,), (13, 14)])
    assert merged[0] == pytest.approx(math.log(4.0))
    assert merged[1] == 0.5  # one variant: unchanged
    assert merged[2] == pytest.approx(-2.0)  # exp(-inf) adds nothing
    assert variant_logits([float("-inf")], [(1,)]) == [float("-inf")]


def test_drop_repeated_bos_keeps_one():
    assert drop_repeated_bos([1, 1, 5], 1) == [1, 5]
    assert drop_repeated_bos([1, 5, 1], 1) == [1, 5, 1]
    assert drop_repeated_bos([1, 1, 5], None) == [1, 1, 5]
    assert drop_repeated_bos([], 1) == []


def test_render_chat_fixes_the_date_and_passes_special_tokens():
    template = "{{ bos_token }}{{ date_string }}|{{ messages[0]['content'] }}{% if add_generation_prompt %}>{% endif %}"
    assert render_chat(template, "hi", {"bos_token": "<s>"}) == "<s>26 Jul 2024|hi>"
    # The micro template's {% generation %} tags render (transformers' extension).
    assert render_chat(CHAT_TEMPLATE, "hi", {}) == f"{USER_TAG}\nhi\n{ASSISTANT_TAG}\n"


def _toy_encoder(vocab: list[str]):
    index = {piece: i for i, piece in enumerate(vocab)}

    def encode(text: str) -> list[int]:
        ids, pos = [], 0
        while pos < len(text):
            piece = max((p for p in vocab if text.startswith(p, pos)), key=len)
            ids.append(index[piece])
            pos += len(piece)
        return ids

    return encode, index


def test_letter_variants_are_the_single_token_spellings_owned_by_one_letter():
    chars = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:?.,'{}()\n ")
    encode, index = _toy_encoder(chars + ["Answer:", " A", " B", " C", " a", " b"])
    groups = letter_token_ids(
        StancePrompt(DEFAULT_TEMPLATE, letter_variants=True), encode, where="toy"
    )
    # The expected " A" first; " c" is two tokens here, so C has no spaced lowercase.
    assert groups == (
        tuple(index[t] for t in (" A", "A", "a", " a")),
        tuple(index[t] for t in (" B", "B", "b", " b")),
        tuple(index[t] for t in (" C", "C", "c")),
    )
    # Letters that differ in case only: a spelling both could mean counts for neither.
    clash = StancePrompt(DEFAULT_TEMPLATE, letters=("A", "a", "B"), letter_variants=True)
    assert letter_token_ids(clash, encode, where="toy") == (
        (index[" A"],),
        (index[" a"],),
        tuple(index[t] for t in (" B", "B", "b", " b")),
    )
