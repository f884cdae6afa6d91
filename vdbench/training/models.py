"""Load local Hugging Face causal LMs safely.

`check_model_dir` runs before anything heavy: the directory must hold a config, weights
and a tokenizer, and a model whose code lives in its directory (``auto_map`` in its
config, or a model type transformers does not know) is refused unless the caller passed
``trust_remote_code=True`` (`--trust-remote-code`). Loading never reaches a hub: every
path is local and ``local_files_only`` is set.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vdbench.errors import InputError

log = logging.getLogger(__name__)

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt",
                   "spiece.model", "sentencepiece.bpe.model")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json",
                   "*.pt", "*.pth")

# Used only when a tokenizer has no chat template of its own. The assistant answer and
# its end-of-sequence token sit inside `{% generation %}` so TRL can train on answers only.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "Assistant:\n{% generation %}{{ message['content'] }}{{ eos_token }}{% endgeneration %}\n"
    "{% else %}"
    "{{ message['role'] | capitalize }}:\n{{ message['content'] }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:\n{% endif %}"
)


@dataclass(frozen=True)
class ModelDir:
    """What `check_model_dir` learned about a model directory."""

    path: Path
    model_type: str | None
    needs_remote_code: bool
    code_files: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path.name}: {exc}", where=str(path)) from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name} is not a JSON object", where=str(path))
    return data


def _known_model_type(model_type: str | None) -> bool:
    if model_type is None:
        return False
    from transformers import CONFIG_MAPPING

    return model_type in CONFIG_MAPPING


def check_model_dir(path: str | Path, *, trust_remote_code: bool = False,
                    require_weights: bool = True, require_tokenizer: bool = True) -> ModelDir:
    """Validate a local model directory without loading it; raise InputError if unusable.

    Checks: it is a directory, has config.json, weights and tokenizer files, and does not
    need code from the directory unless `trust_remote_code` is True.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError("model directory not found", where=str(path),
                         hint="pass a local directory written by save_pretrained (no hub access)")
    if not path.is_dir():
        raise InputError("not a directory; --model wants a save_pretrained directory", where=str(path))
    config_path = path / "config.json"
    if not config_path.exists():
        raise InputError("no config.json: this is not a Hugging Face model directory",
                         where=str(path), hint="point --model at the directory holding config.json")
    config = _read_json(config_path)
    if require_weights and not any(any(path.glob(p)) for p in WEIGHT_PATTERNS):
        raise InputError("no weights (*.safetensors or *.bin) in the model directory", where=str(path))
    tokenizer_config = path / "tokenizer_config.json"
    tok_cfg = _read_json(tokenizer_config) if tokenizer_config.exists() else {}
    if require_tokenizer and not any((path / f).exists() for f in TOKENIZER_FILES):
        raise InputError(
            "no tokenizer in the model directory (none of "
            f"{', '.join(TOKENIZER_FILES)})", where=str(path),
            hint="save the tokenizer next to the model (tokenizer.save_pretrained(DIR))"
            " or pass --tokenizer DIR where the command offers it",
        )
    model_type = config.get("model_type")
    needs_code = bool(config.get("auto_map")) or bool(tok_cfg.get("auto_map")) or not _known_model_type(model_type)
    code_files = tuple(sorted(p.name for p in path.glob("*.py")))
    info = ModelDir(path=path, model_type=model_type, needs_remote_code=needs_code,
                    code_files=code_files, config=config)
    if needs_code and not trust_remote_code:
        why = (f"its config maps classes to code in the directory ({', '.join(code_files) or 'auto_map'})"
               if config.get("auto_map") or tok_cfg.get("auto_map")
               else f"transformers does not know model_type {model_type!r}")
        raise InputError(
            f"loading this model would run Python code from its directory: {why}",
            where=str(path),
            hint="read that code first; pass --trust-remote-code only if you trust it",
        )
    return info


def resolve_dtype(name: str | None):
    """torch dtype from "float32" | "bfloat16" | "float16" | "auto" | None (None: float32)."""
    import torch

    if name in (None, "float32", "fp32"):
        return torch.float32
    if name == "auto":
        return "auto"
    table = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16,
             "fp16": torch.float16}
    if name not in table:
        raise InputError(f"unknown dtype {name!r}", hint="use float32, bfloat16, float16 or auto")
    return table[name]


def load_tokenizer(path: str | Path, *, trust_remote_code: bool = False):
    """The directory's tokenizer, with a pad token and a chat template guaranteed.

    A missing pad token becomes unk (else eos); a missing chat template becomes
    FALLBACK_CHAT_TEMPLATE. Both substitutions are logged.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code,
                                              local_files_only=True)
    if tokenizer.pad_token is None:
        substitute = tokenizer.unk_token if tokenizer.unk_token not in (None, tokenizer.eos_token) else tokenizer.eos_token
        tokenizer.pad_token = substitute
        log.warning("tokenizer has no pad token; padding with %r", substitute)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
        log.warning("tokenizer has no chat template; using vdbench's plain 'Role:' template")
    return tokenizer


def load_causal_lm(path: str | Path, *, trust_remote_code: bool = False, dtype: str | None = None,
                   device: str | None = None):
    """A causal LM from a checked local directory (see `check_model_dir`)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(path), trust_remote_code=trust_remote_code, dtype=resolve_dtype(dtype),
        local_files_only=True,
    )
    if device is not None:
        model = model.to(device)  # type: ignore[arg-type]  # transformers' stub wants a model here
    return model


def load_model_and_tokenizer(path: str | Path, *, trust_remote_code: bool = False,
                             dtype: str | None = None, device: str | None = None,
                             tokenizer_path: str | Path | None = None):
    """check_model_dir + tokenizer (from `tokenizer_path` if given) + model; pad ids agree."""
    check_model_dir(path, trust_remote_code=trust_remote_code, require_tokenizer=tokenizer_path is None)
    if tokenizer_path is not None:
        check_model_dir(tokenizer_path, trust_remote_code=trust_remote_code, require_weights=False)
    tokenizer = load_tokenizer(tokenizer_path or path, trust_remote_code=trust_remote_code)
    model = load_causal_lm(path, trust_remote_code=trust_remote_code, dtype=dtype, device=device)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
