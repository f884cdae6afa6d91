"""Output health of one generated sample: a stance shift bought by a collapsing model is
not a value drift, so every sample is classified next to its stance.

Categories, first match wins: ``empty`` (nothing but whitespace), ``degenerate`` (under
half of the characters are letters, or one character repeated), ``repetitive`` (a word
3-gram pattern covers most of the text, or one word repeated 6+ times in a row),
``truncated`` (generation hit the token limit without end-of-sequence), else ``ok``.
"""

from __future__ import annotations

import re
from collections import Counter

HEALTH_LABELS = ("ok", "empty", "truncated", "repetitive", "degenerate")
_WORD = re.compile(r"\w+", re.UNICODE)


def is_repetitive(text: str) -> bool:
    """True when a short pattern repeats: distinct 3-grams < 50% or a word 6× in a row."""
    words = [w.lower() for w in _WORD.findall(text)]
    run = 1
    for prev, cur in zip(words, words[1:], strict=False):
        run = run + 1 if cur == prev else 1
        if run >= 6:
            return True
    if len(words) < 12:
        return False
    grams = list(zip(words, words[1:], words[2:], strict=False))
    return len(set(grams)) / len(grams) < 0.5


def is_degenerate(text: str) -> bool:
    stripped = "".join(text.split())
    if not stripped:
        return False
    letters = sum(ch.isalpha() for ch in stripped)
    if letters / len(stripped) < 0.5:
        return True
    most = Counter(stripped).most_common(1)[0][1]
    return len(stripped) >= 8 and most / len(stripped) > 0.5


def classify_health(text: str, hit_token_limit: bool = False) -> str:
    """One of HEALTH_LABELS for a generated response."""
    if not text.strip():
        return "empty"
    if is_degenerate(text):
        return "degenerate"
    if is_repetitive(text):
        return "repetitive"
    if hit_token_limit:
        return "truncated"
    return "ok"
