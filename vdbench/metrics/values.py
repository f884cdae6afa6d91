"""Topic values v_t(T)_s: mean over prompts of the mean over that prompt's samples."""

from __future__ import annotations

import pandas as pd

from vdbench.evalsets.topics import STANCES

PROB_COLUMNS: tuple[str, ...] = tuple(f"p_{s}" for s in STANCES)
VALUE_COLUMNS: tuple[str, ...] = tuple(f"v_{s}" for s in STANCES)
GROUP_KEYS: tuple[str, str] = ("topic", "step")
SAMPLE_COLUMNS: tuple[str, ...] = ("topic", "step", "prompt_id", "sample_idx", *PROB_COLUMNS)


def judged_samples(df: pd.DataFrame) -> pd.DataFrame:
    """Validate a long table of judged samples; drop unjudged rows; sort deterministically.

    Rows with any missing probability count as missing samples. The sort on
    (topic, step, prompt_id, sample_idx) makes results independent of input row order.
    Raises ValueError when a required column is absent.
    """
    missing = [c for c in SAMPLE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"judged samples lack column(s): {', '.join(missing)}")
    out = df.dropna(subset=list(PROB_COLUMNS))
    return out.sort_values(["topic", "step", "prompt_id", "sample_idx"], kind="stable")


def topic_values(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (topic, step): v_s = mean over prompts of the per-prompt sample mean.

    Input: one row per judged sample with topic, step, prompt_id, sample_idx, p_support,
    p_neutral, p_oppose (and optionally `fraction`, the checkpoint's fraction of training).
    Output columns: topic, step, [fraction], v_support, v_neutral, v_oppose, n_prompts,
    n_samples. A prompt with fewer samples weighs the same as any other (this is not the
    pooled mean over samples); a prompt with no judged sample does not count.
    """
    samples = judged_samples(df)
    keys = [*GROUP_KEYS, "prompt_id"]
    per_prompt = samples.groupby(keys, sort=True)[list(PROB_COLUMNS)].mean()
    per_prompt["n"] = samples.groupby(keys, sort=True).size()
    grouped = per_prompt.groupby(level=list(GROUP_KEYS), sort=True)
    out = grouped[list(PROB_COLUMNS)].mean()
    out.columns = list(VALUE_COLUMNS)
    out["n_prompts"] = grouped.size().astype("int64")
    out["n_samples"] = grouped["n"].sum().astype("int64")
    out = out.reset_index()
    if "fraction" in samples.columns:
        frac = samples.groupby(list(GROUP_KEYS), sort=True)["fraction"].first()
        out.insert(2, "fraction", frac.to_numpy(dtype=float))
    return out
