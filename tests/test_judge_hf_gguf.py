"""The hf and gguf judges on a real (tiny, random) Llama and its llama.cpp conversion."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vdbench.errors import JudgeError
from vdbench.evalsets.topics import BUILTIN_TOPICS, STANCES
from vdbench.judges.base import JudgeItem, JudgeScore
from vdbench.judges.prompting import (
    DEFAULT_TEMPLATE,
    StancePrompt,
    encode_item,
    letter_token_ids,
)
from vdbench.judges.registry import file_hash, load_judge

REPO = Path(__file__).resolve().parents[1]


def _items() -> list[JudgeItem]:
    responses = [
        "Yes. Governments should act now; the evidence is overwhelming.",
        "No, I disagree strongly. People should decide for themselves.",
        "There are good arguments on both sides of this question, and reasonable people disagree.",
        "I'd rather not take a side on that.",
        "Ünïcödé façade, 漢字 and an emoji 🙂 — still an answer.",
        "A response with {response} and {options} braces in it, and a </s> in the middle.",
        "short",
        "It depends. " * 40,
        "I think it depends.\n\nFirst, consider the costs.\n\tSecond, the benefits.",
    ]
    topics = list(BUILTIN_TOPICS.items())
    return [
        JudgeItem(
            topic=topics[i % len(topics)][0],
            proposition=topics[i % len(topics)][1],
            prompt=f"What do you think about {topics[i % len(topics)][0].replace('_', ' ')}?",
            response=response,
        )
        for i, response in enumerate(responses)
    ]


ITEMS = _items()


def write_manifest(
    directory: Path,
    backend: str,
    model: Path | str,
    *,
    name: str | None = None,
    label_options: dict[str, str] | None = None,
    template: str | None = None,
    **options,
) -> Path:
    """A judge manifest (and template file) in `directory`; returns the manifest path."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": name or f"test-{backend}",
        "backend": backend,
        "model": str(model),
        "options": options,
    }
    if label_options is not None:
        manifest["label_options"] = label_options
    if template is not None:
        (directory / "template.txt").write_text(template, "utf-8")
        manifest["template"] = "template.txt"
    path = directory / "manifest.json"
    path.write_text(json.dumps(manifest), "utf-8")
    return path


def probs(scores: list[JudgeScore]) -> np.ndarray:
    return np.array([[s.p_support, s.p_neutral, s.p_oppose] for s in scores])


@pytest.fixture(scope="module")
def hf_judge(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    return load_judge(
        str(
            write_manifest(
                tmp_path_factory.mktemp("hf"), "hf", tiny_llama_dir, num_threads=1, batch_size=4
            )
        )
    )


@pytest.fixture(scope="module")
def gguf_judge(tiny_gguf_path: Path, tmp_path_factory: pytest.TempPathFactory):
    judge = load_judge(
        str(write_manifest(tmp_path_factory.mktemp("gguf"), "gguf", tiny_gguf_path, n_threads=1))
    )
    yield judge
    judge.close()


# --- hf and gguf are the same instrument --------------------------------------------------


@pytest.mark.gguf
def test_hf_and_gguf_tokenize_every_prompt_identically(hf_judge, gguf_judge):
    for item in ITEMS:
        for rotation in range(3):
            text = hf_judge.prompt.render(item, rotation)
            assert hf_judge.encode(text) == gguf_judge.encode(text), text
    assert hf_judge.letter_ids == gguf_judge.letter_ids


@pytest.mark.gguf
def test_hf_and_gguf_give_the_same_label_distribution(hf_judge, gguf_judge):
    hf, gguf = probs(hf_judge.score(ITEMS)), probs(gguf_judge.score(ITEMS))
    # The comparison means something only if the distributions differ between texts.
    assert hf[:, 0].max() - hf[:, 0].min() > 0.2
    assert np.abs(hf - gguf).max() < 1e-3


@pytest.mark.gguf
def test_probabilities_are_distributions(hf_judge, gguf_judge):
    for judge in (hf_judge, gguf_judge):
        for score in judge.score(ITEMS):
            p = (score.p_support, score.p_neutral, score.p_oppose)
            assert all(0.0 <= x <= 1.0 for x in p)
            assert sum(p) == pytest.approx(1.0, abs=1e-9)
            assert score.label in STANCES
            assert not score.truncated and score.note is None


# --- prefix reuse and batching change speed, not numbers ----------------------------------


def test_hf_prefix_reuse_equals_full_forward(tiny_llama_dir, tmp_path):
    reuse = load_judge(str(write_manifest(tmp_path / "a", "hf", tiny_llama_dir, batch_size=4)))
    full = load_judge(
        str(write_manifest(tmp_path / "b", "hf", tiny_llama_dir, batch_size=4, reuse_prefix=False))
    )
    shared = []
    find_shared = reuse._shared_rotation
    reuse._shared_rotation = lambda batch: shared.append(find_shared(batch)) or shared[-1]
    with_reuse = probs(reuse.score(ITEMS))
    assert shared == [0, 0, 0] and len(reuse.prefix_ids[0]) > 40  # every batch reused the prefix
    assert np.abs(with_reuse - probs(full.score(ITEMS))).max() < 1e-4


@pytest.mark.gguf
def test_gguf_prefix_reuse_equals_fresh_evaluation(tiny_gguf_path, tmp_path, gguf_judge):
    fresh = load_judge(str(write_manifest(tmp_path, "gguf", tiny_gguf_path, reuse_prefix=False)))
    with fresh:
        assert np.abs(probs(gguf_judge.score(ITEMS)) - probs(fresh.score(ITEMS))).max() < 1e-4


def test_hf_batched_equals_one_by_one(tiny_llama_dir, tmp_path, hf_judge):
    one = load_judge(str(write_manifest(tmp_path, "hf", tiny_llama_dir, batch_size=1)))
    batched = probs(hf_judge.score(ITEMS))  # batch_size=4, mixed lengths: left padding
    singles = np.vstack([probs(one.score([item])) for item in ITEMS])
    assert np.abs(batched - singles).max() < 1e-4


# --- order debiasing ----------------------------------------------------------------------


def _rotated(k: int) -> dict[str, str]:
    return {letter: STANCES[(i + k) % 3] for i, letter in enumerate("ABC")}


def test_debias_averages_the_three_letter_rotations(tiny_llama_dir, tmp_path):
    debiased = load_judge(
        str(write_manifest(tmp_path / "d", "hf", tiny_llama_dir, debias_order=True))
    )
    by_rotation = [
        probs(
            load_judge(
                str(
                    write_manifest(
                        tmp_path / f"r{k}", "hf", tiny_llama_dir, label_options=_rotated(k)
                    )
                )
            ).score(ITEMS)
        )
        for k in range(3)
    ]
    # The rotations really disagree (a letter bias to cancel), and debiasing averages them.
    assert np.abs(by_rotation[0] - by_rotation[1]).max() > 0.05
    assert np.abs(probs(debiased.score(ITEMS)) - np.mean(by_rotation, axis=0)).max() < 1e-5
    assert sorted(debiased._prefix_caches) == [0, 1, 2]  # one reused prefix per rotation
    assert (
        debiased.identity.template_hash
        != load_judge(
            str(write_manifest(tmp_path / "p", "hf", tiny_llama_dir))
        ).identity.template_hash
    )


@pytest.mark.gguf
def test_gguf_debias_matches_hf_debias(tiny_llama_dir, tiny_gguf_path, tmp_path):
    hf = load_judge(str(write_manifest(tmp_path / "h", "hf", tiny_llama_dir, debias_order=True)))
    with load_judge(
        str(write_manifest(tmp_path / "g", "gguf", tiny_gguf_path, debias_order=True))
    ) as gguf:
        assert np.abs(probs(hf.score(ITEMS[:4])) - probs(gguf.score(ITEMS[:4]))).max() < 1e-3


# --- identity -----------------------------------------------------------------------------


@pytest.mark.gguf
def test_identity_records_template_and_model_hashes(
    hf_judge, gguf_judge, tiny_llama_dir, tiny_gguf_path
):
    assert hf_judge.identity.model_hash == file_hash(tiny_llama_dir.resolve())
    assert gguf_judge.identity.model_hash == file_hash(tiny_gguf_path.resolve())
    assert hf_judge.identity.template_hash == gguf_judge.identity.template_hash
    name, template8, model8 = hf_judge.identity.judge_id.split(":")
    assert (name, template8, model8) == (
        "test-hf",
        hf_judge.identity.template_hash[:8],
        hf_judge.identity.model_hash[:8],
    )


def test_editing_the_template_changes_the_judge_id(tiny_llama_dir, tmp_path, hf_judge):
    edited = load_judge(
        str(
            write_manifest(
                tmp_path,
                "hf",
                tiny_llama_dir,
                template=DEFAULT_TEMPLATE.replace("careful", "strict"),
            )
        )
    )
    assert edited.identity.judge_id != hf_judge.identity.judge_id
    assert edited.identity.model_hash == hf_judge.identity.model_hash


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["hf", pytest.param("gguf", marks=pytest.mark.gguf)])
def test_empty_response_is_neutral_without_running_the_model(backend, request):
    judge = request.getfixturevalue(f"{backend}_judge")
    item = ITEMS[0]
    empty = [JudgeItem(item.topic, item.proposition, item.prompt, r) for r in ("", "  \n\t ")]
    scores = judge.score([empty[0], item, empty[1]])
    for score in (scores[0], scores[2]):
        assert (score.p_support, score.p_neutral, score.p_oppose) == (0.0, 1.0, 0.0)
        assert score.note == "empty response" and score.label == "neutral"
    assert scores[1].note is None and scores[1].p_neutral < 1.0


@pytest.mark.gguf
def test_a_100k_character_response_is_cut_by_tokens_and_recorded(hf_judge, gguf_judge):
    item = ITEMS[1]
    huge = JudgeItem(
        item.topic, item.proposition, item.prompt, ("I have thoughts about this. " * 4000)[:100_000]
    )
    encoded = encode_item(hf_judge.prompt, huge, 0, hf_judge.encode, hf_judge.max_input_tokens)
    assert (
        encoded.truncated
        and hf_judge.max_input_tokens - 8 <= len(encoded.ids) <= hf_judge.max_input_tokens
    )
    hf_scores = hf_judge.score([huge, item])
    gguf_scores = gguf_judge.score([huge, item])
    assert [s.truncated for s in hf_scores] == [True, False]
    assert [s.truncated for s in gguf_scores] == [True, False]
    assert np.abs(probs(hf_scores) - probs(gguf_scores)).max() < 1e-3


def test_a_long_question_is_cut_too_and_a_tiny_context_is_an_error(tiny_llama_dir, tmp_path):
    judge = load_judge(
        str(write_manifest(tmp_path / "a", "hf", tiny_llama_dir, max_input_tokens=200))
    )
    item = ITEMS[0]
    long_question = JudgeItem(item.topic, item.proposition, "Why? " * 2000, "Because. " * 2000)
    [score] = judge.score([long_question])
    assert score.truncated
    tiny = load_judge(
        str(write_manifest(tmp_path / "b", "hf", tiny_llama_dir, max_input_tokens=20))
    )
    with pytest.raises(JudgeError, match="template alone is longer than max_input_tokens=20"):
        tiny.score([item])


@pytest.mark.parametrize(
    "backend, placeholder", [("hf", "/path/to/model"), ("gguf", "/path/to/model.gguf")]
)
def test_shipped_example_manifests_name_the_placeholder_path(backend, placeholder):
    with pytest.raises(JudgeError) as err:
        load_judge(str(REPO / "judge_models" / f"{backend}-example"))
    assert placeholder in str(err.value) and "not found" in str(err.value)
    assert "manifest.json" in str(err.value)  # the hint says which file to edit


def test_missing_model_paths_are_named(tmp_path):
    with pytest.raises(JudgeError, match="model directory not found") as err:
        load_judge(str(write_manifest(tmp_path / "h", "hf", "no-such-model")))
    assert str(tmp_path / "h" / "no-such-model") in str(err.value)  # relative to the manifest
    with pytest.raises(JudgeError, match="GGUF model file not found") as err:
        load_judge(str(write_manifest(tmp_path / "g", "gguf", tmp_path / "absent.gguf")))
    assert str(tmp_path / "absent.gguf") in str(err.value)


def test_incomplete_model_directory_says_what_is_missing(tiny_llama_dir, tmp_path):
    no_config = tmp_path / "no-config"
    shutil.copytree(tiny_llama_dir, no_config)
    (no_config / "config.json").unlink()
    with pytest.raises(JudgeError, match="no config.json") as err:
        load_judge(str(write_manifest(tmp_path / "a", "hf", no_config)))
    assert str(no_config / "config.json") in str(err.value)

    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_llama_dir, no_tokenizer)
    for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json"):
        (no_tokenizer / name).unlink()
    with pytest.raises(JudgeError, match="no tokenizer"):
        load_judge(str(write_manifest(tmp_path / "b", "hf", no_tokenizer)))


def test_not_a_gguf_file_is_an_error(tmp_path, tiny_llama_dir):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a gguf file at all")
    with pytest.raises(JudgeError, match="not a GGUF file"):
        load_judge(str(write_manifest(tmp_path / "a", "gguf", fake)))
    with pytest.raises(JudgeError, match="found a directory"):
        load_judge(str(write_manifest(tmp_path / "b", "gguf", tiny_llama_dir)))


@pytest.mark.parametrize("backend", ["hf", pytest.param("gguf", marks=pytest.mark.gguf)])
def test_vocabulary_without_the_label_letters_is_refused(backend, tmp_path, request):
    model = request.getfixturevalue("tiny_llama_dir" if backend == "hf" else "tiny_gguf_path")
    # Raw text ends in "Answer:", so the letter is " X": the tiny tokenizer never merged
    # " X", " Y", " Z" (two tokens each).
    raw = write_manifest(
        tmp_path / "raw",
        backend,
        model,
        label_options={"X": "support", "Y": "neutral", "Z": "oppose"},
        chat_template="off",
    )
    with pytest.raises(JudgeError, match="vocabulary lacks the label options") as err:
        load_judge(str(raw))
    assert "' X'" in str(err.value)
    # The chat template ends in a newline, so the letter is bare: characters the
    # tokenizer never saw are two byte tokens.
    chat = write_manifest(
        tmp_path / "chat",
        backend,
        model,
        label_options={"Ω": "support", "Ж": "neutral", "Ψ": "oppose"},
    )
    with pytest.raises(JudgeError, match="vocabulary lacks the label options") as err:
        load_judge(str(chat))
    assert "'Ω'" in str(err.value)


def test_unknown_option_and_bad_label_options_are_errors(tiny_llama_dir, tmp_path):
    with pytest.raises(JudgeError, match="unknown hf judge option"):
        load_judge(str(write_manifest(tmp_path / "a", "hf", tiny_llama_dir, batchsize=4)))
    with pytest.raises(JudgeError, match="one letter to each"):
        load_judge(
            str(
                write_manifest(
                    tmp_path / "b",
                    "hf",
                    tiny_llama_dir,
                    label_options={"A": "support", "B": "oppose"},
                )
            )
        )
    with pytest.raises(JudgeError, match=r"lacks placeholder\(s\) \{response\}"):
        load_judge(
            str(
                write_manifest(
                    tmp_path / "c",
                    "hf",
                    tiny_llama_dir,
                    template="Proposition: {proposition}\n{options}\nAnswer:",
                )
            )
        )


# --- the letter check on its own ----------------------------------------------------------


def _toy_encoder(vocab: list[str]):
    """Greedy longest-match over `vocab` (spaces are ordinary characters), no BOS."""
    index = {piece: i for i, piece in enumerate(vocab)}

    def encode(text: str) -> list[int]:
        ids, pos = [], 0
        while pos < len(text):
            piece = max((p for p in vocab if text.startswith(p, pos)), key=len)
            ids.append(index[piece])
            pos += len(piece)
        return ids

    return encode


def test_letter_check_follows_the_template_ending():
    chars = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:?.,'{}()\n ")
    with_space = _toy_encoder(chars + ["Answer:", " A", " B", " C"])
    prompt = StancePrompt(DEFAULT_TEMPLATE)
    ids = letter_token_ids(prompt, with_space, where="toy")
    index = {piece: i for i, piece in enumerate(chars + ["Answer:", " A", " B", " C"])}
    assert ids == ((index[" A"],), (index[" B"],), (index[" C"],))
    # A template ending in a newline wants the bare letters, which are single characters.
    newline_prompt = StancePrompt(DEFAULT_TEMPLATE + "\n")
    assert letter_token_ids(newline_prompt, with_space, where="toy") == (
        (index["A"],),
        (index["B"],),
        (index["C"],),
    )
    with pytest.raises(JudgeError, match="lacks the label options"):
        letter_token_ids(prompt, _toy_encoder(chars), where="toy")
