"""Judges by name. Each judge is a manifest in ``judge_models/<name>/manifest.json``
(or any directory/file the user points at) that names a backend and its options.

Manifest keys: ``name``, ``backend`` (probe | crossenc | hf | gguf | openai), ``model`` (a path
relative to the manifest's directory, an absolute path, or a model name for openai),
``template`` (a file next to the manifest; hashed into the judge id), ``label_options``
(letter → stance), ``options`` (backend-specific: batch_size, n_threads, ...).
Users copy a manifest directory, edit it, and pass its path as ``--judge``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from vdbench.errors import JudgeError
from vdbench.judges.base import Judge

# The judge every command uses unless told otherwise (and the one `metrics` prefers when a
# run has several). It is the one `vdbench judge eval` measured best on the built-in sets.
DEFAULT_JUDGE = "probe"

BACKENDS = {
    "probe": "vdbench.judges.probe:ProbeJudge",
    "crossenc": "vdbench.judges.crossenc:CrossEncoderJudge",
    "hf": "vdbench.judges.hf:HFJudge",
    "gguf": "vdbench.judges.gguf:GGUFJudge",
    "openai": "vdbench.judges.openai_judge:OpenAIJudge",
}


def judge_models_dir() -> Path:
    """judge_models/, reached through the package's ``_judge_models`` link (editable or wheel)."""
    return Path(str(resources.files("vdbench") / "_judge_models"))


def list_manifests() -> dict[str, Path]:
    """Built-in judge names → manifest file."""
    return {p.parent.name: p for p in sorted(judge_models_dir().glob("*/manifest.json"))}


def find_manifest(name_or_path: str) -> Path:
    """A built-in name, a manifest file, or a directory holding manifest.json."""
    builtins = list_manifests()
    if name_or_path in builtins:
        return builtins[name_or_path]
    path = Path(name_or_path)
    if path.is_dir() and (path / "manifest.json").exists():
        return path / "manifest.json"
    if path.is_file():
        return path
    raise JudgeError(
        f"unknown judge {name_or_path!r}",
        hint=f"built-in judges: {', '.join(builtins) or '(none)'}; or pass a manifest path "
        "(see `vdbench judge list`)",
    )


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JudgeError(f"cannot read judge manifest: {exc}", where=str(path)) from None
    for key in ("name", "backend"):
        if key not in manifest:
            raise JudgeError(f"judge manifest lacks {key!r}", where=str(path))
    if manifest["backend"] not in BACKENDS:
        raise JudgeError(f"unknown backend {manifest['backend']!r}", where=str(path),
                         hint=f"backends: {', '.join(BACKENDS)}")
    return manifest


def resolve_model_path(manifest_path: Path, model: str) -> Path:
    """A manifest's model path, relative to the manifest's directory unless absolute."""
    path = Path(model).expanduser()
    return path if path.is_absolute() else (manifest_path.parent / path)


@cache
def file_hash(path: Path) -> str:
    """sha256 of a file (first 16 hex chars), or of a directory's weight files."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix in {".safetensors", ".bin", ".gguf", ".json", ".npz"}
    )
    for file in files:
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_judge_id(name: str, template_hash: str, model_hash: str) -> str:
    """``name:tttttttt:mmmmmmmm`` — a changed template or model is a different judge."""
    return f"{name}:{template_hash[:8]}:{model_hash[:8]}"


def load_judge(name_or_path: str = DEFAULT_JUDGE, **overrides: Any) -> Judge:
    """Build a judge from its manifest; `overrides` replace manifest keys or options."""
    path = find_manifest(name_or_path)
    manifest = read_manifest(path)
    options = dict(manifest.get("options", {}))
    for key, value in overrides.items():
        if value is None:
            continue
        if key in {"model", "template", "name", "option_descriptions"}:
            manifest[key] = value
        else:
            options[key] = value
    manifest["options"] = options
    module_name, cls_name = BACKENDS[manifest["backend"]].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls.from_manifest(manifest, path)
