"""`gguf` judge: any local GGUF model through llama-cpp-python, scored like `hf`.

Same template, same letters, same softmax over the letters' next-token logits (read
with ``llama_get_logits_ith(ctx, -1)`` after each evaluation; ``logits_all`` stays off).
Tokenisation is the GGUF model's own. Prefix reuse keeps what the KV cache already holds:
before each item the context is cut back to the longest token prefix the item shares
with what was evaluated last (at least the template's fixed prefix), and only the rest is
evaluated. The chat template is the one in the file's ``tokenizer.chat_template`` metadata,
rendered as `hf` renders the tokenizer's (transformers' Jinja renderer), with the GGUF's
BOS/EOS texts as ``bos_token``/``eos_token``.

Manifest options: ``n_threads`` (1), ``max_input_tokens`` (2048, capped by the model's
training context), ``debias_order`` (false), ``reuse_prefix`` (true), ``n_gpu_layers``
(0), ``kv_cache_type`` ("f32": an f16 cache, llama.cpp's own default, halves
its memory but moves p(s) by ~1e-3), ``n_batch`` (512), ``batch_size`` (16: items
tokenised ahead; evaluation is one item at a time), ``chat_template`` ("auto" | "off"),
``answer_prefix`` (""), as for `hf`. Not thread-safe: one judge per thread.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vdbench.errors import JudgeError
from vdbench.judges.base import JudgeIdentity, JudgeItem, JudgeScore
from vdbench.judges.prompting import (
    StancePrompt,
    check_options,
    common_prefix_length,
    drop_repeated_bos,
    int_option,
    letter_token_ids,
    score_with_letter_logits,
    variant_logits,
)
from vdbench.judges.registry import file_hash, make_judge_id, resolve_model_path

KNOWN_OPTIONS = frozenset(
    {
        "n_threads",
        "max_input_tokens",
        "debias_order",
        "reuse_prefix",
        "n_gpu_layers",
        "kv_cache_type",
        "n_batch",
        "batch_size",
        "chat_template",
        "answer_prefix",
    }
)
DEFAULT_MAX_INPUT_TOKENS = 2048
KV_CACHE_TYPES = {"f32": 0, "f16": 1}  # ggml_type values


def check_model_file(path: Path, manifest_path: Path | None = None) -> None:
    """Fail with the missing path when `path` is not a GGUF file."""
    hint = (
        f"edit 'model' in {manifest_path} (better, in a copy of its directory) to point at a local .gguf file"
        if manifest_path
        else "pass a local .gguf file"
    )
    if not path.exists():
        raise JudgeError("GGUF model file not found", where=str(path), hint=hint)
    if path.is_dir():
        raise JudgeError(
            "expected a .gguf file, found a directory",
            where=str(path),
            hint=hint + " (a transformers directory needs the hf backend)",
        )
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise JudgeError("not a GGUF file (bad magic bytes)", where=str(path), hint=hint)


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise JudgeError(
            "the gguf judge needs llama-cpp-python",
            hint="pip install -e '.[gguf]' (builds from source; see scripts/setup_env.sh)",
        ) from None
    return llama_cpp


def _training_context(llama_cpp: Any, path: Path) -> int:
    """The model's training context length from its GGUF metadata (weights not loaded)."""
    from llama_cpp._internals import LlamaModel

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    try:
        model = LlamaModel(path_model=str(path), params=params, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise JudgeError(
            f"llama.cpp cannot load the model: {exc}",
            where=str(path),
            hint="is it a complete GGUF file of an architecture this llama.cpp supports?",
        ) from None
    try:
        metadata = model.metadata()
    finally:
        model.close()
    value = metadata.get(f"{metadata.get('general.architecture', '')}.context_length", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_INPUT_TOKENS


class GGUFJudge:
    """Scores items with a local GGUF model (see module docstring)."""

    backend = "gguf"

    def __init__(
        self,
        model_path: str | Path,
        *,
        prompt: StancePrompt | None = None,
        name: str = "gguf",
        options: dict[str, Any] | None = None,
        manifest: dict[str, Any] | None = None,
        manifest_path: Path | None = None,
    ):
        options = dict(options or {})
        where = check_options(options, KNOWN_OPTIONS, "gguf", manifest_path)
        self.model_path = Path(model_path).expanduser()
        check_model_file(self.model_path, manifest_path)
        self.prompt = prompt or StancePrompt.from_manifest({"options": options}, Path("."))
        self.reuse_prefix = bool(options.get("reuse_prefix", True))
        n_threads = int_option(options, "n_threads", 1, where=where) or 1
        requested = int_option(options, "max_input_tokens", DEFAULT_MAX_INPUT_TOKENS, where=where)
        n_batch = int_option(options, "n_batch", 512, where=where) or 512
        n_gpu_layers = int_option(options, "n_gpu_layers", 0, minimum=-1, where=where) or 0
        kv_type = str(options.get("kv_cache_type", "f32"))
        if kv_type not in KV_CACHE_TYPES:
            raise JudgeError(
                f"kv_cache_type must be one of {', '.join(KV_CACHE_TYPES)}, got {kv_type!r}",
                where=where,
            )
        # Items go one at a time (prefix reuse makes that cheap); `batch_size` only sets
        # how many are tokenised ahead.
        self.batch_size = int_option(options, "batch_size", 16, where=where) or 16

        llama_cpp = import_llama_cpp()
        self._llama_cpp = llama_cpp
        n_ctx = min(
            requested or DEFAULT_MAX_INPUT_TOKENS, _training_context(llama_cpp, self.model_path)
        )
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_batch=min(n_batch, n_ctx),
                n_ubatch=min(n_batch, n_ctx),
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=n_gpu_layers,
                logits_all=False,
                verbose=False,
                type_k=KV_CACHE_TYPES[kv_type],
                type_v=KV_CACHE_TYPES[kv_type],
            )
        except (ValueError, RuntimeError) as exc:
            raise JudgeError(
                f"llama.cpp cannot load the model: {exc}",
                where=str(self.model_path),
                hint="is it a complete GGUF file of an architecture this llama.cpp supports?",
            ) from None
        # llama.cpp frees the model in __del__, which fails during interpreter shutdown;
        # closing it here (on collection or at exit, whichever first) avoids that.
        self._finalizer = weakref.finalize(self, self.llm.close)
        self.max_input_tokens = min(n_ctx, self.llm.n_ctx())
        # Recurrent state cannot be cut back to a prefix: evaluate every item from scratch.
        if getattr(self.llm, "_is_recurrent", False) or getattr(self.llm, "_is_hybrid", False):
            self.reuse_prefix = False
        self._bos_id = self.llm.token_bos() if self.llm.token_bos() >= 0 else None
        self.prompt = self.prompt.for_model(
            self.llm.metadata.get("tokenizer.chat_template") or None,
            self._special_texts(),
            where=str(self.model_path),
        )
        # Per letter, the ids of its variants (" A", "A", ...), as for hf.
        self.letter_ids = letter_token_ids(
            self.prompt, self.encode_plain, where=str(self.model_path)
        )
        self._flat_letter_ids = [i for group in self.letter_ids for i in group]
        self._evaluated: list[int] = []

        template_hash = self.prompt.template_hash
        model_hash = file_hash(self.model_path.resolve())
        record = dict(manifest or {})
        record.setdefault("backend", "gguf")
        self.identity = JudgeIdentity(
            judge_id=make_judge_id(name, template_hash, model_hash),
            name=name,
            backend="gguf",
            model=str(self.model_path),
            template_hash=template_hash,
            model_hash=model_hash,
            manifest=record,
        )

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], manifest_path: Path) -> GGUFJudge:
        if not manifest.get("model"):
            raise JudgeError(
                "gguf judge manifest lacks 'model' (a .gguf file)", where=str(manifest_path)
            )
        model_path = resolve_model_path(manifest_path, str(manifest["model"]))
        check_model_file(model_path, manifest_path)
        return cls(
            model_path,
            prompt=StancePrompt.from_manifest(manifest, manifest_path),
            name=str(manifest["name"]),
            options=dict(manifest.get("options") or {}),
            manifest=manifest,
            manifest_path=manifest_path,
        )

    def close(self) -> None:
        """Free the llama.cpp model and context now (also done on collection and at exit)."""
        self._finalizer()

    def __enter__(self) -> GGUFJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _special_texts(self) -> dict[str, str]:
        """bos_token/eos_token as the chat template sees them (their text in the vocabulary)."""
        texts = {}
        for key, token in (
            ("bos_token", self.llm.token_bos()),
            ("eos_token", self.llm.token_eos()),
        ):
            if token >= 0:
                texts[key] = self.llm.detokenize([token], special=True).decode("utf-8", "replace")
        return texts

    def encode(self, text: str) -> list[int]:
        """Token ids of a whole prompt: BOS as the GGUF metadata says (once, even when the
        chat template writes one too), special tokens parsed."""
        ids = list(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))
        return drop_repeated_bos(ids, self._bos_id)

    def encode_plain(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]:
        """p(s) per item, in order. Empty responses get p_neutral=1 without the model."""
        return score_with_letter_logits(
            self.prompt,
            items,
            self.encode,
            self.letter_logits,
            max_input_tokens=self.max_input_tokens,
            batch_size=self.batch_size,
        )

    def letter_logits(self, batch: list[list[int]]) -> list[list[float]]:
        """Next-token logits of the letters after each id list, one evaluation each."""
        rows = []
        for ids in batch:
            keep = 0
            if self.reuse_prefix:
                keep = min(common_prefix_length(self._evaluated, ids), len(ids) - 1)
            if keep == 0:
                self.llm.reset()
            else:
                self.llm.n_tokens = keep  # eval() drops KV entries from here on
            self._evaluated = []  # unknown state if eval fails half-way
            try:
                self.llm.eval(ids[keep:])
            except RuntimeError as exc:
                raise JudgeError(
                    f"llama.cpp failed to evaluate a prompt of {len(ids)} tokens: {exc}",
                    where=str(self.model_path),
                ) from None
            self._evaluated = list(ids)
            logits = self._llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
            row = [float(logits[token]) for token in self._flat_letter_ids]
            rows.append(variant_logits(row, self.letter_ids))
        return rows
