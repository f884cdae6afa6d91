"""The micro tokenizer: a SentencePiece-style BPE with byte fallback, trained on our corpus.

Layout (Llama-like, so llama.cpp's converter recognises it):
  0 <unk>, 1 <s>, 2 </s>, 3 <pad>, 4 <|user|>, 5 <|assistant|>, 6..261 <0x00>..<0xFF>,
  then single characters and merges in training order.
Words are split on spaces, which become "▁"; no "▁" is prepended to the text and no BOS
is added, so a rendered chat and its token ids map one-to-one however a caller tokenises
it (no double-BOS pitfall). Characters the corpus never used fall back to byte tokens.

Beside `tokenizer.json` we write `tokenizer.model`, an equivalent SentencePiece model whose
piece scores follow the BPE merge order, so a GGUF conversion tokenises like transformers.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

UNK, BOS, EOS, PAD = "<unk>", "<s>", "</s>", "<pad>"
USER_TAG, ASSISTANT_TAG = "<|user|>", "<|assistant|>"
SPECIAL_TOKENS: tuple[str, ...] = (UNK, BOS, EOS, PAD, USER_TAG, ASSISTANT_TAG)
BYTE_TOKENS: tuple[str, ...] = tuple(f"<0x{i:02X}>" for i in range(256))
SPACE = "\u2581"  # "▁", SentencePiece's visible space

# One user turn, one assistant turn, no BOS. `{% generation %}` marks what TRL's SFT
# trains on with `assistant_only_loss=True`: the answer and its closing </s>.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|assistant|>\n{% generation %}{{ message['content'] }}</s>{% endgeneration %}"
    "{% else %}"
    "<|user|>\n{{ message['content'] }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def train_micro_tokenizer(
    texts: Iterable[str], vocab_size: int = 1000, model_max_length: int = 256
) -> PreTrainedTokenizerFast:
    """Train the byte-fallback BPE on `texts`; returns a transformers fast tokenizer.

    `vocab_size` counts everything: 6 special tokens, 256 byte tokens, characters and
    merges. Deterministic for the same `texts` in the same order.
    """
    reserved = len(SPECIAL_TOKENS) + len(BYTE_TOKENS)
    if vocab_size <= reserved + 64:
        raise ValueError(f"vocab_size must exceed {reserved + 64}, got {vocab_size}")
    pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="never", split=True)
    draft = Tokenizer(models.BPE(unk_token=UNK))
    draft.pre_tokenizer = pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(BYTE_TOKENS),
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    draft.train_from_iterator(texts, trainer=trainer)
    trained = json.loads(draft.to_str())["model"]
    # tokenizers serialises merges as ["a", "b"] pairs (older versions: "a b" strings).
    merges: list[tuple[str, str]] = []
    for merge in trained["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        merges.append((left, right))
    learned = sorted(trained["vocab"].items(), key=lambda kv: kv[1])

    vocab: dict[str, int] = {}
    for token in (*SPECIAL_TOKENS, *BYTE_TOKENS):
        vocab[token] = len(vocab)
    for token, _ in learned:
        if token not in vocab:
            vocab[token] = len(vocab)

    backend = Tokenizer(
        models.BPE(vocab=vocab, merges=merges, unk_token=UNK, byte_fallback=True, fuse_unk=True)
    )
    backend.pre_tokenizer = pre_tokenizer
    backend.decoder = decoders.Sequence(
        [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[USER_TAG, ASSISTANT_TAG],
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        add_prefix_space=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_micro_tokenizer(tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> None:
    """save_pretrained plus `tokenizer.model` (SentencePiece) for GGUF conversion.

    `add_bos_token`/`add_eos_token` are written to say what the tokenizer really does
    (false for the micro tokenizer; true if a caller added a BOS post-processor):
    llama.cpp reads them, and would otherwise add a BOS to SentencePiece-style models.
    """
    out_dir = Path(out_dir)
    tokenizer.save_pretrained(out_dir)
    probe = tokenizer("a", add_special_tokens=True)["input_ids"]
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["add_bos_token"] = probe[:1] == [tokenizer.bos_token_id]
    config["add_eos_token"] = probe[-1:] == [tokenizer.eos_token_id]
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "tokenizer.model").write_bytes(sentencepiece_model_bytes(tokenizer))


# --- SentencePiece model ----------------------------------------------------------------
# A ModelProto written by hand (no protobuf dependency): only the fields SentencePiece and
# llama.cpp's converter read. Field numbers follow sentencepiece_model.proto.
_NORMAL, _UNKNOWN, _CONTROL, _BYTE = 1, 2, 3, 6


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits, value = value & 0x7F, value >> 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + payload


def _bytes_field(number: int, data: bytes) -> bytes:
    return _field(number, 2, _varint(len(data)) + data)


def _int_field(number: int, value: int) -> bytes:
    # Negative int32 values are encoded as 10-byte two's complement varints.
    return _field(number, 0, _varint(value & 0xFFFFFFFFFFFFFFFF if value < 0 else value))


def _float_field(number: int, value: float) -> bytes:
    return _field(number, 5, struct.pack("<f", value))


def sentencepiece_model_bytes(tokenizer: PreTrainedTokenizerFast) -> bytes:
    """A SentencePiece BPE ModelProto equivalent to `tokenizer`.

    Merged pieces score -rank of their merge, so SentencePiece (and llama.cpp, which
    merges the highest-scoring pair first) reproduce the BPE merge order.
    """
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    merges = [m.replace(" ", "", 1) if isinstance(m, str) else "".join(m) for m in model["merges"]]
    merge_rank = {piece: rank for rank, piece in enumerate(merges)}
    n_merges = len(merges)
    # The chat tags are CONTROL, like in transformers (special, skipped when decoding);
    # llama.cpp then matches them in text only when asked to parse special tokens.
    special_types = {
        UNK: _UNKNOWN,
        BOS: _CONTROL,
        EOS: _CONTROL,
        PAD: _CONTROL,
        USER_TAG: _CONTROL,
        ASSISTANT_TAG: _CONTROL,
    }
    pieces = b""
    for piece, index in sorted(vocab.items(), key=lambda kv: kv[1]):
        if piece in special_types:
            kind, score = special_types[piece], 0.0
        elif piece in BYTE_TOKENS:
            kind, score = _BYTE, 0.0
        elif piece in merge_rank:
            kind, score = _NORMAL, -float(merge_rank[piece])
        else:  # a single character of the alphabet: never produced by a merge
            kind, score = _NORMAL, -float(n_merges + index)
        pieces += _bytes_field(
            1, _bytes_field(1, piece.encode()) + _float_field(2, score) + _int_field(3, kind)
        )
    trainer_spec = (
        _int_field(3, 2)  # model_type = BPE
        + _int_field(4, len(vocab))  # vocab_size
        + _int_field(35, 1)  # byte_fallback
        + _int_field(40, 0)  # unk_id
        + _int_field(41, 1)  # bos_id
        + _int_field(42, 2)  # eos_id
        + _int_field(43, 3)  # pad_id
    )
    normalizer_spec = (
        _bytes_field(1, b"identity")
        + _int_field(3, 0)  # add_dummy_prefix
        + _int_field(4, 0)  # remove_extra_whitespaces
        + _int_field(5, 1)  # escape_whitespaces
    )
    return pieces + _bytes_field(2, trainer_spec) + _bytes_field(3, normalizer_spec)
