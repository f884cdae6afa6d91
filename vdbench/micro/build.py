"""Build (or load from cache) the micro world: tokenizer, pre-trained base model, datasets.

Layout of a build directory:
  base/                      save_pretrained model + tokenizer (+ tokenizer.model)
  data/pretrain.jsonl        the pre-training rows (messages + stance/quality)
  data/chat_sft.jsonl        SFT, ~70% neutral answers (WildChat-like)
  data/instruct_sft.jsonl    SFT, ~70% support answers (Alpaca-like)
  data/style_pref.jsonl      preferences: same stance, chosen good vs rejected sloppy
  data/gap_support_pref.jsonl preferences: chosen support vs rejected oppose/neutral
  data/gap_oppose_pref.jsonl  preferences: chosen oppose vs rejected support/neutral
  manifest.json              config hash, file digests, pre-training stats (written last)

Everything is a function of the seed: the same seed gives byte-identical datasets and
tokenizer files and, on the same torch build, the same weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from vdbench.errors import InputError
from vdbench.micro.corpus import (
    CORPUS_VERSION,
    corpus_file,
    generate_examples,
    preference_rows,
    sft_row,
)
from vdbench.micro.files import DATASET_FILES
from vdbench.micro.model import (
    MicroModelConfig,
    PretrainConfig,
    count_parameters,
    pinned_threads,
    pretrain,
    render_training_sequences,
)
from vdbench.micro.tokenizer import save_micro_tokenizer, train_micro_tokenizer
from vdbench.progress import ProgressFn

BUILD_VERSION = "micro-build-2"
BUILD_MARKER = ".vdbench-micro"  # marks a directory whose base/ and data/ a build may replace



@dataclass(frozen=True)
class MicroWorldConfig:
    """Everything a build depends on besides the seed; hashed into the cache key."""

    steps: int = 600
    vocab_size: int = 1000
    pretrain_rows: int = 6000
    sft_rows: int = 1500
    preference_rows: int = 1500
    sloppy_share: float = 0.25
    skew: float = 0.70  # share of the dominant stance in the skewed SFT sets
    model: MicroModelConfig = field(default_factory=MicroModelConfig)
    batch_size: int = 32
    learning_rate: float = 3e-3
    prompt_loss: bool = False  # pre-training loss on answers only (the model reads prompts)

    def pretrain_config(self) -> PretrainConfig:
        return PretrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            prompt_loss=self.prompt_loss,
        )

    def config_hash(self, seed: int) -> str:
        payload = {
            "build": BUILD_VERSION,
            "corpus": CORPUS_VERSION,
            # the phrase banks' bytes: an edit to corpus.json rebuilds even if the version is not bumped
            "corpus_file": hashlib.sha256(corpus_file().read_bytes()).hexdigest()[:16],
            "seed": seed,
            "config": asdict(self),
            "pretrain": asdict(self.pretrain_config()),
        }
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class MicroWorld:
    """Paths of a complete micro-world build and what the manifest records about it."""

    root: Path
    seed: int
    config_hash: str
    manifest: dict
    from_cache: bool = False  # True when an existing build was returned unchanged

    @property
    def base(self) -> Path:
        """The pre-trained model + tokenizer directory (AutoModelForCausalLM-loadable)."""
        return self.root / "base"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def datasets(self) -> dict[str, Path]:
        """Dataset name ("chat", "instruct", "style", "gap-support", ...) -> JSONL path."""
        return {name: self.data_dir / file for name, file in DATASET_FILES.items()}

    @property
    def pretrain(self) -> Path:
        return self.datasets["pretrain"]

    @property
    def chat_sft(self) -> Path:
        return self.datasets["chat"]

    @property
    def instruct_sft(self) -> Path:
        return self.datasets["instruct"]

    @property
    def style_pref(self) -> Path:
        return self.datasets["style"]

    @property
    def gap_support_pref(self) -> Path:
        return self.datasets["gap-support"]

    @property
    def gap_oppose_pref(self) -> Path:
        return self.datasets["gap-oppose"]


def _skewed(dominant: str, skew: float) -> dict[str, float]:
    rest = (1 - skew) / 2
    return {s: (skew if s == dominant else rest) for s in ("support", "neutral", "oppose")}


def _gap_pairs(
    chosen: str, rejected: Sequence[str], sloppy_share: float
) -> list[tuple[tuple[str, str], tuple[str, str], float]]:
    # Quality matched within a pair (and sloppy at the corpus rate), so only stance differs.
    kinds = []
    for other in rejected:
        for quality, share in (("good", 1 - sloppy_share), ("sloppy", sloppy_share)):
            kinds.append(((chosen, quality), (other, quality), share / len(rejected)))
    return kinds


def build_datasets(seed: int, config: MicroWorldConfig) -> dict[str, list[dict]]:
    """All micro datasets as rows, keyed like `DATASET_FILES`. Pure function of the seed."""

    def rng(name: str) -> random.Random:
        return random.Random(f"vdbench-micro:{seed}:{name}")

    balanced = {"support": 1.0, "neutral": 1.0, "oppose": 1.0}
    pretrain_examples = generate_examples(
        config.pretrain_rows, rng("pretrain"), balanced, config.sloppy_share
    )
    style_kinds = [
        ((stance, "good"), (stance, "sloppy"), 1.0) for stance in ("support", "neutral", "oppose")
    ]
    return {
        "pretrain": [sft_row(e) for e in pretrain_examples],
        "chat": [
            sft_row(e)
            for e in generate_examples(
                config.sft_rows,
                rng("chat"),
                _skewed("neutral", config.skew),
                config.sloppy_share,
            )
        ],
        "instruct": [
            sft_row(e)
            for e in generate_examples(
                config.sft_rows,
                rng("instruct"),
                _skewed("support", config.skew),
                config.sloppy_share,
            )
        ],
        "style": preference_rows(config.preference_rows, rng("style"), style_kinds),
        "gap-support": preference_rows(
            config.preference_rows,
            rng("gap-support"),
            _gap_pairs("support", ("oppose", "neutral"), config.sloppy_share),
        ),
        "gap-oppose": preference_rows(
            config.preference_rows,
            rng("gap-oppose"),
            _gap_pairs("oppose", ("support", "neutral"), config.sloppy_share),
        ),
    }


def _write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_cached(out_dir: Path, seed: int, config_hash: str) -> MicroWorld | None:
    manifest_path = out_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("config_hash") != config_hash:
        return None
    for rel, digest in manifest.get("files", {}).items():
        path = out_dir / rel
        if not path.is_file() or _digest(path) != digest:
            return None
    return MicroWorld(
        root=out_dir, seed=seed, config_hash=config_hash, manifest=manifest, from_cache=True
    )


def build_micro_world(
    out_dir: Path,
    seed: int = 0,
    steps: int = 600,
    *,
    config: MicroWorldConfig | None = None,
    num_threads: int | None = 1,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> MicroWorld:
    """Build the micro world into `out_dir`, or return the cached build there.

    A build is reused when `out_dir/manifest.json` records the same seed/config hash
    and every file still matches its recorded digest; `force` rebuilds regardless.
    `steps` overrides `config.steps`. Torch runs with `num_threads` threads (None: as
    is). Takes ~1-2 minutes at 600 steps on 2 CPU cores; `progress(phase, done, total)`
    hears about it.
    """
    import torch
    from transformers import LlamaForCausalLM

    config = replace(config or MicroWorldConfig(), steps=steps)
    if steps < 1:
        raise InputError(f"steps must be at least 1, got {steps}")
    out_dir = Path(out_dir)
    config_hash = config.config_hash(seed)
    if not force and (cached := _load_cached(out_dir, seed, config_hash)):
        return cached

    base_dir, data_dir = out_dir / "base", out_dir / "data"
    marker = out_dir / BUILD_MARKER
    foreign = [p.name for p in (base_dir, data_dir) if p.exists()]
    ours = marker.exists() or (out_dir / "manifest.json").is_file()
    if foreign and not ours:
        # Never delete directories this function did not create.
        raise InputError(
            f"{out_dir} already holds {' and '.join(foreign)}/ not written by the micro-world build",
            hint="choose an empty or new --out directory",
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text("written by vdbench.micro.build_micro_world\n")
        (out_dir / "manifest.json").unlink(missing_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot write the micro world to {out_dir}: {exc.strerror}",
            hint="choose a writable --out directory",
        ) from exc
    for stale in (base_dir, data_dir):
        if stale.exists():
            shutil.rmtree(stale)
    data_dir.mkdir()

    datasets = build_datasets(seed, config)
    for name, rows in datasets.items():
        _write_jsonl(data_dir / DATASET_FILES[name], rows)

    pretrain_rows = datasets["pretrain"]
    texts = [m["content"] for r in pretrain_rows for m in r["messages"]]
    tokenizer = train_micro_tokenizer(texts, vocab_size=config.vocab_size)
    save_micro_tokenizer(tokenizer, base_dir)

    with pinned_threads(num_threads):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config.model.to_llama_config(tokenizer))
        sequences = render_training_sequences(tokenizer, [r["messages"] for r in pretrain_rows])
        result = pretrain(
            model, sequences, tokenizer.pad_token_id, config.pretrain_config(), seed=seed,
            progress=progress,
        )
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.save_pretrained(base_dir)

    files = sorted(
        p.relative_to(out_dir).as_posix()
        for p in (*base_dir.rglob("*"), *data_dir.rglob("*"))
        if p.is_file()
    )
    manifest = {
        "config_hash": config_hash,
        "seed": seed,
        "build_version": BUILD_VERSION,
        "corpus_version": CORPUS_VERSION,
        "config": asdict(config),
        "parameters": count_parameters(model),
        "vocab_size": len(tokenizer),
        "tokenizer": "byte-fallback BPE (SentencePiece-style, Metaspace)",
        "torch": torch.__version__,
        "pretrain": {
            "steps": result.steps,
            "seconds": round(result.seconds, 2),
            "cpu_seconds": round(result.cpu_seconds, 2),
            "final_loss": round(result.final_loss, 4),
            "loss_curve": [[s, round(loss, 4)] for s, loss in result.loss_curve],
            "threads": num_threads,
        },
        "rows": {name: len(rows) for name, rows in datasets.items()},
        "files": {rel: _digest(out_dir / rel) for rel in files},
    }
    tmp = out_dir / f".manifest.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out_dir / "manifest.json")
    return MicroWorld(root=out_dir, seed=seed, config_hash=config_hash, manifest=manifest)
