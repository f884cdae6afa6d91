"""`hf` judge: any local transformers causal LM, scored by next-token label logits.

The prompt (see `prompting`) ends where the answer letter goes; p(s) is the softmax over
the letters' logits. Batches are left-padded with an attention mask and explicit position
ids, so every row's answer position is the last column. The shared instruction prefix is
run once: its KV cache is copied to each batch and only the per-item suffix is run.
With a chat template in the tokenizer (and ``chat_template`` not "off"), the filled judge
template is the user turn and the letter is read after the assistant's generation prompt
(and ``answer_prefix``); the shared prefix is then cut from the rendered chat.

Manifest options: ``batch_size`` (8), ``dtype`` ("float32"; "auto", "bfloat16",
"float16"), ``device`` ("auto": cuda when available), ``max_input_tokens`` (2048, capped by
the model's context), ``debias_order`` (false), ``reuse_prefix`` (true),
``trust_remote_code`` (false: code in the model directory is never run unless true),
``num_threads`` (torch threads while scoring; default $VDBENCH_THREADS, else unchanged),
``attn_implementation`` (transformers' default unless set), ``chat_template`` ("auto":
the tokenizer's when it has one; "off": raw template text), ``answer_prefix`` ("": text
after the generation prompt, before the letter, e.g. "Answer: ").
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
from collections.abc import Iterator, Sequence
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
    shared_prefix_ids,
    variant_logits,
)
from vdbench.judges.registry import file_hash, make_judge_id, resolve_model_path

KNOWN_OPTIONS = frozenset(
    {
        "batch_size",
        "dtype",
        "device",
        "max_input_tokens",
        "debias_order",
        "reuse_prefix",
        "trust_remote_code",
        "num_threads",
        "attn_implementation",
        "chat_template",
        "answer_prefix",
    }
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json")
DEFAULT_MAX_INPUT_TOKENS = 2048


@contextlib.contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with `num_threads` torch intra-op threads (None: leave as is)."""
    import torch

    if num_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_threads() -> int | None:
    value = os.environ.get("VDBENCH_THREADS")
    return int(value) if value and value.isdigit() and int(value) > 0 else None


def check_model_dir(path: Path, manifest_path: Path | None = None) -> None:
    """Fail with the missing path when `path` is not a loadable transformers directory."""
    hint = (
        f"edit 'model' in {manifest_path} (better, in a copy of its directory) to point at a local transformers model directory"
        if manifest_path
        else "pass a local transformers model directory"
    )
    if not path.exists():
        raise JudgeError("model directory not found", where=str(path), hint=hint)
    if not path.is_dir():
        raise JudgeError(
            "expected a transformers model directory, found a file",
            where=str(path),
            hint=hint + " (a .gguf file needs the gguf backend)",
        )
    if not (path / "config.json").is_file():
        raise JudgeError(
            "no config.json in the model directory",
            where=str(path / "config.json"),
            hint="save the model with save_pretrained() or copy its config.json",
        )
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise JudgeError(
            "no tokenizer in the model directory (looked for " + ", ".join(TOKENIZER_FILES) + ")",
            where=str(path),
            hint="save the tokenizer with tokenizer.save_pretrained() into it",
        )


class HFJudge:
    """Scores items with a local transformers causal LM (see module docstring)."""

    backend = "hf"

    def __init__(
        self,
        model_dir: str | Path,
        *,
        prompt: StancePrompt | None = None,
        name: str = "hf",
        options: dict[str, Any] | None = None,
        manifest: dict[str, Any] | None = None,
        manifest_path: Path | None = None,
    ):
        options = dict(options or {})
        where = check_options(options, KNOWN_OPTIONS, "hf", manifest_path)
        self.model_dir = Path(model_dir).expanduser()
        check_model_dir(self.model_dir, manifest_path)
        self.prompt = prompt or StancePrompt.from_manifest({"options": options}, Path("."))
        self.batch_size = int_option(options, "batch_size", 8, where=where) or 8
        self.reuse_prefix = bool(options.get("reuse_prefix", True))
        self.num_threads = int_option(options, "num_threads", default_threads(), where=where)
        trust_remote_code = options.get("trust_remote_code", False) is True

        with torch_threads(self.num_threads):
            self.tokenizer, self.model = self._load(options, trust_remote_code)
        config = self.model.config
        context = getattr(config, "max_position_embeddings", None) or DEFAULT_MAX_INPUT_TOKENS
        requested = int_option(options, "max_input_tokens", DEFAULT_MAX_INPUT_TOKENS, where=where)
        self.max_input_tokens = min(requested or DEFAULT_MAX_INPUT_TOKENS, int(context))
        self.prompt = self.prompt.for_model(
            tokenizer_chat_template(self.tokenizer),
            {
                key: str(value)
                for key in ("bos_token", "eos_token")
                if (value := getattr(self.tokenizer, key, None)) is not None
            },
            where=str(self.model_dir),
        )
        # Per letter, the ids of its variants (" A", "A", ...); logits gathered flat.
        self.letter_ids = letter_token_ids(
            self.prompt, self.encode_plain, where=str(self.model_dir)
        )
        self._flat_letter_ids = [i for group in self.letter_ids for i in group]
        self.pad_id = next(
            (
                i
                for i in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id)
                if i is not None
            ),
            0,
        )
        # One shared prefix per label rotation (the options text differs between them).
        self.prefix_ids = {
            r: shared_prefix_ids(self.prompt, self.encode, r) for r in self.prompt.rotations
        }
        self._prefix_caches: dict[int, Any] = {}
        forward_params = inspect.signature(self.model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in forward_params else "past_key_values"

        template_hash = self.prompt.template_hash
        model_hash = file_hash(self.model_dir.resolve())
        record = dict(manifest or {})
        record.setdefault("backend", "hf")
        self.identity = JudgeIdentity(
            judge_id=make_judge_id(name, template_hash, model_hash),
            name=name,
            backend="hf",
            model=str(self.model_dir),
            template_hash=template_hash,
            model_hash=model_hash,
            manifest=record,
        )

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], manifest_path: Path) -> HFJudge:
        if not manifest.get("model"):
            raise JudgeError(
                "hf judge manifest lacks 'model' (a transformers model directory)",
                where=str(manifest_path),
            )
        model_dir = resolve_model_path(manifest_path, str(manifest["model"]))
        options = dict(manifest.get("options") or {})
        check_model_dir(model_dir, manifest_path)
        return cls(
            model_dir,
            prompt=StancePrompt.from_manifest(manifest, manifest_path),
            name=str(manifest["name"]),
            options=options,
            manifest=manifest,
            manifest_path=manifest_path,
        )

    def _load(self, options: dict[str, Any], trust_remote_code: bool) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dtype_name = str(options.get("dtype", "float32"))
        if dtype_name == "auto":
            dtype: Any = "auto"
        else:
            dtype = getattr(torch, dtype_name, None)
            if not isinstance(dtype, torch.dtype):
                raise JudgeError(
                    f"unknown dtype {dtype_name!r}", hint="use float32, bfloat16, float16 or auto"
                )
        device = str(options.get("device", "auto"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device.startswith("cuda") and not torch.cuda.is_available():
            raise JudgeError(
                f"device {device!r} asked for, but torch sees no CUDA GPU",
                hint='set "device": "auto" or "cpu" in the judge manifest\'s options',
            )
        kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": trust_remote_code}
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_dir, **kwargs)
        except Exception as exc:  # transformers raises OSError/ValueError/KeyError variously
            raise JudgeError(
                f"cannot load the tokenizer: {_first_line(exc)}",
                where=str(self.model_dir),
                hint=_remote_code_hint(exc, trust_remote_code),
            ) from None
        model_kwargs = dict(kwargs, dtype=dtype)
        if options.get("attn_implementation"):
            model_kwargs["attn_implementation"] = str(options["attn_implementation"])
        try:
            model = AutoModelForCausalLM.from_pretrained(self.model_dir, **model_kwargs)
        except Exception as exc:
            raise JudgeError(
                f"cannot load the model: {_first_line(exc)}",
                where=str(self.model_dir),
                hint=_remote_code_hint(exc, trust_remote_code),
            ) from None
        self.device = torch.device(device)
        model.to(self.device)  # type: ignore[arg-type]  # transformers' wrapper typing
        model.eval()
        return tokenizer, model

    def encode(self, text: str) -> list[int]:
        """Token ids of a whole prompt, BOS as the tokenizer adds it (once, even when the
        chat template writes one too)."""
        ids = list(self.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])
        return drop_repeated_bos(ids, self.tokenizer.bos_token_id)

    def encode_plain(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]:
        """p(s) per item, in order. Empty responses get p_neutral=1 without the model."""
        with torch_threads(self.num_threads):
            return score_with_letter_logits(
                self.prompt,
                items,
                self.encode,
                self.letter_logits,
                max_input_tokens=self.max_input_tokens,
                batch_size=self.batch_size,
            )

    def letter_logits(self, batch: list[list[int]]) -> list[list[float]]:
        """Next-token logits of the letters after each id list (one forward pass)."""
        import torch

        rotation = self._shared_rotation(batch) if self.reuse_prefix else None
        prefix_len = 0 if rotation is None else len(self.prefix_ids[rotation])
        suffixes = [ids[prefix_len:] for ids in batch]
        rows, width = len(batch), max(len(s) for s in suffixes)
        input_ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((rows, width), dtype=torch.long)
        for row, suffix in enumerate(suffixes):
            input_ids[row, width - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
            mask[row, width - len(suffix) :] = 1
        # Left padding: real tokens keep their true positions, counted after the prefix.
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0) + prefix_len
        kwargs: dict[str, Any] = {}
        if rotation is not None:
            kwargs[self._cache_kwarg] = self._batch_prefix_cache(rotation, rows)
            mask = torch.cat([torch.ones((rows, prefix_len), dtype=torch.long), mask], dim=1)
            kwargs["use_cache"] = True
        else:
            kwargs["use_cache"] = False
        with torch.inference_mode():
            out = self.model(
                input_ids=input_ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=position_ids.to(self.device),
                logits_to_keep=1,
                **kwargs,
            )
        logits = out.logits[:, -1, self._flat_letter_ids].float().cpu()
        return [variant_logits(row, self.letter_ids) for row in logits.tolist()]

    def _shared_rotation(self, batch: list[list[int]]) -> int | None:
        """The rotation whose prefix every row starts with (and runs past), if any."""
        for rotation, prefix in self.prefix_ids.items():
            if prefix and all(
                len(ids) > len(prefix) and common_prefix_length(prefix, ids) == len(prefix)
                for ids in batch
            ):
                return rotation
        return None

    def _batch_prefix_cache(self, rotation: int, rows: int) -> Any:
        """A fresh copy of the rotation's prefix KV cache, repeated for `rows` rows."""
        import torch

        if rotation not in self._prefix_caches:
            ids = torch.tensor([self.prefix_ids[rotation]], dtype=torch.long, device=self.device)
            with torch.inference_mode():
                out = self.model(input_ids=ids, use_cache=True)
            # transformers ≥ 5.2x names it `cache`; earlier releases and remote code `past_key_values`.
            self._prefix_caches[rotation] = getattr(out, "cache", None) or out.past_key_values
        cache = copy.deepcopy(self._prefix_caches[rotation])
        cache.batch_repeat_interleave(rows)
        return cache


def tokenizer_chat_template(tokenizer: Any) -> str | None:
    """The tokenizer's default chat template, or None when it has none."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # named templates: the default one
        template = template.get("default")
    return template if isinstance(template, str) and template.strip() else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _remote_code_hint(exc: BaseException, trust_remote_code: bool) -> str:
    if not trust_remote_code and "trust_remote_code" in str(exc):
        return (
            "this model needs code from its directory; review it, then set "
            '"trust_remote_code": true in the judge manifest\'s options'
        )
    return "check that the directory holds a complete save_pretrained() causal LM and tokenizer"
