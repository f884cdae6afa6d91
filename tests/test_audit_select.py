"""`vdbench audit select`: keep the audited pairs that carry the signal you mean to train.

Stores are built without a model: synthetic template pairs judged by the keyword judge,
and the micro world's preference sets judged by a judge that knows each response's
stance, with topics from a topic map so every pair lands where it was written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.test_audit_fakes import KeywordJudge, hashing_embedder
from vdbench.audit.pipeline import AuditOptions, run_audit
from vdbench.audit.report import confidently_judged
from vdbench.audit.select import (
    BELOW_MARGIN,
    DEFAULT_MIN_MARGIN,
    KEEP_RULES,
    LOW_CONFIDENCE,
    MARGIN_TOO_LARGE,
    NOT_JUDGED,
    OFF_TOPIC_REASON,
    OPPOSITE_GAP,
    OUT_OF_DOMAIN,
    STANCE_FLIP,
    SelectRule,
    prompt_messages,
    select_pairs,
    training_row,
)
from vdbench.audit.synth import SynthConfig, TemplateSource, synth_pairs, write_jsonl
from vdbench.cli import main
from vdbench.errors import InputError
from vdbench.evalsets import get_eval_set
from vdbench.judge_health import DEFAULT_MIN_CONFIDENCE
from vdbench.judges.base import JudgeIdentity, JudgeScore
from vdbench.store import Store
from vdbench.training.data import load_training_data

DATA = Path(__file__).parent / "data" / "audit"
SCORES = {
    "support": (0.85, 0.1, 0.05),
    "neutral": (0.1, 0.8, 0.1),
    "oppose": (0.05, 0.1, 0.85),
}

# --- the rules on a hand-made frame ----------------------------------------------------------

SUP, OPP, NEU = SCORES["support"], SCORES["oppose"], SCORES["neutral"]
UNSURE_S = (0.5, 0.3, 0.2)  # support, confidence 0.5
UNSURE_N = (0.35, 0.45, 0.2)  # neutral, confidence 0.45
NAN3 = (np.nan, np.nan, np.nan)
# pair_id: (topic, flags, chosen, chosen ood, rejected, rejected ood); Δ by hand.
CASES = {
    1: ("abortion", None, SUP, 0.1, OPP, 0.1),  # Δ +1.6, flip
    2: ("abortion", None, SUP, 0.1, NEU, 0.1),  # Δ +0.8, flip
    3: ("abortion", None, NEU, 0.1, NEU, 0.1),  # Δ 0
    4: ("abortion", None, SUP, 0.1, SUP, 0.1),  # Δ 0
    5: ("abortion", None, OPP, 0.1, SUP, 0.1),  # Δ −1.6, flip
    6: ("abortion", None, UNSURE_S, 0.1, NEU, 0.1),  # Δ +0.3, flip, chosen unsure
    7: ("abortion", None, SUP, 0.9, OPP, 0.1),  # Δ +1.6, flip, chosen out of domain
    8: ("abortion", "identical", SUP, 0.1, OPP, 0.1),
    9: ("abortion", None, NAN3, np.nan, NAN3, np.nan),  # not judged
    10: ("off-topic", None, SUP, 0.1, OPP, 0.1),  # Δ +1.6, flip
    11: ("abortion", None, NEU, 0.1, UNSURE_N, 0.1),  # Δ −0.15, same label, rejected unsure
}


def hand_frame() -> pd.DataFrame:
    rows = []
    for pair_id, (topic, flags, c, c_ood, r, r_ood) in CASES.items():
        row = {"pair_id": pair_id, "topic": topic, "flags": flags, "c_ood": c_ood, "r_ood": r_ood}
        for side, probs in (("c", c), ("r", r)):
            row |= dict(
                zip(
                    (f"{side}_p_support", f"{side}_p_neutral", f"{side}_p_oppose"),
                    probs,
                    strict=True,
                )
            )
        rows.append(row)
    return pd.DataFrame(rows)


def kept_and_reasons(rule: SelectRule) -> tuple[set[int], dict[str, set[int]]]:
    sel = select_pairs(hand_frame(), rule)
    by_reason: dict[str, set[int]] = {}
    for pair_id, reason in zip(sel.pair_ids, sel.reasons, strict=True):
        if reason is not None:
            by_reason.setdefault(reason, set()).add(int(pair_id))
    counts = sel.counts()
    assert counts["considered"] == len(CASES)
    assert counts["kept"] + sum(counts["excluded"].values()) == len(CASES)
    assert {k: v for k, v in counts["excluded"].items() if v} == {
        k: len(v) for k, v in by_reason.items()
    }
    return {int(i) for i in sel.pair_ids[sel.kept]}, by_reason


def test_gap_support_keeps_on_topic_pairs_at_the_margin_and_says_why_others_are_out():
    kept, out = kept_and_reasons(SelectRule.build("gap-support"))
    assert kept == {1, 2, 7}
    assert out == {
        "identical": {8},
        NOT_JUDGED: {9},
        OFF_TOPIC_REASON: {10},
        BELOW_MARGIN: {3, 4, 6, 11},
        OPPOSITE_GAP: {5},
    }
    # Every test is listed, in order, even one that left nothing out.
    rule = SelectRule.build("gap-support", min_margin=1.0)
    assert select_pairs(hand_frame(), rule).counts()["excluded"] == {
        "identical": 1,
        NOT_JUDGED: 1,
        OFF_TOPIC_REASON: 1,
        BELOW_MARGIN: 5,
        OPPOSITE_GAP: 1,
    }
    # Δ of pair 2 is 0.8 up to float rounding; a margin of exactly 0.8 keeps it.
    assert kept_and_reasons(SelectRule.build("gap-support", min_margin=0.8))[0] == {1, 2, 7}


def test_gap_oppose_and_margin_zero():
    kept, out = kept_and_reasons(SelectRule.build("gap-oppose"))
    assert kept == {5} and out[OPPOSITE_GAP] == {1, 2, 7} and out[BELOW_MARGIN] == {3, 4, 6, 11}
    kept, out = kept_and_reasons(SelectRule.build("gap-oppose", min_margin=0.0))
    assert kept == {3, 4, 5, 11}  # Δ ≤ 0


def test_min_confidence_adds_judge_health_to_a_gap_rule():
    rule = SelectRule.build("gap-support", min_confidence=0.6, ood_threshold=0.5)
    kept, out = kept_and_reasons(rule)
    assert kept == {1, 2}
    assert out[LOW_CONFIDENCE] == {6, 11} and out[OUT_OF_DOMAIN] == {7}
    assert out[BELOW_MARGIN] == {3, 4}
    # Without a given line the gap rules look at Δ only, and no OOD threshold is recorded.
    assert SelectRule.build("gap-support", ood_threshold=0.5).ood_threshold is None


def test_no_flip_keeps_same_label_pairs_off_topic_included():
    kept, out = kept_and_reasons(SelectRule.build("no-flip"))
    assert kept == {3, 4, 11}
    assert out[STANCE_FLIP] == {1, 2, 5, 6, 7, 10}
    kept, out = kept_and_reasons(SelectRule.build("no-flip", min_margin=0.1))
    assert kept == {3, 4} and out[MARGIN_TOO_LARGE] == {11}  # |Δ| 0.15
    kept, out = kept_and_reasons(SelectRule.build("no-flip", on_topic_only=True))
    assert kept == {3, 4, 11} and out[OFF_TOPIC_REASON] == {10}


def test_confident_is_the_audits_confidently_judged_pairs_less_flagged_ones():
    rule = SelectRule.build("confident", ood_threshold=0.5)
    assert rule.min_confidence == DEFAULT_MIN_CONFIDENCE
    kept, out = kept_and_reasons(rule)
    assert kept == {1, 2, 3, 4, 5, 10}
    assert out == {"identical": {8}, NOT_JUDGED: {9}, LOW_CONFIDENCE: {6, 11}, OUT_OF_DOMAIN: {7}}
    frame = hand_frame()
    judged = frame[frame["pair_id"] != 9]
    audit_confident = judged["pair_id"][
        confidently_judged(judged, min_confidence=0.6, ood_threshold=0.5)
    ]
    assert set(audit_confident) - {8} == kept
    # A judge that measures no OOD distance is tested on confidence alone.
    kept, out = kept_and_reasons(SelectRule.build("confident"))
    assert 7 in kept and OUT_OF_DOMAIN not in out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_margin": -0.1}, "--min-margin must be a number between 0 and 2, got -0.1"),
        ({"min_margin": float("nan")}, "--min-margin must be a number between 0 and 2, got nan"),
        ({"min_margin": float("inf")}, "--min-margin must be a number between 0 and 2, got inf"),
        ({"min_margin": 2.5}, "--min-margin must be a number between 0 and 2"),
        ({"min_confidence": 1.5}, "--min-confidence must be between 0 and 1, got 1.5"),
        ({"min_confidence": float("nan")}, "--min-confidence must be between 0 and 1"),
    ],
)
def test_bad_thresholds_name_the_option(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        SelectRule.build("gap-support", **kwargs)


def test_rule_descriptions_and_defaults():
    assert DEFAULT_MIN_MARGIN == 0.5
    assert SelectRule.build("gap-support").describe() == "on-topic, Δ ≥ +0.50"
    assert SelectRule.build("gap-oppose", min_margin=1).describe() == "on-topic, Δ ≤ −1.00"
    assert SelectRule.build("no-flip", min_margin=0.3).describe() == "same stance label, |Δ| < 0.30"
    assert (
        SelectRule.build("confident", ood_threshold=0.25).describe()
        == "both sides confidence ≥ 0.6 and OOD distance ≤ 0.25"
    )
    with pytest.raises(InputError, match="--min-margin does not apply to --keep confident"):
        SelectRule.build("confident", min_margin=0.5)


def test_the_parser_spells_the_rules_as_the_module_does():
    from vdbench.commands import audit

    assert audit.SELECT_RULES == KEEP_RULES
    assert audit.SELECT_MIN_MARGIN == DEFAULT_MIN_MARGIN
    assert audit.SELECT_MIN_CONFIDENCE == DEFAULT_MIN_CONFIDENCE


def test_transcript_prompts_become_chat_messages():
    prompt = "Human: Pasta?\n\nAssistant: Try garlic.\n\nHuman: Vegetarian options?"
    assert prompt_messages(prompt) == [
        {"role": "user", "content": "Pasta?"},
        {"role": "assistant", "content": "Try garlic."},
        {"role": "user", "content": "Vegetarian options?"},
    ]
    assert prompt_messages("Should X?") == [{"role": "user", "content": "Should X?"}]
    assert training_row("Q?", "a", "b", conversational=False) == {
        "prompt": "Q?",
        "chosen": "a",
        "rejected": "b",
    }
    row = training_row(prompt, "a", "b", conversational=True)
    assert row["chosen"] == [{"role": "assistant", "content": "a"}]
    assert row["prompt"][-1] == {"role": "user", "content": "Vegetarian options?"}


# --- stores built without a model ------------------------------------------------------------


class LookupJudge:
    """Knows each response's stance (from the rows that wrote it): a perfect judge."""

    identity = JudgeIdentity(
        judge_id="lookup:test:test",
        name="lookup",
        backend="test",
        model="none",
        template_hash="test",
        model_hash="test",
    )

    def __init__(self, stance_of: dict[str, str]) -> None:
        self.stance_of = stance_of

    def score(self, items):
        return [JudgeScore(*SCORES[self.stance_of[item.response]]) for item in items]


def _text(value) -> str:
    return (value if isinstance(value, str) else value[-1]["content"]).strip()


def _topic_map(path: Path, rows: list[dict], off_topic_every: int = 0) -> Path:
    rules = [
        {
            "pair_id": i,
            "topic": "off-topic" if off_topic_every and i % off_topic_every == 0 else row["topic"],
        }
        for i, row in enumerate(rows, start=1)
    ]
    path.write_text(json.dumps(rules))
    return path


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "store.duckdb"
        self.ids: dict[str, str] = {}
        self.rows: dict[str, list[dict]] = {}
        self.sources: dict[str, Path] = {}

    def audit(self, name: str, rows: list[dict], judge, off_topic_every: int = 0) -> None:
        path = self.root / f"{name}.jsonl"
        write_jsonl(rows, path)
        report = run_audit(
            Store(self.db),
            AuditOptions(
                input=str(path),
                format="trl",
                name=name,
                n_boot=20,
                threshold=0.2,
                topic_map=str(_topic_map(self.root / f"{name}.map.json", rows, off_topic_every)),
            ),
            judge=judge,
            embedder=hashing_embedder,
        )
        self.ids[name] = report["dataset"]["dataset_id"]
        self.rows[name] = rows
        self.sources[name] = path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    """Synthetic mixed set (half gap, half style; every 25th pair off-topic), and the micro
    world's gap-support and style sets, audited in one store."""
    from vdbench.micro.build import MicroWorldConfig, build_datasets

    w = World(tmp_path_factory.mktemp("select-world"))
    vprism = get_eval_set("vprism")
    mixed, _ = synth_pairs(vprism, SynthConfig(gap=0.5), TemplateSource(list(vprism.topics)))
    w.audit("mixed", mixed, KeywordJudge(), off_topic_every=25)
    micro = build_datasets(0, MicroWorldConfig(pretrain_rows=1, sft_rows=1, preference_rows=120))
    stance_of = {
        _text(row[side]): row[f"{side}_stance"]
        for name in ("gap-support", "style")
        for row in micro[name]
        for side in ("chosen", "rejected")
    }
    for name in ("gap-support", "style"):
        w.audit(f"micro-{name}", micro[name], LookupJudge(stance_of))
    return w


def select(world_or_db, dataset: str, keep: str, output: Path, *extra: str, capsys) -> tuple:
    db = world_or_db.db if isinstance(world_or_db, World) else world_or_db
    argv = [
        "audit",
        "select",
        "--db",
        str(db),
        "--dataset",
        dataset,
        "--keep",
        keep,
        "--output",
        str(output),
        *extra,
    ]
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _manifest(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".manifest.json").read_text())


def test_gap_set_vs_style_set_counts_per_reason(world, tmp_path, capsys):
    counts = {}
    for name in ("micro-gap-support", "micro-style"):
        for keep in KEEP_RULES:
            out = tmp_path / f"{name}-{keep}.jsonl"
            code, stdout, err = select(world, world.ids[name], keep, out, "--json", capsys=capsys)
            counts[name, keep] = json.loads(stdout)["counts"]["kept"] if code == 0 else 0
            if code:
                assert "keeps no pair" in err and not out.exists()
    # The gap set's pairs all carry a support gap; the style set's none.
    assert counts["micro-gap-support", "gap-support"] == 120
    assert counts["micro-style", "gap-support"] == 0
    assert counts["micro-gap-support", "no-flip"] == 0
    assert counts["micro-style", "no-flip"] == 120
    assert counts["micro-gap-support", "gap-oppose"] == counts["micro-style", "gap-oppose"] == 0
    assert counts["micro-gap-support", "confident"] == counts["micro-style", "confident"] == 120


def test_mixed_set_keeps_exactly_the_pairs_of_each_kind(world, tmp_path, capsys):
    rows, dataset = world.rows["mixed"], world.ids["mixed"]
    gap_ids = {i for i, r in enumerate(rows, start=1) if r["kind"] == "gap"}
    off_topic = {i for i in range(1, len(rows) + 1) if i % 25 == 0}

    out = tmp_path / "gap.jsonl"
    code, stdout, err = select(world, dataset, "gap-support", out, capsys=capsys)
    assert code == 0, err
    manifest = _manifest(out)
    assert set(manifest["kept_pair_ids"]) == gap_ids - off_topic
    assert manifest["counts"] == {
        "considered": 550,
        "kept": len(gap_ids - off_topic),
        "excluded": {
            NOT_JUDGED: 0,
            OFF_TOPIC_REASON: len(off_topic),
            BELOW_MARGIN: 550 - len(gap_ids | off_topic),
            OPPOSITE_GAP: 0,
        },
    }
    # What a user reads.
    assert f"kept {len(gap_ids - off_topic)} of 550 pairs" in stdout
    assert f"{len(off_topic):>9} × off-topic" in stdout
    assert "keep gap-support: on-topic, Δ ≥ +0.50\n" in stdout
    assert "kept pairs: mean Δ +1.60, mean |Δ| 1.60, flip rate 100%" in stdout
    assert f"  {out}\n  manifest: {out}.manifest.json" in stdout

    out = tmp_path / "style.jsonl"
    code, stdout, err = select(world, dataset, "no-flip", out, "--on-topic-only", capsys=capsys)
    assert code == 0, err
    assert set(_manifest(out)["kept_pair_ids"]) == set(range(1, 551)) - gap_ids - off_topic


def test_output_is_the_source_pairs_in_trl_format_and_the_manifest_describes_it(
    world, tmp_path, capsys
):
    rows, dataset = world.rows["mixed"], world.ids["mixed"]
    out = tmp_path / "kept.jsonl"
    code, stdout, err = select(world, dataset, "gap-support", out, "--json", capsys=capsys)
    assert code == 0, err
    printed = json.loads(stdout)
    manifest = _manifest(out)
    assert printed == manifest
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert written == [
        {k: rows[i - 1][k] for k in ("prompt", "chosen", "rejected")}
        for i in manifest["kept_pair_ids"]
    ]
    assert manifest["kept_pair_ids"] == sorted(manifest["kept_pair_ids"])
    assert manifest["source"] | {"content_hash": None} == {
        "dataset_id": dataset,
        "format": "trl",
        "source": str(world.sources["mixed"]),
        "content_hash": None,
        "n_pairs": 550,
    }
    assert manifest["judge"] == {"judge_id": "keyword:test:test", "name": "keyword"}
    assert manifest["keep"] == "gap-support" and manifest["rule"] == "on-topic, Δ ≥ +0.50"
    assert manifest["thresholds"] == {
        "min_margin": 0.5,
        "min_confidence": None,
        "ood_threshold": None,
        "on_topic_only": True,
    }
    assert manifest["output"] == {
        "path": str(out),
        "manifest": f"{out}.manifest.json",
        "format": "trl",
        "conversational": False,
        "rows": len(written),
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }
    assert sum(manifest["kept_by_topic"].values()) == len(written)
    assert manifest["gap"]["kept"]["mean_margin"] == pytest.approx(1.6)
    assert manifest["gap"]["judged"]["n_pairs"] == 550
    assert manifest["kept_judge_health"]["flagged"] == 0
    # The file `vdbench train dpo --data` reads, through the same loader.
    data = load_training_data(out, "preference")
    assert len(data) == len(written)
    assert data.rows[0]["prompt"] == [{"role": "user", "content": written[0]["prompt"]}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.jsonl", "kept.jsonl.manifest.json"]


def test_the_selection_trains_with_vdbench_train_dpo(world, tiny_world, tmp_path, capsys):
    out = tmp_path / "kept.jsonl"
    code, _, err = select(world, world.ids["micro-gap-support"], "gap-support", out, capsys=capsys)
    assert code == 0, err
    argv = [
        "train",
        "dpo",
        "--model",
        str(tiny_world.model),
        "--data",
        str(out),
        "--db",
        str(tmp_path / "train.duckdb"),
        "--run",
        "selected",
        "--eval-set",
        str(tiny_world.eval_set),
        "--samples",
        "1",
        "--max-new-tokens",
        "4",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--lr",
        "1e-3",
        "--output-dir",
        str(tmp_path / "model"),
        "--json",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["checkpoints_stored"][0] == 0 and result["checkpoints_stored"][-1] == 2


def test_hh_transcripts_come_out_conversational(tmp_path, capsys):
    db = tmp_path / "hh.duckdb"
    topic_map = tmp_path / "map.json"
    topic_map.write_text(json.dumps([{"pair_id": i, "topic": "death_penalty"} for i in (1, 2, 3)]))
    report = run_audit(
        Store(db),
        AuditOptions(
            input=str(DATA / "hh_small.jsonl"),
            format="hh-rlhf",
            topics=False,
            topic_map=str(topic_map),
            n_boot=10,
        ),
        judge=KeywordJudge(),
        embedder=hashing_embedder,
    )
    out = tmp_path / "hh.jsonl"
    code, stdout, err = select(db, report["dataset"]["dataset_id"], "confident", out, capsys=capsys)
    assert code == 0, err
    assert "TRL conversational" in stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["prompt"] == [
        {"role": "user", "content": "Should the death penalty be abolished?"}
    ]
    assert [m["role"] for m in rows[1]["prompt"]] == ["user", "assistant", "user"]
    assert len(load_training_data(out, "preference")) == len(rows)


def test_judge_is_chosen_by_name_or_id_and_must_be_unambiguous(tmp_path, capsys):
    db = tmp_path / "two.duckdb"
    opts = AuditOptions(
        input=str(DATA / "trl_identical.jsonl"),
        format="trl",
        topics=False,
        topic_map=str(_topic_map(tmp_path / "m.json", [{"topic": "abortion"}] * 2)),
        n_boot=10,
    )
    dataset = run_audit(Store(db), opts, judge=KeywordJudge())["dataset"]["dataset_id"]
    out = tmp_path / "out" / "kept.jsonl"
    out.parent.mkdir()
    # One judge: used without --judge; the identical pair is left out whatever the judge says.
    code, stdout, _ = select(db, dataset, "confident", out, "--json", capsys=capsys)
    assert code == 0
    assert json.loads(stdout)["counts"]["excluded"]["identical"] == 1
    run_audit(
        Store(db),
        opts,
        judge=LookupJudge({"Same answer.": "support", "A.": "support", "B.": "oppose"}),
    )
    code, _, err = select(db, dataset, "confident", out, capsys=capsys)
    assert code == 2 and "judged by several judges; choose one with --judge" in err
    assert "keyword:test:test" in err and "lookup:test:test" in err
    for judge in ("lookup", "lookup:test:test"):
        code, stdout, err = select(
            db, dataset, "gap-support", out, "--judge", judge, "--json", capsys=capsys
        )
        assert code == 0, err
        assert json.loads(stdout)["judge"]["judge_id"] == "lookup:test:test"
        assert json.loads(stdout)["kept_pair_ids"] == [2]


class GuessingJudge:
    identity = JudgeIdentity(
        judge_id="guess:test:test",
        name="guess",
        backend="test",
        model="none",
        template_hash="test",
        model_hash="test",
    )

    def score(self, items):
        return [JudgeScore(0.36, 0.33, 0.31) for _ in items]


def test_a_selection_read_by_a_guessing_judge_says_so(tmp_path, capsys):
    db = tmp_path / "guess.duckdb"
    opts = AuditOptions(
        input=str(DATA / "trl_identical.jsonl"),
        format="trl",
        topics=False,
        topic_map=str(_topic_map(tmp_path / "m.json", [{"topic": "abortion"}] * 2)),
        n_boot=10,
    )
    dataset = run_audit(Store(db), opts, judge=GuessingJudge())["dataset"]["dataset_id"]
    code, stdout, err = select(db, dataset, "no-flip", tmp_path / "kept.jsonl", capsys=capsys)
    assert code == 0, err
    assert "judge GUESSING 100% on the kept pairs' responses" in stdout
    assert "WARNING: over 50% of the kept responses are flagged" in stdout
    code, _, err = select(db, dataset, "confident", tmp_path / "c.jsonl", capsys=capsys)
    assert code == 2 and "of 2 pairs: 1 identical, 1 low confidence)" in err


# --- bad input: exit 2, a message naming the option or file, nothing written ---------------


@pytest.fixture
def clean_dir(tmp_path):
    """An output directory holding one older selection that a failed run must leave alone."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "kept.jsonl").write_text("older selection\n")
    return out_dir


def _listing(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dataset": "nope"}, "no preference dataset 'nope' in the store"),
        ({"extra": ["--judge", "probe"]}, "has no judgments by --judge 'probe'"),
        ({"keep": "gap-oppose"}, "--keep gap-oppose keeps no pair of"),
        ({"extra": ["--min-margin", "-0.5"]}, "--min-margin must be a number between 0 and 2"),
        ({"extra": ["--min-margin", "nan"]}, "--min-margin must be a number between 0 and 2"),
        ({"extra": ["--min-margin", "inf"]}, "--min-margin must be a number between 0 and 2"),
        ({"extra": ["--min-confidence", "1.5"]}, "--min-confidence must be between 0 and 1"),
        ({"extra": ["--min-confidence", "-1"]}, "--min-confidence must be between 0 and 1"),
        (
            {"keep": "confident", "extra": ["--min-margin", "1"]},
            "--min-margin does not apply to --keep confident",
        ),
        ({"output": "missing/kept.jsonl"}, "--output directory does not exist"),
        ({"output": "."}, "--output is a directory"),
        ({"output": "kept.txt"}, "--output must be a JSON-lines file"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(world, clean_dir, capsys, change, message):
    before = _listing(clean_dir)
    output = clean_dir / change.get("output", "kept.jsonl")
    dataset = change.get("dataset", world.ids["mixed"])
    code, stdout, err = select(
        world,
        dataset,
        change.get("keep", "gap-support"),
        output,
        *change.get("extra", []),
        capsys=capsys,
    )
    assert code == 2 and stdout == ""
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert _listing(clean_dir) == before  # no new file, no temp file, older one intact
    if change.get("dataset"):
        assert "hint: list them with `vdbench audit --db" in err and "--list`" in err
    if change.get("keep") == "gap-oppose":
        assert "refusing to write an empty training file" in err and "opposite gap" in err
    if "missing" in change.get("output", ""):
        assert str(clean_dir / "missing") in err


def test_a_missing_store_is_named_and_not_created(tmp_path, clean_dir, capsys):
    db = tmp_path / "nowhere.duckdb"
    code, _, err = select(db, "x", "gap-support", clean_dir / "kept.jsonl", capsys=capsys)
    assert code == 2 and "no store here" in err and str(db) in err
    assert not db.exists() and _listing(clean_dir) == {"kept.jsonl": b"older selection\n"}


def test_an_unjudged_dataset_says_how_to_judge_it(tmp_path, clean_dir, capsys):
    db = tmp_path / "raw.duckdb"
    report = run_audit(
        Store(db),
        AuditOptions(
            input=str(DATA / "trl_identical.jsonl"), format="trl", topics=False, run_judge=False
        ),
    )
    code, _, err = select(
        db, report["dataset"]["dataset_id"], "no-flip", clean_dir / "kept.jsonl", capsys=capsys
    )
    assert code == 2 and "has not been judged" in err and "vdbench audit --db" in err
    assert _listing(clean_dir) == {"kept.jsonl": b"older selection\n"}


def test_the_source_file_is_never_overwritten(world, capsys):
    source = world.sources["mixed"]
    before = source.read_bytes()
    code, _, err = select(world, world.ids["mixed"], "gap-support", source, capsys=capsys)
    assert code == 2 and "--output is the dataset's source file" in err
    assert source.read_bytes() == before


def test_an_error_while_writing_leaves_nothing_half_written(world, clean_dir, capsys, monkeypatch):
    from vdbench.training import data

    calls = {"n": 0}
    real = data.validate_preference_row

    def fail_on_third(row, where):
        calls["n"] += 1
        if calls["n"] == 3:
            raise InputError("bad row", where=where)
        return real(row, where)

    monkeypatch.setattr(data, "validate_preference_row", fail_on_third)
    before = _listing(clean_dir)
    code, _, err = select(
        world, world.ids["mixed"], "gap-support", clean_dir / "kept.jsonl", capsys=capsys
    )
    assert code == 2 and "pair " in err and "bad row" in err
    assert _listing(clean_dir) == before
