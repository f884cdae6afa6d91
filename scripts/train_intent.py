"""Train the value-question filter `vdbench prompts build --filter local` uses.

    python scripts/train_intent.py [--seed 0] [--epochs 3] [--threads 2]

all-MiniLM-L6-v2 (bundled) with a peft LoRA adapter (r=16 on query/key/value/dense) and a
linear 3-way head (value / help / harmful) over the mean-pooled prompt tokens.

Training data:
- ``scripts/data/intent_written.jsonl``: examples we wrote (value questions in many
  phrasings and topics, requests for information/help, harmful requests, boundary cases);
- the hand-labelled HH-RLHF harmless-base test first turns of the ``train`` split
  (``benchmarks/data/hh_value_labels.jsonl``; texts read from ``../shared/data``, MIT);
- 200 prompts of the built-in V-PRISM eval set, as value questions.

The threshold comes from K-fold cross-validation over the HH train split (folds by turn
id): each fold's turns are scored by a model trained without them, and the threshold is
the lowest whose out-of-fold precision is at least ``--min-precision`` (highest recall at
that precision); the shipped model is then trained on all the training data.
The ``eval`` split of the hand labels is never read here: `benchmarks/bench_value_filter.py`
measures the shipped filter on it.

Writes ``vdbench/data/intent/``: ``adapter/`` (safetensors), ``head.safetensors`` and
``intent.json`` (recipe, data hashes, the threshold, the out-of-fold curve).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from benchmarks.hh_prompts import LABELS_FILE, first_turns, labels_with_split  # noqa: E402
from vdbench.evalsets.intent import CLASSES, INTENT_DIR, MAX_LENGTH, mean_pooled  # noqa: E402
from vdbench.judges.crossenc import linear_head  # noqa: E402

WRITTEN = ROOT / "scripts" / "data" / "intent_written.jsonl"
LORA_TARGETS = ["query", "key", "value", "dense"]
N_VPRISM = 200
THRESHOLDS = [round(float(t), 2) for t in np.arange(0.30, 0.96, 0.05)]


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def fold_of(turn_id: str, k: int) -> int:
    return int(turn_id, 16) % k


def training_data(seed: int) -> tuple[list[str], list[int], list[str], dict]:
    """(texts, labels, HH turn id or "" per text, sources)."""
    from vdbench.evalsets.registry import builtin_eval_set

    texts, ys, ids = [], [], []
    with open(WRITTEN, encoding="utf-8") as fh:
        written = [json.loads(line) for line in fh if line.strip()]
    for row in written:
        texts.append(row["text"])
        ys.append(CLASSES.index(row["label"]))
        ids.append("")
    turns = first_turns()
    n_hh = 0
    for turn_id, (label, split) in sorted(labels_with_split().items()):
        if split == "train":  # the eval split is never read here
            texts.append(turns[turn_id])
            ys.append(CLASSES.index(label))
            ids.append(turn_id)
            n_hh += 1
    vprism = [p.text for p in builtin_eval_set("vprism").prompts]
    for text in random.Random(seed).sample(vprism, N_VPRISM):
        texts.append(text)
        ys.append(CLASSES.index("value"))
        ids.append("")
    sources = {"written": len(written), "written_sha": file_sha(WRITTEN), "hh_train": n_hh,
               "labels_sha": file_sha(LABELS_FILE), "vprism": N_VPRISM}
    return texts, ys, ids, sources


def encode(tokenizer, texts: list[str]) -> dict:
    batch = dict(tokenizer(texts, truncation=True, max_length=MAX_LENGTH, padding=True,
                           return_tensors="pt"))
    batch.pop("token_type_ids", None)
    return batch


def predict(model, head, tokenizer, texts: list[str], batch_size: int = 64) -> np.ndarray:
    import torch

    model.eval()
    head.eval()
    probs = np.zeros((len(texts), len(CLASSES)))
    with torch.inference_mode():
        for s in range(0, len(texts), batch_size):
            logits = head(mean_pooled(model, encode(tokenizer, texts[s:s + batch_size])))
            probs[s:s + batch_size] = torch.softmax(logits.double(), -1).numpy()
    return probs


def pr_curve(p_value: np.ndarray, is_value: np.ndarray) -> list[dict]:
    curve = []
    for t in THRESHOLDS:
        kept = p_value >= t
        tp = int((kept & is_value).sum())
        curve.append({"threshold": t, "kept": int(kept.sum()),
                      "precision": round(tp / max(1, int(kept.sum())), 4),
                      "recall": round(tp / max(1, int(is_value.sum())), 4)})
    return curve


def choose_threshold(curve: list[dict], min_precision: float) -> float:
    """The lowest threshold reaching `min_precision` (so the highest recall at it); else
    the threshold of best precision."""
    for point in curve:
        if point["precision"] >= min_precision and point["kept"]:
            return point["threshold"]
    return max(curve, key=lambda c: (c["precision"], -c["threshold"]))["threshold"]


def train_model(texts: list[str], ys: list[int], args, log_prefix: str = ""):
    """A fresh LoRA adapter + head trained on (texts, ys); returns (peft model, head, stats)."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model

    from vdbench.judges.crossenc import load_base_encoder

    torch.manual_seed(args.seed)
    tokenizer, base = load_base_encoder()
    config = LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=args.rank, lora_alpha=2 * args.rank,
                        lora_dropout=0.1, target_modules=LORA_TARGETS)
    model = get_peft_model(base, config)
    head = linear_head(hidden=base.config.hidden_size, classes=len(CLASSES))
    dropout = torch.nn.Dropout(0.1)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad) + sum(
        p.numel() for p in head.parameters())
    rng = random.Random(args.seed)
    y = torch.tensor(ys)
    total_steps = int(math.ceil(len(texts) / args.batch_size) * args.epochs)
    optim = torch.optim.AdamW(
        [{"params": [p for p in model.parameters() if p.requires_grad], "lr": args.lr},
         {"params": list(head.parameters()), "lr": args.head_lr}], weight_decay=0.01)
    warmup = max(1, total_steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / (total_steps - warmup))))
    loss_fn = torch.nn.CrossEntropyLoss()
    start, step, losses = time.perf_counter(), 0, []
    model.train()
    head.train()
    while step < total_steps:
        order = list(range(len(texts)))
        rng.shuffle(order)
        for s in range(0, len(order), args.batch_size):
            if step >= total_steps:
                break
            idx = order[s:s + args.batch_size]
            logits = head(dropout(mean_pooled(model, encode(tokenizer, [texts[i] for i in idx]))))
            loss = loss_fn(logits, y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            losses.append(loss.item())
            step += 1
            if step % 100 == 0 or step == total_steps:
                print(f"{log_prefix}step {step}/{total_steps} loss {np.mean(losses[-50:]):.4f} "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    stats = {"trainable_parameters": trainable, "steps": total_steps,
             "seconds": round(time.perf_counter() - start, 1), "final_loss": float(np.mean(losses[-50:]))}
    return model, head, tokenizer, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=5e-4, help="LoRA learning rate")
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for the threshold")
    parser.add_argument("--min-precision", type=float, default=0.875,
                        help="out-of-fold precision the threshold must reach (default 0.875)")
    parser.add_argument("--out", type=Path, default=INTENT_DIR)
    parser.add_argument("--oof-out", type=Path, help="also write each HH train turn's out-of-fold "
                        "p(value) and label here (JSONL, for error analysis; never shipped)")
    parser.add_argument("--cv-only", action="store_true", help="stop after cross-validation")
    args = parser.parse_args(argv)

    import torch
    from safetensors.numpy import save_file

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    started = time.perf_counter()

    texts, ys, ids, sources = training_data(args.seed)
    counts = {c: ys.count(i) for i, c in enumerate(CLASSES)}
    print(f"training prompts: {len(texts)} {counts}; sources {sources}", flush=True)
    hh = [i for i, turn in enumerate(ids) if turn]
    oof = np.full(len(texts), np.nan)
    for k in range(args.folds):
        held = [i for i in hh if fold_of(ids[i], args.folds) == k]
        held_set = set(held)
        train_idx = [i for i in range(len(texts)) if i not in held_set]
        model, head, tokenizer, _ = train_model([texts[i] for i in train_idx], [ys[i] for i in train_idx],
                                                args, log_prefix=f"fold {k + 1}/{args.folds} ")
        oof[held] = predict(model.merge_and_unload(), head, tokenizer, [texts[i] for i in held])[:, 0]
    is_value = np.array([ys[i] == 0 for i in hh])
    curve = pr_curve(oof[hh], is_value)
    threshold = choose_threshold(curve, args.min_precision)
    chosen = next(c for c in curve if c["threshold"] == threshold)
    print(f"threshold {threshold}: out-of-fold {chosen}", flush=True)
    if args.oof_out:
        args.oof_out.write_text("".join(json.dumps({"id": ids[i], "p_value": round(float(oof[i]), 4),
                                                    "label": CLASSES[ys[i]]}) + "\n" for i in hh))
    if args.cv_only:
        return 0

    model, head, tokenizer, stats = train_model(texts, ys, args, log_prefix="final ")
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(args.out / "adapter"), safe_serialization=True)  # before merging
    save_file({"weight": head.weight.detach().numpy().copy(), "bias": head.bias.detach().numpy().copy()},
              str(args.out / "head.safetensors"))
    info = {
        "recipe": "all-MiniLM-L6-v2 (bundled) + LoRA on query/key/value/dense; mean-pooled prompt "
                  "tokens → linear 3-way head (value / help / harmful); keep when p(value) ≥ threshold",
        "classes": list(CLASSES), "threshold": threshold,
        "threshold_rule": f"lowest threshold with out-of-fold precision ≥ {args.min_precision} over "
                          f"the HH train split ({args.folds} folds by turn id)",
        "out_of_fold": {"n": len(hh), "positives": int(is_value.sum()), "at_threshold": chosen,
                        "curve": curve},
        "seed": args.seed, "epochs": args.epochs, "lr": args.lr, "head_lr": args.head_lr,
        "batch_size": args.batch_size, "rank": args.rank, "max_length": MAX_LENGTH,
        "threads": args.threads, "train_prompts": len(texts), "train_counts": counts,
        "sources": sources, **stats, "total_seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
        "attribution": "trained in part on hand labels of HH-RLHF first turns (Anthropic, MIT)",
    }
    (args.out / "intent.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
