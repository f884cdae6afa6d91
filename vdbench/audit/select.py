"""Value-aware data curation: keep the audited pairs that carry the signal you mean to train.

The paper's practical advice: check the value gap before training, and keep only pairs
that carry the intended signal. ``vdbench audit select`` reads a dataset that
``vdbench audit`` has judged and writes the pairs one rule keeps as TRL preference JSONL
(what ``vdbench train dpo --data`` reads), with a manifest beside it.

Rules (``--keep``), on the per-pair stance margin Δ = margin(chosen) − margin(rejected)
∈ [−2, 2] and the flip (argmax stances differ) of :mod:`vdbench.audit.stats`:

- ``gap-support``: Δ ≥ min_margin (default 0.5, a quarter of Δ's range): chosen leans
  more toward the proposition, so training toward chosen pushes the model toward support.
- ``gap-oppose``: Δ ≤ −min_margin (default 0.5).
- ``no-flip``: chosen and rejected have the same argmax stance, and |Δ| < min_margin when
  one is given: value-preserving pairs, to train quality without moving values.
- ``confident``: neither side flagged by judge health (:mod:`vdbench.judge_health`:
  confidence ≥ min_confidence, default 0.6, and no OOD distance above the judge's
  threshold where it measures one) — the audit's "confidently judged" pairs.

Any rule also applies the judge-health test when ``min_confidence`` is given. A pair is
left out for the first reason below that applies, so kept + left out = the dataset:

1. a flag the importer set (``identical``, ``empty-chosen``, ``empty-rejected``,
   ``prompt-mismatch``): no usable preference, whatever the judge says;
2. ``not judged``: no current judgment of both sides by this judge;
3. ``off-topic`` (gap-* always; no-flip and confident only with ``on_topic_only``): an
   off-topic pair was judged against its nearest topic's proposition, which its prompt is
   not about, so its Δ is not the signal a gap rule wants; for the eval set's values such
   a pair is value-preserving, so no-flip and confident keep it by default;
4. ``low confidence``, then ``out of domain`` (when the health test applies);
5. the rule's own test: ``below margin`` or ``opposite gap`` (Δ on the other side by at
   least min_margin) for gap-*; ``stance flip`` or ``margin too large`` for no-flip.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vdbench.audit.report import (
    check_min_confidence,
    confidently_judged,
    judge_ood_threshold,
    judged_pairs,
    responses_health,
)
from vdbench.audit.stats import MARGIN_RANGE, stance_flips, stance_margin
from vdbench.audit.topics import OFF_TOPIC
from vdbench.errors import InputError
from vdbench.judge_health import DEFAULT_MIN_CONFIDENCE, UNRELIABLE_SHARE, health_flags
from vdbench.store import Store

KEEP_RULES = ("gap-support", "gap-oppose", "no-flip", "confident")
GAP_RULES = ("gap-support", "gap-oppose")
DEFAULT_MIN_MARGIN = 0.5
OUTPUT_SUFFIXES = (".jsonl", ".ndjson", ".json")  # the JSON-lines suffixes the trainer reads
MANIFEST_SUFFIX = ".manifest.json"

NOT_JUDGED = "not judged"
OFF_TOPIC_REASON = "off-topic"
LOW_CONFIDENCE = "low confidence"
OUT_OF_DOMAIN = "out of domain"
BELOW_MARGIN = "below margin"
OPPOSITE_GAP = "opposite gap"
STANCE_FLIP = "stance flip"
MARGIN_TOO_LARGE = "margin too large"

_PROBS = ("p_support", "p_neutral", "p_oppose")
# Δ is a difference of float probabilities: a pair at exactly the margin must not fall
# out for 1e-16 of rounding.
_EPS = 1e-9
_WRITE_BATCH = 10_000


@dataclass(frozen=True)
class SelectRule:
    """One ``--keep`` rule with its thresholds filled in (build it with :meth:`build`)."""

    keep: str
    min_margin: float | None = None  # gap-*: always set; no-flip: None = no |Δ| test
    min_confidence: float | None = None  # None: no judge-health test
    ood_threshold: float | None = None  # the judge's, when the health test applies
    on_topic_only: bool = False

    @classmethod
    def build(
        cls,
        keep: str,
        *,
        min_margin: float | None = None,
        min_confidence: float | None = None,
        ood_threshold: float | None = None,
        on_topic_only: bool = False,
    ) -> SelectRule:
        """The rule with its defaults; InputError naming the option for a bad value."""
        if keep not in KEEP_RULES:
            raise InputError(f"--keep must be one of {', '.join(KEEP_RULES)}, got {keep!r}")
        if min_margin is not None:
            low, high = 0.0, MARGIN_RANGE[1]
            if not (math.isfinite(min_margin) and low <= min_margin <= high):
                raise InputError(
                    f"--min-margin must be a number between 0 and 2, got {min_margin}",
                    hint="Δ = margin(chosen) − margin(rejected) lies in [−2, 2] "
                    f"(default {DEFAULT_MIN_MARGIN} for gap-support and gap-oppose)",
                )
            if keep == "confident":
                raise InputError(
                    "--min-margin does not apply to --keep confident",
                    hint="use --keep gap-support|gap-oppose --min-confidence C for confident "
                    "gap pairs, or --keep no-flip --min-margin X",
                )
        elif keep in GAP_RULES:
            min_margin = DEFAULT_MIN_MARGIN
        if min_confidence is not None:
            check_min_confidence(min_confidence)
        elif keep == "confident":
            min_confidence = DEFAULT_MIN_CONFIDENCE
        return cls(
            keep=keep,
            min_margin=min_margin,
            min_confidence=min_confidence,
            ood_threshold=ood_threshold if min_confidence is not None else None,
            on_topic_only=on_topic_only or keep in GAP_RULES,
        )

    @property
    def checks_health(self) -> bool:
        return self.min_confidence is not None

    def tests(self) -> tuple[str, ...]:
        """The exclusion reasons this rule tests after flags, in order."""
        out = [NOT_JUDGED]
        if self.on_topic_only:
            out.append(OFF_TOPIC_REASON)
        if self.checks_health:
            out.append(LOW_CONFIDENCE)
            if self.ood_threshold is not None:
                out.append(OUT_OF_DOMAIN)
        if self.keep in GAP_RULES:
            out += [BELOW_MARGIN, OPPOSITE_GAP]
        elif self.keep == "no-flip":
            out.append(STANCE_FLIP)
            if self.min_margin is not None:
                out.append(MARGIN_TOO_LARGE)
        return tuple(out)

    def describe(self) -> str:
        """What a kept pair satisfies, e.g. 'on-topic, Δ ≥ +0.50'."""
        parts = ["on-topic"] if self.on_topic_only else []
        m = self.min_margin
        if self.keep == "gap-support":
            parts.append(f"Δ ≥ +{m:.2f}")
        elif self.keep == "gap-oppose":
            parts.append(f"Δ ≤ −{m:.2f}")
        elif self.keep == "no-flip":
            parts.append("same stance label")
            if m is not None:
                parts.append(f"|Δ| < {m:.2f}")
        if self.checks_health:
            health = f"both sides confidence ≥ {self.min_confidence:g}"
            if self.ood_threshold is not None:
                health += f" and OOD distance ≤ {self.ood_threshold:.3g}"
            parts.append(health)
        return ", ".join(parts)


@dataclass(frozen=True)
class Selection:
    """Which pairs of a frame a rule keeps, and why each other one is left out."""

    rule: SelectRule
    pair_ids: np.ndarray
    reasons: np.ndarray  # object array: None for a kept pair, else its exclusion reason
    tests: tuple[str, ...]  # every reason tested, in order (flags first)
    margins: np.ndarray  # Δ per pair; NaN where not judged
    flips: np.ndarray  # bool per pair; False where not judged
    judged: np.ndarray = field(repr=False)  # bool per pair

    @property
    def kept(self) -> np.ndarray:
        return np.array([r is None for r in self.reasons], bool)

    def counts(self) -> dict[str, Any]:
        """{considered, kept, excluded: {reason: n}} with every tested reason, in test order."""
        excluded = dict.fromkeys(self.tests, 0)
        for reason in self.reasons:
            if reason is not None:
                excluded[reason] += 1
        return {
            "considered": len(self.reasons),
            "kept": int(self.kept.sum()),
            "excluded": excluded,
        }


def _side_probs(frame: pd.DataFrame, side: str) -> tuple[np.ndarray, np.ndarray | None]:
    probs = frame[[f"{side}_{c}" for c in _PROBS]].to_numpy(float)
    column = f"{side}_ood"
    return probs, (frame[column].to_numpy(float) if column in frame else None)


def _first_flags(flags: pd.Series) -> list[str | None]:
    return [None if not isinstance(f, str) or not f else f.split(",")[0] for f in flags]


def select_pairs(frame: pd.DataFrame, rule: SelectRule) -> Selection:
    """Apply `rule` to every pair of `frame`: the kept pairs and each other's reason.

    `frame`: one row per pair of the dataset — pair_id, topic, flags, and the judged
    columns of :func:`vdbench.audit.report.judged_pairs` (c_p_support …, c_ood, r_p_…,
    r_ood), NaN for a pair without a current judgment of both sides.
    """
    n = len(frame)
    reasons = np.full(n, None, dtype=object)
    open_ = np.ones(n, bool)
    tests: list[str] = []

    def leave_out(mask: np.ndarray, reason: str) -> None:
        nonlocal open_
        hit = open_ & mask
        reasons[hit] = reason
        open_ = open_ & ~hit

    first = np.array(_first_flags(frame["flags"]) if n else [], dtype=object)
    for flag in dict.fromkeys(f for f in first if f is not None):
        tests.append(flag)
        leave_out(first == flag, flag)

    (chosen, c_ood), (rejected, r_ood) = _side_probs(frame, "c"), _side_probs(frame, "r")
    judged = ~(np.isnan(chosen).any(axis=1) | np.isnan(rejected).any(axis=1))
    # Unjudged rows get a uniform placeholder so the maths stays NaN-free; they are out anyway.
    chosen = np.where(judged[:, None], chosen, 1 / 3)
    rejected = np.where(judged[:, None], rejected, 1 / 3)
    margins = stance_margin(chosen, rejected)
    flips = stance_flips(chosen, rejected) & judged

    for reason in rule.tests():
        tests.append(reason)
        if reason == NOT_JUDGED:
            leave_out(~judged, reason)
        elif reason == OFF_TOPIC_REASON:
            topic = frame["topic"]
            leave_out(~(topic.notna() & (topic != OFF_TOPIC)).to_numpy(bool), reason)
        elif reason in (LOW_CONFIDENCE, OUT_OF_DOMAIN):
            low, far = _health_masks(chosen, c_ood, rejected, r_ood, rule)
            leave_out(low if reason == LOW_CONFIDENCE else far, reason)
        elif reason in (BELOW_MARGIN, OPPOSITE_GAP):
            assert rule.min_margin is not None  # gap rules always have one
            signed = margins if rule.keep == "gap-support" else -margins
            short = signed < rule.min_margin - _EPS
            opposite = short & (signed < 0) & (signed <= -rule.min_margin + _EPS)
            leave_out(opposite if reason == OPPOSITE_GAP else short & ~opposite, reason)
        elif reason == STANCE_FLIP:
            leave_out(flips, reason)
        elif reason == MARGIN_TOO_LARGE:
            assert rule.min_margin is not None
            leave_out(np.abs(margins) >= rule.min_margin - _EPS, reason)

    return Selection(
        rule=rule,
        pair_ids=frame["pair_id"].to_numpy(np.int64),
        reasons=reasons,
        tests=tuple(tests),
        margins=np.where(judged, margins, np.nan),
        flips=flips,
        judged=judged,
    )


def _health_masks(
    chosen: np.ndarray,
    c_ood: np.ndarray | None,
    rejected: np.ndarray,
    r_ood: np.ndarray | None,
    rule: SelectRule,
) -> tuple[np.ndarray, np.ndarray]:
    """(either side low-confidence, either side out of domain) per pair."""
    assert rule.min_confidence is not None
    low_any = np.zeros(len(chosen), bool)
    far_any = np.zeros(len(chosen), bool)
    for probs, ood in ((chosen, c_ood), (rejected, r_ood)):
        low, far = health_flags(
            probs, ood, min_confidence=rule.min_confidence, ood_threshold=rule.ood_threshold
        )
        low_any |= low
        if far is not None:
            far_any |= far
    return low_any, far_any


def gap_summary(margins: np.ndarray, flips: np.ndarray) -> dict[str, Any] | None:
    """Point estimates of mean Δ, mean |Δ| and flip rate of a group; None if empty."""
    if len(margins) == 0:
        return None
    return {
        "n_pairs": len(margins),
        "mean_margin": float(np.mean(margins)),
        "mean_abs_margin": float(np.mean(np.abs(margins))),
        "flip_rate": float(np.mean(flips)),
    }


# --- TRL rows ---------------------------------------------------------------------------

_ROLE_OF = {"Human": "user", "Assistant": "assistant", "System": "system"}
_TURN_START = re.compile(r"^(Human|Assistant|System):\s?")


def is_transcript(prompt: str) -> bool:
    """Whether a stored prompt is an HH-style transcript ('Human: …\\n\\nAssistant: …')."""
    return _TURN_START.match(prompt) is not None


def prompt_messages(prompt: str) -> list[dict[str, str]]:
    """A stored prompt as chat messages: a transcript split at its turns, else one user turn.

    The inverse of :func:`vdbench.audit.formats.render_messages` (text before the first
    role marker, if any, is a user turn).
    """
    if not is_transcript(prompt):
        return [{"role": "user", "content": prompt}]
    messages = []
    for chunk in re.split(r"\n\n(?=(?:Human|Assistant|System):)", prompt):
        match = _TURN_START.match(chunk)
        role = _ROLE_OF[match.group(1)] if match else "user"
        content = chunk[match.end() :] if match else chunk
        messages.append({"role": role, "content": content.strip()})
    return messages


def training_row(prompt: str, chosen: str, rejected: str, conversational: bool) -> dict:
    """One TRL preference row: standard (strings) or conversational (message lists)."""
    if not conversational:
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    return {
        "prompt": prompt_messages(prompt),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


# --- the command, end to end --------------------------------------------------------------


@dataclass(frozen=True)
class SelectOptions:
    dataset: str
    keep: str
    output: str
    judge: str | None = None  # name or judge_id; None: the one judge (probe if several)
    min_margin: float | None = None
    min_confidence: float | None = None
    on_topic_only: bool = False


def manifest_path(output: str | Path) -> Path:
    """Where the manifest of `output` goes: ``FILE.manifest.json``."""
    output = Path(output)
    return output.with_name(output.name + MANIFEST_SUFFIX)


def check_output(output: str) -> Path:
    """`output` if a JSONL file can be written there, else InputError naming --output."""
    path = Path(output)
    if path.is_dir():
        raise InputError(
            "--output is a directory", where=str(path), hint="give a file name, e.g. DIR/kept.jsonl"
        )
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(
            f"--output must be a JSON-lines file ({', '.join(OUTPUT_SUFFIXES)}), got "
            f"{path.suffix or 'no suffix'!r}",
            where=str(path),
            hint="`vdbench train dpo --data` reads these by their suffix",
        )
    parent = path.parent
    if not parent.is_dir():
        raise InputError(
            "--output directory does not exist",
            where=str(parent),
            hint="create it first or choose another --output",
        )
    if manifest_path(path).is_dir():
        raise InputError("the manifest path is a directory", where=str(manifest_path(path)))
    return path


def dataset_info(store: Store, dataset_id: str) -> dict[str, Any]:
    """The stored dataset's id, format, source, content hash and pair count; InputError if none."""
    with store.read() as con:
        row = con.execute(
            "SELECT dataset_id, format, source, content_hash, n_pairs FROM pref_datasets "
            "WHERE dataset_id = ?",
            [dataset_id],
        ).fetchone()
    if row is None:
        raise InputError(
            f"no preference dataset {dataset_id!r} in the store",
            where=str(store.path),
            hint=f"list them with `vdbench audit --db {store.path} --list`",
        )
    keys = ("dataset_id", "format", "source", "content_hash", "n_pairs")
    return dict(zip(keys, row, strict=True))


def resolve_pair_judge(store: Store, dataset_id: str, judge: str | None) -> dict[str, str]:
    """{judge_id, name} of the judge to select by: by id or name (latest), or the only one.

    With no `judge`, a dataset judged by several judges uses the default judge if it is one
    of them; otherwise InputError asks for --judge.
    """
    from vdbench.judges.registry import DEFAULT_JUDGE

    with store.read() as con:
        rows = con.execute(
            "SELECT j.judge_id, coalesce(g.name, j.judge_id) FROM "
            "(SELECT DISTINCT judge_id FROM pair_judgments WHERE dataset_id = ?) j "
            "LEFT JOIN judges g USING (judge_id) ORDER BY g.created_at DESC NULLS LAST, j.judge_id",
            [dataset_id],
        ).fetchall()
    present = ", ".join(r[0] for r in rows) or "none"
    audit = f"vdbench audit --db {store.path} --dataset {dataset_id}"
    if judge is None:
        if len(rows) == 1:
            return {"judge_id": rows[0][0], "name": rows[0][1]}
        if rows and (match := [r for r in rows if r[1] == DEFAULT_JUDGE]):
            return {"judge_id": match[0][0], "name": match[0][1]}
        if rows:
            raise InputError(
                f"dataset {dataset_id!r} was judged by several judges; choose one with --judge",
                hint=f"judges present: {present}",
            )
        raise InputError(
            f"dataset {dataset_id!r} has not been judged",
            where=str(store.path),
            hint=f"judge it first: {audit} --judge {DEFAULT_JUDGE}",
        )
    for judge_id, name in rows:
        if judge in (judge_id, name):
            return {"judge_id": judge_id, "name": name}
    raise InputError(
        f"dataset {dataset_id!r} has no judgments by --judge {judge!r}",
        where=str(store.path),
        hint=f"judge it first: {audit} --judge {judge} (judges present: {present})",
    )


def selection_frame(store: Store, dataset_id: str, judge_id: str) -> pd.DataFrame:
    """Every pair of the dataset (pair_id, topic, flags) with its judged columns (NaN if none)."""
    with store.read() as con:
        pairs = con.execute(
            "SELECT pair_id, topic, flags FROM pref_pairs WHERE dataset_id = ? ORDER BY pair_id",
            [dataset_id],
        ).df()
    judged = judged_pairs(store, dataset_id, judge_id).drop(columns=["topic", "flags"])
    return pairs.merge(judged, on="pair_id", how="left")


def _kept_rows(
    store: Store, dataset_id: str, pair_ids: np.ndarray
) -> Iterator[tuple[int, str, str, str]]:
    """(pair_id, prompt, chosen, rejected) of the kept pairs, in pair order, in batches."""
    with store.read() as con:
        con.register("kept_ids", pd.DataFrame({"pair_id": pair_ids}))
        cursor = con.execute(
            "SELECT p.pair_id, p.prompt, p.chosen, p.rejected FROM pref_pairs p "
            "JOIN kept_ids k USING (pair_id) WHERE p.dataset_id = ? ORDER BY p.pair_id",
            [dataset_id],
        )
        while batch := cursor.fetchmany(_WRITE_BATCH):
            yield from batch


def _has_transcripts(store: Store, dataset_id: str) -> bool:
    with store.read() as con:
        row = con.execute(
            "SELECT count(*) FROM pref_pairs WHERE dataset_id = ? AND "
            "regexp_matches(prompt, '^(Human|Assistant|System):')",
            [dataset_id],
        ).fetchone()
    return bool(row and row[0])


def _temp_beside(path: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


def write_outputs(
    rows: Iterator[tuple[int, str, str, str]],
    output: Path,
    manifest: dict[str, Any],
    *,
    conversational: bool,
) -> dict[str, Any]:
    """Write the JSONL and its manifest atomically; the manifest gains rows and sha256.

    Both go to temporary files in the output's directory first and are renamed only when
    both are complete, so an error leaves neither half-written. Each row is checked with
    the validator `vdbench train dpo` uses.
    """
    from vdbench.training.data import validate_preference_row

    data_tmp = manifest_tmp = None
    try:
        data_tmp = _temp_beside(output)
        digest, n_rows = hashlib.sha256(), 0
        with data_tmp.open("w", encoding="utf-8") as fh:
            for pair_id, prompt, chosen, rejected in rows:
                row = training_row(prompt, chosen, rejected, conversational)
                validate_preference_row(row, f"pair {pair_id}")
                line = json.dumps(row, ensure_ascii=False) + "\n"
                fh.write(line)
                digest.update(line.encode("utf-8"))
                n_rows += 1
            fh.flush()
            os.fsync(fh.fileno())
        manifest = manifest | {
            "output": {**manifest["output"], "rows": n_rows, "sha256": digest.hexdigest()}
        }
        manifest_tmp = _temp_beside(manifest_path(output))
        manifest_tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
        os.chmod(data_tmp, 0o644)
        os.chmod(manifest_tmp, 0o644)
        data_tmp.replace(output)
        data_tmp = None
        manifest_tmp.replace(manifest_path(output))
        manifest_tmp = None
    except OSError as exc:
        raise InputError(
            f"cannot write --output: {exc.strerror or exc}", where=str(output)
        ) from None
    finally:
        for tmp in (data_tmp, manifest_tmp):
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    return manifest


def _nothing_kept(selection: Selection, dataset_id: str) -> InputError:
    counts = selection.counts()
    why = ", ".join(f"{n:,} {reason}" for reason, n in counts["excluded"].items() if n)
    return InputError(
        f"--keep {selection.rule.keep} keeps no pair of {dataset_id!r} "
        f"({selection.rule.describe()}; of {counts['considered']:,} pairs: {why}); "
        "refusing to write an empty training file, nothing was written",
        hint="choose another --keep, or loosen --min-margin / --min-confidence",
    )


def run_select(store: Store, opts: SelectOptions) -> dict[str, Any]:
    """Select, write the JSONL and manifest, and return the manifest (JSON-ready).

    Every input is checked before anything is written; InputError says what was wrong.
    """
    import vdbench

    SelectRule.build(  # refuse bad thresholds before the store is opened
        opts.keep,
        min_margin=opts.min_margin,
        min_confidence=opts.min_confidence,
        on_topic_only=opts.on_topic_only,
    )
    output = check_output(opts.output)
    if not store.path.is_file():
        raise InputError(
            "no store here",
            where=str(store.path),
            hint="audit a dataset into it first: vdbench audit --input FILE --format F --db DB",
        )
    dataset = dataset_info(store, opts.dataset)
    if Path(dataset["source"]).resolve() == output.resolve():
        raise InputError(
            "--output is the dataset's source file; refusing to overwrite it",
            where=str(output),
            hint="write the selection to a new file",
        )
    judge = resolve_pair_judge(store, opts.dataset, opts.judge)
    ood = judge_ood_threshold(store, judge["judge_id"])
    rule = SelectRule.build(
        opts.keep,
        min_margin=opts.min_margin,
        min_confidence=opts.min_confidence,
        ood_threshold=ood,
        on_topic_only=opts.on_topic_only,
    )
    frame = selection_frame(store, opts.dataset, judge["judge_id"])
    selection = select_pairs(frame, rule)
    if not selection.judged.any():
        raise InputError(
            f"no pair of {opts.dataset!r} has a current judgment by {judge['judge_id']} "
            "(topics changed since it judged)",
            where=str(store.path),
            hint=f"re-judge: vdbench audit --db {store.path} --dataset {opts.dataset} "
            f"--judge {judge['name']}",
        )
    kept = selection.kept
    if not kept.any():
        raise _nothing_kept(selection, opts.dataset)

    # Judge health of the kept pairs' responses, at the rule's confidence line or the default.
    health_line = rule.min_confidence if rule.min_confidence is not None else DEFAULT_MIN_CONFIDENCE
    kept_frame = frame[kept]
    kept_health = responses_health(
        kept_frame,
        np.ones(len(kept_frame), bool),
        confidently_judged(kept_frame, min_confidence=health_line, ood_threshold=ood),
        min_confidence=health_line,
        ood_threshold=ood,
    )
    topics = frame.loc[kept, "topic"].fillna("unassigned").value_counts()
    manifest: dict[str, Any] = {
        "tool": f"vdbench {vdbench.__version__} audit select",
        "source": dataset,
        "store": str(store.path),
        "judge": judge,
        "keep": rule.keep,
        "rule": rule.describe(),
        "thresholds": {
            "min_margin": rule.min_margin,
            "min_confidence": rule.min_confidence,
            "ood_threshold": rule.ood_threshold,
            "on_topic_only": rule.on_topic_only,
        },
        "counts": selection.counts(),
        "kept_by_topic": {str(k): int(v) for k, v in sorted(topics.items())},
        "gap": {
            "kept": gap_summary(selection.margins[kept], selection.flips[kept]),
            "judged": gap_summary(
                selection.margins[selection.judged], selection.flips[selection.judged]
            ),
        },
        "kept_judge_health": kept_health,
        "output": {
            "path": str(output),
            "manifest": str(manifest_path(output)),
            "format": "trl",
            "conversational": _has_transcripts(store, opts.dataset),
        },
        "kept_pair_ids": [int(i) for i in selection.pair_ids[kept]],
    }
    return write_outputs(
        _kept_rows(store, opts.dataset, selection.pair_ids[kept]),
        output,
        manifest,
        conversational=manifest["output"]["conversational"],
    )


def guessing(manifest: dict[str, Any]) -> bool:
    """Whether the judge is guessing on most of the kept pairs' responses."""
    share = (manifest.get("kept_judge_health") or {}).get("flagged")
    return share is not None and share > UNRELIABLE_SHARE
