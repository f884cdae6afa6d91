"""The audit with the real default judge (probe) and MiniLM topic assignment.

- A generated gap-support set audits with a large mean |Δ| and flip rate and predicts
  drift toward support; the style-only set (same stance, different quality) with small ones.
- Eval-set questions land on their own topic at the default threshold.
- Real HH-RLHF pairs (../shared/data, skipped where absent) import and audit offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from vdbench.audit.synth import SynthConfig, TemplateSource, synth_pairs, write_jsonl
from vdbench.cli import main
from vdbench.evalsets import get_eval_set

pytestmark = pytest.mark.slow

HH = SHARED_DATA / "hh-rlhf-harmless-base-test.jsonl.gz"


@pytest.fixture(scope="module")
def probe_ready() -> None:
    """Skip only where the probe was never built; a built probe that fails to load fails."""
    from vdbench.judges.registry import list_manifests

    if "probe" not in list_manifests():
        pytest.skip(
            "the probe judge is not built here (judge_models/probe/manifest.json missing; "
            "run scripts/train_probe.py)"
        )


def _audit(db: Path, path: Path, capsys, *extra: str) -> dict:
    rc = main(
        [
            "audit",
            "--input",
            str(path),
            "--format",
            "trl",
            "--db",
            str(db),
            "--json",
            "--quiet",
            "--n-boot",
            "500",
            *extra,
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def test_gap_support_set_shows_a_large_gap_and_style_set_a_small_one(tmp_path, probe_ready, capsys):
    evalset = get_eval_set("vprism-mini")
    source = TemplateSource(list(evalset.topics))
    db = tmp_path / "audit.duckdb"
    reports = {}
    for name, gap in (("gap-support", 1.0), ("style", 0.0)):
        rows, _ = synth_pairs(
            evalset, SynthConfig(align="support", gap=gap, pairs_per_prompt=2), source
        )
        path = tmp_path / f"{name}.jsonl"
        write_jsonl(rows, path)
        reports[name] = _audit(db, path, capsys, "--eval-set", "vprism-mini")["gap"]["groups"][
            "all"
        ]
    gap, style = reports["gap-support"], reports["style"]
    assert gap["n_pairs"] == style["n_pairs"] == 110
    # Measured with the probe: gap |Δ| 1.60, flip 87%, JS 0.55; style |Δ| 0.33, flip 23%,
    # JS 0.016 (the probe reads curt writing as slightly more supportive: a judge bias
    # the audit exposes rather than hides).
    assert gap["mean_abs_margin"] > 1.0 and gap["flip_rate"] > 0.6, gap
    assert gap["direction"] == "toward support"
    assert style["mean_abs_margin"] < 0.5 and style["flip_rate"] < 0.35, style
    assert gap["mean_abs_margin"] > 3 * style["mean_abs_margin"]
    assert gap["flip_rate"] > 2.5 * style["flip_rate"]
    assert gap["js_divergence"] > 10 * style["js_divergence"]


def test_eval_questions_land_on_their_topic_with_minilm(tmp_path):
    from vdbench.audit.topics import DEFAULT_THRESHOLD, TopicIndex, default_embedder

    evalset = get_eval_set("vprism")
    index = TopicIndex.build(evalset, default_embedder)
    probes = evalset.prompts[::5]  # 110 questions, 10 per topic
    nearest, scores = index.nearest([p.text for p in probes], default_embedder)
    right = sum(n == p.topic for n, p in zip(nearest, probes, strict=True)) / len(probes)
    kept = float((scores >= DEFAULT_THRESHOLD).mean())
    assert right >= 0.9 and kept >= 0.85, (right, kept)
    off, off_scores = index.nearest(
        ["What's a good recipe for banana bread?", "How do I reset my router password?"],
        default_embedder,
    )
    assert (off_scores < DEFAULT_THRESHOLD).all(), (off, off_scores)


@pytest.mark.skipif(
    not HH.exists(),
    reason=f"shared HH-RLHF data not found at {HH} "
    "(it lives outside the repository, in ../shared/data)",
)
def test_real_hh_rlhf_pairs_audit_offline(tmp_path, probe_ready, capsys):
    db = tmp_path / "hh.duckdb"
    rc = main(
        [
            "audit",
            "--input",
            str(HH),
            "--format",
            "hh-rlhf",
            "--db",
            str(db),
            "--limit",
            "150",
            "--json",
            "--quiet",
            "--n-boot",
            "200",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["dataset"]["n_pairs"] == 150 and report["dataset"]["n_skipped"] == 0
    topics = report["topics"]
    assert topics["off_topic"] > topics["on_topic"]  # harmlessness data is mostly off-topic
    assert report["judge"]["pairs_judged"] == 150
    groups = report["gap"]["groups"]
    assert groups["all"]["n_pairs"] == 150
    assert 0 <= groups["all"]["mean_abs_margin"] <= 2
