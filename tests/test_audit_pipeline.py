"""Topic assignment, resumable judging, the report and the synthetic generator, with a
keyword judge and a hashing embedder standing in for the models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.test_audit_fakes import KeywordJudge, hashing_embedder
from vdbench.audit.pipeline import AuditOptions, run_audit
from vdbench.audit.synth import ModelSource, SynthConfig, TemplateSource, synth_pairs, write_jsonl
from vdbench.audit.topics import TopicIndex, label_topics, topic_centroids
from vdbench.cli import main
from vdbench.errors import InputError
from vdbench.evalsets import get_eval_set
from vdbench.evalsets.model import EvalPrompt, EvalSet
from vdbench.judges.base import JudgeIdentity, JudgeScore
from vdbench.store import Store

DATA = Path(__file__).parent / "data" / "audit"


@pytest.fixture(scope="module")
def vprism() -> EvalSet:
    return get_eval_set("vprism")


@pytest.fixture
def fakes(monkeypatch):
    """The CLI's judge and embedder replaced by the model-free stand-ins."""
    judge = KeywordJudge()
    monkeypatch.setattr("vdbench.judges.registry.load_judge", lambda *a, **k: judge)
    monkeypatch.setattr("vdbench.audit.topics.default_embedder", hashing_embedder)
    return judge


def synth_file(tmp_path: Path, vprism: EvalSet, gap: float, align: str = "support", **kw) -> Path:
    rows, _ = synth_pairs(
        vprism, SynthConfig(align=align, gap=gap, **kw), TemplateSource(list(vprism.topics))
    )
    path = tmp_path / f"synth-{align}-{gap}.jsonl"
    write_jsonl(rows, path)
    return path


# --- topics ------------------------------------------------------------------------------------


def test_topic_centroids_and_threshold_labels():
    vectors = np.array([[1.0, 0], [0.6, 0.8], [0, 1.0]])
    c = topic_centroids(vectors, np.array([0, 0, 1]), 3)
    assert c[0] == pytest.approx([0.8 / np.hypot(0.8, 0.4), 0.4 / np.hypot(0.8, 0.4)])
    assert c[1] == pytest.approx([0, 1])
    assert c[2] == pytest.approx([0, 0])  # a topic with no vectors never matches
    assert label_topics(["a", "b", "c"], np.array([0.5, 0.45, 0.2]), 0.45) == [
        "a",
        "b",
        "off-topic",
    ]


def test_topic_index_matches_each_proposition_to_its_topic(vprism):
    index = TopicIndex.build(vprism, hashing_embedder)
    assert index.topics == tuple(vprism.topics) and index.centroids.shape == (11, 256)
    nearest, scores = index.nearest(list(vprism.topics.values()), hashing_embedder)
    assert nearest == list(vprism.topics)
    assert np.all((scores > 0) & (scores <= 1 + 1e-9))


def test_threshold_and_topic_map_relabel_without_reembedding(db, tmp_path, vprism):
    calls = []

    def counting_embedder(texts):
        calls.append(len(texts))
        return hashing_embedder(texts)

    store = Store(db)
    path = synth_file(tmp_path, vprism, gap=1.0)
    opts = AuditOptions(input=str(path), format="trl", threshold=0.2, run_judge=False)
    first = run_audit(store, opts, embedder=counting_embedder)["topics"]
    embedded = sum(calls)
    assert first["embedded_now"] == 550 and first["on_topic"] > 500
    high = run_audit(
        store,
        AuditOptions(input=str(path), format="trl", threshold=0.99, run_judge=False),
        embedder=counting_embedder,
    )["topics"]
    assert sum(calls) == embedded  # stored scores re-labelled, nothing re-embedded
    assert high["off_topic"] == 550 and high["coverage"] == 0

    topic_map = tmp_path / "map.csv"
    topic_map.write_text("pair_id,prompt_contains,topic\n1,,religion\n,ABORTION,abortion\n")
    mapped = run_audit(
        store,
        AuditOptions(
            input=str(path), format="trl", threshold=0.99, topic_map=str(topic_map), run_judge=False
        ),
        embedder=counting_embedder,
    )["topics"]
    n_abortion = sum("abortion" in p.text.lower() for p in vprism.prompts[1:])
    assert mapped["counts"]["religion"] == 1  # pair 1 by id (first rule wins over the substring)
    assert mapped["counts"]["abortion"] == n_abortion
    assert mapped["from_map"] == 1 + n_abortion
    assert sum(calls) == embedded


def test_topic_map_errors_name_the_rule(db, tmp_path, vprism):
    store = Store(db)
    bad = tmp_path / "map.json"
    bad.write_text(
        json.dumps([{"pair_id": 1, "topic": "abortion"}, {"pair_id": 2, "topic": "cooking"}])
    )
    with pytest.raises(InputError, match="rule 2: unknown topic 'cooking'"):
        run_audit(
            store,
            AuditOptions(
                input=str(DATA / "trl_mixed.jsonl"),
                format="trl",
                topic_map=str(bad),
                run_judge=False,
            ),
            embedder=hashing_embedder,
        )
    both = tmp_path / "map2.json"
    both.write_text(json.dumps({"3": "euthanasia", "religion": "religion"}))  # object form works
    topics = run_audit(
        store,
        AuditOptions(
            input=str(DATA / "trl_mixed.jsonl"),
            format="trl",
            topic_map=str(both),
            topics=False,
            run_judge=False,
        ),
    )["topics"]
    assert topics["counts"] == {"euthanasia": 1, "religion": 1, "unassigned": 1}


# --- judging and the report ----------------------------------------------------------------------


def test_judging_is_resumable_and_rejudges_only_changed_topics(db, tmp_path, vprism):
    store = Store(db)
    path = synth_file(tmp_path, vprism, gap=1.0)
    judge = KeywordJudge()
    opts = AuditOptions(input=str(path), format="trl", threshold=0.2, n_boot=50)
    first = run_audit(store, opts, judge=judge, embedder=hashing_embedder)
    assert first["judge"]["judged_responses_now"] == 1100 and judge.items == 1100
    again = run_audit(store, opts, judge=judge, embedder=hashing_embedder)
    assert again["judge"]["judged_pairs_now"] == 0 and judge.items == 1100
    assert again["gap"]["groups"]["all"] == first["gap"]["groups"]["all"]

    # A topic map moving 5 pairs to another topic re-judges exactly those 5 pairs.
    topic_map = tmp_path / "map.json"
    topic_map.write_text(json.dumps([{"pair_id": i, "topic": "religion"} for i in range(1, 6)]))
    moved = run_audit(
        store,
        AuditOptions(
            input=str(path), format="trl", threshold=0.2, topic_map=str(topic_map), n_boot=50
        ),
        judge=judge,
        embedder=hashing_embedder,
    )
    assert moved["judge"]["judged_pairs_now"] == 5 and judge.items == 1110
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM pair_judgments").fetchone()[0] == 1100
    assert (
        con.execute(
            "SELECT count(DISTINCT topic) FROM pair_judgments WHERE pair_id <= 5"
        ).fetchone()[0]
        == 1
    )
    con.close()


def test_killed_judging_resumes_where_it_stopped(db, tmp_path, vprism):
    class Dying(KeywordJudge):
        def score(self, items):
            if self.calls == 2:
                raise KeyboardInterrupt
            return super().score(items)

    store = Store(db)
    path = synth_file(tmp_path, vprism, gap=0.5)
    opts = AuditOptions(input=str(path), format="trl", threshold=0.2, judge_batch=100, n_boot=50)
    with pytest.raises(KeyboardInterrupt):
        run_audit(store, opts, judge=Dying(), embedder=hashing_embedder)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM pair_judgments").fetchone()[0] == 400  # 2 batches
    con.close()
    judge = KeywordJudge()
    report = run_audit(store, opts, judge=judge, embedder=hashing_embedder)
    assert judge.items == 1100 - 400 and report["judge"]["pairs_judged"] == 550


def test_gap_report_separates_gap_and_style_sets(db, tmp_path, vprism):
    store = Store(db)
    results = {}
    for name, gap, align in (
        ("gap-support", 1.0, "support"),
        ("gap-oppose", 1.0, "oppose"),
        ("style", 0.0, "support"),
    ):
        path = synth_file(tmp_path, vprism, gap=gap, align=align)
        report = run_audit(
            store,
            AuditOptions(input=str(path), format="trl", threshold=0.2, n_boot=200),
            judge=KeywordJudge(),
            embedder=hashing_embedder,
        )
        results[name] = report["gap"]["groups"]["all"]
    assert (
        results["gap-support"]["mean_abs_margin"] > 1.0
        and results["gap-support"]["flip_rate"] > 0.6
    )
    assert results["gap-support"]["direction"] == "toward support"
    assert results["gap-oppose"]["direction"] == "toward oppose"
    assert results["style"]["mean_abs_margin"] == 0 and results["style"]["flip_rate"] == 0
    assert results["style"]["direction"] == "none"


def test_cli_json_and_human_report(db, tmp_path, vprism, fakes, capsys):
    path = synth_file(tmp_path, vprism, gap=1.0)
    assert (
        main(
            [
                "audit",
                "--input",
                str(path),
                "--format",
                "trl",
                "--db",
                str(db),
                "--threshold",
                "0.2",
                "--n-boot",
                "100",
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"dataset", "topics", "judge", "gap", "seconds"}
    assert report["judge"]["judge_id"] == "keyword:test:test"
    gap = report["gap"]
    assert set(gap["groups"]) == {"all", "on_topic", "off_topic"}
    assert len(gap["histogram"]["edges"]) == 21 and sum(gap["histogram"]["all"]) == 550
    assert set(gap["groups"]["all"]["ci"]) == {
        "mean_margin",
        "mean_abs_margin",
        "flip_rate",
        "js_divergence",
    }
    assert gap["per_topic"] and all("histogram" in s for s in gap["per_topic"].values())

    dataset_id = report["dataset"]["dataset_id"]
    assert (
        main(
            [
                "audit",
                "--db",
                str(db),
                "--dataset",
                dataset_id,
                "--threshold",
                "0.2",
                "--n-boot",
                "100",
                "--quiet",
            ]
        )
        == 0
    )
    human = capsys.readouterr().out
    assert "stance gap" in human and "histogram of Δ" in human and "→ support" in human
    assert "[+1.4, +1.6)" in human and "per topic" in human
    assert max(len(line) for line in human.splitlines()) <= 80

    assert main(["audit", "--db", str(db), "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["dataset_id"] for d in listed] == [dataset_id]


def test_cli_argument_errors(db, capsys):
    assert main(["audit", "--db", str(db)]) == 2
    assert "--input FILE and --format FORMAT are required" in capsys.readouterr().err
    assert main(["audit", "--db", str(db), "--dataset", "nope", "--quiet"]) == 2
    assert "no preference dataset 'nope'" in capsys.readouterr().err
    assert (
        main(
            [
                "audit",
                "--input",
                str(DATA / "trl_mixed.jsonl"),
                "--format",
                "trl",
                "--db",
                str(db),
                "--threshold",
                "3",
                "--no-judge",
                "--quiet",
            ]
        )
        == 2
    )
    assert "--threshold" in capsys.readouterr().err


# --- synthetic generator -------------------------------------------------------------------------


@pytest.mark.parametrize("gap", [0.0, 0.3, 1.0])
def test_synth_gap_fraction_is_exact_and_pairs_are_trl(vprism, gap):
    rows, summary = synth_pairs(
        vprism,
        SynthConfig(gap=gap, pairs_per_prompt=2, seed=3),
        TemplateSource(list(vprism.topics)),
    )
    assert len(rows) == 1100 and summary["shortfall"] == {}
    n_gap = sum(r["kind"] == "gap" for r in rows)
    assert n_gap == round(gap * 1100) and summary["realised_gap"] == pytest.approx(n_gap / 1100)
    for r in rows:
        assert {"prompt", "chosen", "rejected"} <= set(r) and r["chosen"] != r["rejected"]
        if r["kind"] == "gap":
            assert (r["chosen_stance"], r["rejected_stance"]) == ("support", "oppose")
        else:
            assert r["chosen_stance"] == r["rejected_stance"]
    style_stances = [r["chosen_stance"] for r in rows if r["kind"] == "style"]
    if style_stances:  # style pairs spread evenly over the three stances
        counts = [style_stances.count(s) for s in ("support", "neutral", "oppose")]
        assert max(counts) - min(counts) <= 1


def test_synth_contrast_determinism_and_no_meta(vprism):
    src = TemplateSource(list(vprism.topics))
    neutral, _ = synth_pairs(vprism, SynthConfig(align="oppose", contrast="neutral"), src)
    assert {(r["chosen_stance"], r["rejected_stance"]) for r in neutral} == {("oppose", "neutral")}
    mixed, _ = synth_pairs(vprism, SynthConfig(contrast="mixed"), src)
    assert {r["rejected_stance"] for r in mixed} == {"oppose", "neutral"}
    assert (
        synth_pairs(vprism, SynthConfig(seed=5), src)[0]
        == synth_pairs(vprism, SynthConfig(seed=5), src)[0]
    )
    bare, _ = synth_pairs(vprism, SynthConfig(meta=False), src)
    assert set(bare[0]) == {"prompt", "chosen", "rejected"}
    with pytest.raises(InputError, match="--gap"):
        synth_pairs(vprism, SynthConfig(gap=1.5), src)


def test_synth_cli_writes_trl_jsonl(tmp_path, capsys):
    out = tmp_path / "pairs.jsonl"
    assert (
        main(
            [
                "audit",
                "synth",
                "--output",
                str(out),
                "--gap",
                "0.5",
                "--align",
                "oppose",
                "--eval-set",
                "vprism-mini",
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary["n_pairs"] == len(rows) == 55 and summary["kinds"] == {"gap": 28, "style": 27}
    assert all(isinstance(r["chosen"], str) for r in rows)


def test_model_source_buckets_samples_by_judged_stance():
    """Sampled responses are judged and bucketed; missing stances are reported, not faked."""
    from vdbench.audit.templates import template_response

    topics = {
        "abortion": "Legal access to abortion should be protected.",
        "gun_control": "Governments should impose stricter limits on civilian gun ownership.",
    }
    evalset = EvalSet(
        "tiny",
        topics,
        [EvalPrompt("a1", "abortion", "Abortion?"), EvalPrompt("g1", "gun_control", "Guns?")],
    )

    def sampler(prompts):
        import random

        rng = random.Random(0)
        return [
            [
                template_response("abortion", s, "good", rng)
                for s in ("support", "oppose", "support")
            ],
            [template_response("gun_control", "support", q, rng) for q in ("good", "poor")],
        ]

    source = ModelSource.build(evalset, sampler, KeywordJudge())
    assert source.stats["labels"] == {"support": 4, "oppose": 1}
    rows, summary = synth_pairs(evalset, SynthConfig(gap=0.5), source)
    kinds = {(r["topic"], r["kind"]) for r in rows}
    # abortion: support vs oppose exists (gap) or two supports (style); guns: supports only
    assert len(rows) + sum(summary["shortfall"].values()) == 2
    assert ("gun_control", "gap") not in kinds


@pytest.mark.slow
def test_synth_cli_from_a_local_model_dir(tmp_path, fakes, capsys):
    """`--source MODEL_DIR`: sample a (barely trained) micro model, judge, bucket, pair."""
    from vdbench.micro.build import build_micro_world

    world = build_micro_world(tmp_path / "micro", steps=5)
    out = tmp_path / "model_pairs.jsonl"
    rc = main(
        [
            "audit",
            "synth",
            "--output",
            str(out),
            "--eval-set",
            "vprism-mini",
            "--source",
            str(world.base),
            "--samples",
            "2",
            "--max-new-tokens",
            "12",
            "--gap",
            "0.5",
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert summary["source"] == str(world.base)
    assert summary["model_samples"]["sampled"] == 110
    assert summary["model_samples"]["judge_id"] == "keyword:test:test"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == summary["n_pairs"] == 55 - sum(summary["shortfall"].values())


# --- judge health ------------------------------------------------------------------------------

# Hand-made judgments keyed by a response's first word: (p_support, p_neutral, p_oppose, ood).
# The judge's OOD threshold is 0.5: "unsure" is flagged for confidence (0.40 < 0.6), "far" for
# its OOD distance (0.9 > 0.5) although it is confident.
TABLE = {
    "sure-support": (0.8, 0.1, 0.1, 0.1),
    "sure-oppose": (0.1, 0.1, 0.8, 0.1),
    "unsure": (0.25, 0.35, 0.40, 0.1),
    "far": (0.9, 0.05, 0.05, 0.9),
}


class TableJudge:
    """Scores responses from TABLE; `guess` makes it near-uniform and far from its domain."""

    identity = JudgeIdentity(
        judge_id="table:test:test",
        name="table",
        backend="test",
        model="none",
        template_hash="test",
        model_hash="test",
        manifest={"ood_threshold": 0.5},
    )

    def __init__(self, guess: bool = False) -> None:
        self.guess = guess

    def score(self, items):
        if self.guess:
            return [JudgeScore(0.36, 0.33, 0.31, ood=0.9) for _ in items]
        rows = [TABLE[item.response.split()[0]] for item in items]
        return [JudgeScore(*row[:3], ood=row[3]) for row in rows]


# Three confident pairs (Δ = +1.4, a flip each), one with an unsure chosen side (Δ = −0.85, a
# flip), one with an out-of-domain chosen side (Δ = +0.15, no flip).
HEALTH_PAIRS = [("sure-support", "sure-oppose")] * 3 + [
    ("unsure", "sure-support"),
    ("far", "sure-support"),
]


@pytest.fixture
def table_store(tmp_path, monkeypatch):
    """A JSONL of HEALTH_PAIRS on abortion, a topic map, and the CLI argv that audits it."""
    path = tmp_path / "health.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"prompt": f"Should abortion be legal? ({i})", "chosen": f"{c} {i}",
                 "rejected": f"{r} {i}"}
            ) + "\n"
            for i, (c, r) in enumerate(HEALTH_PAIRS)
        )
    )
    topic_map = tmp_path / "map.json"
    topic_map.write_text(json.dumps({"abortion": "abortion"}))
    judge = {"judge": TableJudge()}
    monkeypatch.setattr("vdbench.judges.registry.load_judge", lambda *a, **k: judge["judge"])
    argv = ["audit", "--input", str(path), "--format", "trl", "--db", str(tmp_path / "h.duckdb"),
            "--no-topics", "--topic-map", str(topic_map), "--n-boot", "100", "--quiet"]
    return argv, judge


def test_audit_json_carries_judge_health_and_confident_statistics(table_store, capsys):
    argv, _ = table_store
    assert main([*argv, "--json"]) == 0
    gap = json.loads(capsys.readouterr().out)["gap"]
    health = gap["judge_health"]
    assert health["min_confidence"] == 0.6 and health["ood_threshold"] == 0.5
    assert health["ood_measured"] is True
    pooled = health["groups"]["all"]
    assert pooled["n"] == 10 and pooled["n_pairs"] == 5  # responses, pairs
    assert pooled["low_confidence"] == pytest.approx(0.1)  # "unsure"
    assert pooled["ood"] == pytest.approx(0.1)  # "far"
    assert pooled["flagged"] == pytest.approx(0.2) and pooled["reliable"] is True
    assert pooled["confident_pairs"] == pytest.approx(0.6) and pooled["n_confident_pairs"] == 3
    assert pooled["label"] == "judge ok 20%"
    assert health["per_topic"]["abortion"]["flagged"] == pytest.approx(0.2)
    assert health["groups"]["off_topic"]["n"] == 0

    every, sure = gap["groups"]["all"], gap["confident"]["groups"]["all"]
    assert gap["confident"]["n_pairs"] == 3 and gap["confident"]["share"] == pytest.approx(0.6)
    # all pairs: mean |Δ| (3 × 1.4 + 0.85 + 0.15) / 5, flips 4 / 5,
    # support gap (2.4 + 0.25 + 0.9) / 5 − (0.3 + 0.8 + 0.8) / 5
    assert every["mean_abs_margin"] == pytest.approx(1.04)
    assert every["flip_rate"] == pytest.approx(0.8)
    assert every["support_gap"] == pytest.approx(0.71 - 0.38)
    # confident pairs only: the three sure pairs
    assert sure["n_pairs"] == 3 and sure["mean_abs_margin"] == pytest.approx(1.4)
    assert sure["flip_rate"] == 1.0 and sure["support_gap"] == pytest.approx(0.7)
    assert sure["ci"]["mean_abs_margin"] == pytest.approx([1.4, 1.4])
    assert gap["confident"]["per_topic"]["abortion"]["n_pairs"] == 3
    assert gap["confident"]["groups"]["off_topic"] is None


def test_min_confidence_moves_the_flag_line(table_store, capsys):
    argv, _ = table_store
    # At 0.3 no judgment is low-confidence; only the OOD one stays flagged.
    assert main([*argv, "--json", "--min-confidence", "0.3"]) == 0
    gap = json.loads(capsys.readouterr().out)["gap"]
    assert gap["judge_health"]["min_confidence"] == 0.3
    assert gap["judge_health"]["groups"]["all"]["low_confidence"] == 0
    assert gap["confident"]["n_pairs"] == 4


def test_confident_block_equals_all_pairs_when_nothing_is_flagged(db, tmp_path, vprism):
    path = synth_file(tmp_path, vprism, gap=0.5)
    report = run_audit(
        Store(db),
        AuditOptions(input=str(path), format="trl", threshold=0.2, n_boot=50),
        judge=KeywordJudge(),  # every score has confidence ≥ 0.6 and no OOD distance
        embedder=hashing_embedder,
    )
    gap = report["gap"]
    assert gap["judge_health"]["ood_measured"] is False
    assert gap["judge_health"]["groups"]["all"]["ood"] is None
    assert gap["confident"]["share"] == 1.0
    assert gap["confident"]["groups"] == gap["groups"]  # same pairs, same bootstrap seeds
    assert gap["confident"]["per_topic"] == {
        t: {k: v for k, v in s.items() if k != "histogram"} for t, s in gap["per_topic"].items()
    }


def test_printed_report_shows_judge_health_and_the_confident_gap(table_store, capsys):
    argv, _ = table_store
    assert main(argv) == 0
    human = capsys.readouterr().out
    assert "judge ok 20%: of 10 judged responses, 20% flagged" in human
    assert "confidence < 0.6 or OOD distance > 0.5" in " ".join(human.split())
    assert "the same on confidently judged pairs only (3 of 5)" in human
    assert re.search(r"^\s*support gap\s+\+0\.33\s+\+0\.33\s*$", human, re.M)
    assert re.search(r"^\s*support gap\s+\+0\.70\s+\+0\.70\s*$", human, re.M)  # confident table
    assert re.search(r"^\s*confident\s+60%\s+60%\s*$", human, re.M)
    assert re.search(r"^abortion .* 20%\s+too few$", human, re.M)
    assert "GUESSING" not in human and "WARNING" not in human
    assert max(len(line) for line in human.splitlines()) <= 80


def test_a_guessing_judge_looks_like_one_in_the_printed_report(table_store, capsys):
    argv, judge = table_store
    judge["judge"] = TableJudge(guess=True)
    assert main(argv) == 0
    human = capsys.readouterr().out
    words = " ".join(human.split())
    assert human.startswith("dataset ") and "judge GUESSING 100%: of 10 judged responses" in human
    assert "WARNING: the judge is guessing on most of these responses" in words
    assert re.search(r"^\s*judge\s+GUESSING 100%\s+GUESSING 100%\s*$", human, re.M)
    assert "no confidently judged pair (each has a flagged side)" in human
    assert re.search(r"^abortion .* 100%!\s+too few$", human, re.M)
    assert "!: over 50% of the topic's responses flagged" in human
    assert max(len(line) for line in human.splitlines()) <= 80


@pytest.mark.parametrize("value", ["1.5", "-1", "nan"])
def test_bad_min_confidence_is_refused_before_anything_is_imported(table_store, capsys, value):
    argv, _ = table_store
    assert main([*argv, "--min-confidence", value]) == 2
    err = capsys.readouterr().err
    assert "--min-confidence must be between 0 and 1" in err and value in err
    assert not Path(argv[argv.index("--db") + 1]).exists()  # refused before the import
    with pytest.raises(InputError, match="--min-confidence must be between 0 and 1, got 1.5"):
        run_audit(Store(argv[argv.index("--db") + 1]), AuditOptions(min_confidence=1.5))
