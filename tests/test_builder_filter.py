"""`vdbench prompts build` on real-shaped pools: the value-question filter, readable clusters,
confirmed propositions, and the bad inputs a new user meets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.test_builder import POOL, one_torch_thread, pool_rows  # noqa: F401 (autouse fixture)
from tests.test_judge_hf_gguf import write_manifest
from vdbench.cli import main
from vdbench.errors import InputError
from vdbench.evalsets import builder
from vdbench.evalsets.value_filter import precision_recall

TASKS = [r["prompt"] for r in pool_rows() if r["theme"] == "task"]


def _pool(path: Path, prompts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("local") / "vprism5.jsonl"
    return builder.build_vprism(POOL, out, n_topics=5, per_topic=50, seed=0), out


def test_the_local_filter_keeps_value_questions_and_drops_tasks(built):
    report, out = built
    theme = {r["prompt"]: r["theme"] for r in pool_rows()}
    kept = [json.loads(line)["prompt"] for line in out.read_text().splitlines()]
    assert report["filter"] == "local" and 0 < report["threshold"] < 1
    assert sum(theme[p] != "task" for p in kept) / 250 >= 0.9
    assert sum(theme[p] == "task" for p in kept) / 150 <= 0.03


def test_every_prompt_has_its_score_and_decision_recorded(built):
    report, out = built
    rows = [json.loads(line) for line in Path(report["decisions"]).read_text().splitlines()]
    assert len(rows) == report["kept"] + report["dropped"]
    assert {r["decision"] for r in rows} == {"kept", "dropped"}
    for r in rows:
        assert r["where"].startswith(str(POOL)) and set(r["probs"]) == {"value", "help", "harmful"}
        assert (r["decision"] == "kept") == (r["score"] >= report["threshold"])
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(w["value_score"] >= report["threshold"] for w in written)


def test_clusters_are_named_by_terms_central_prompt_and_examples(built):
    report, _ = built
    for t in report["topics"]:
        assert t["top_terms"] and t["central_prompt"] == t["examples"][0] and len(t["examples"]) == 2
        assert 0 < t["share"] <= 1 and t["proposition_source"] in {"builtin", "draft"}
    assert sum(t["cluster_size"] for t in report["topics"]) == report["kept"]


def test_confirmed_propositions_replace_drafts_and_may_rename(built, tmp_path):
    report, _ = built
    draft = next(t for t in report["topics"] if t["proposition_draft"])
    props = tmp_path / "props.toml"
    props.write_text(f'[{json.dumps(draft["cluster"])}]\ntopic = "ai-jobs"\n'
                     'proposition = "AI will do more good than harm to jobs."\n')
    again = builder.build_vprism(POOL, tmp_path / "v.jsonl", n_topics=5, per_topic=50, seed=0,
                                 propositions=props)
    topic = next(t for t in again["topics"] if t["cluster"] == draft["cluster"])
    assert topic["topic"] == "ai-jobs" and topic["proposition_source"] == "confirmed"
    assert topic["proposition"] == "AI will do more good than harm to jobs."
    rows = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert {r["proposition"] for r in rows if r["topic"] == "ai-jobs"} == {topic["proposition"]}


def test_a_propositions_file_naming_an_unknown_cluster_writes_nothing(tmp_path, capsys):
    props = tmp_path / "p.json"
    props.write_text(json.dumps({"no-such-cluster": "Something is good."}))
    out = tmp_path / "o.jsonl"
    assert main(["prompts", "build", "--input", str(POOL), "--topics", "5", "--output", str(out),
                 "--propositions", str(props)]) != 0
    err = capsys.readouterr().err
    assert "no-such-cluster" in err and str(props) in err and "this build's clusters" in err
    assert "Traceback" not in err and not out.exists() and not builder._decisions_path(out).exists()


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "must map cluster names"),
    ('{"x": ""}', "non-empty proposition"),
    ('{"x": {"proposition": "P.", "colour": "red"}}', "unknown key"),
    ("{ not json", "cannot parse"),
])
def test_bad_propositions_files(tmp_path, content, message):
    props = tmp_path / "p.json"
    props.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        builder.read_propositions(props)
    assert err.value.where == str(props)


def test_a_pool_with_no_value_question_says_so_and_writes_nothing(tmp_path, capsys):
    pool = _pool(tmp_path / "tasks.jsonl", TASKS)
    out = tmp_path / "o.jsonl"
    assert main(["prompts", "build", "--input", str(pool), "--topics", "2", "--output", str(out)]) != 0
    err = capsys.readouterr().err
    assert "no prompt of the 150 in the pool asks for a view" in err and str(pool) in err
    assert "Traceback" not in err and not out.exists() and not builder._decisions_path(out).exists()


def test_more_topics_than_prompts_kept(tmp_path, capsys):
    values = [r["prompt"] for r in pool_rows() if r["theme"] != "task"][:4]
    pool = _pool(tmp_path / "few.jsonl", TASKS[:20] + values)
    out = tmp_path / "o.jsonl"
    assert main(["prompts", "build", "--input", str(pool), "--topics", "11", "--output", str(out)]) != 0
    err = capsys.readouterr().err
    assert "cannot form 11 topics" in err and "lower --topics to at most" in err
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--filter", "xstance"], "needs an hf, gguf, openai backend"),
    (["--filter", "no-such-judge"], "--filter 'no-such-judge'"),
    (["--threshold", "1.5"], "is a probability"),
    (["--min-value-score", "0.1", "--filter", "local", "--threshold", "0.2"], "anchors filter's threshold"),
    (["--examples", "-1"], "--examples must be"),
])
def test_bad_filter_options(tmp_path, capsys, argv, message):
    out = tmp_path / "o.jsonl"
    assert main(["prompts", "build", "--input", str(POOL), "--output", str(out), *argv]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not out.exists()


def test_the_anchors_filter_is_still_there_for_comparison(tmp_path):
    report = builder.build_vprism(POOL, tmp_path / "a.jsonl", n_topics=5, filter="anchors")
    assert report["filter"] == "anchors" and report["threshold"] == builder.DEFAULT_MIN_VALUE_SCORE
    legacy = builder.build_vprism(POOL, tmp_path / "b.jsonl", n_topics=5, filter="anchors",
                                  min_value_score=0.2)
    assert legacy["threshold"] == 0.2 and legacy["kept"] <= report["kept"]


def test_an_llm_filter_runs_through_a_judge_backend(tiny_llama_dir, tmp_path):
    """A local hf judge reads the filter template (a random model: scores are meaningless,
    the path is what is tested)."""
    manifest = write_manifest(tmp_path / "j", "hf", tiny_llama_dir, batch_size=8)
    prompts = [r["prompt"] for r in pool_rows()][::20]
    pool = _pool(tmp_path / "p.jsonl", prompts)
    report = builder.build_vprism(pool, tmp_path / "o.jsonl", n_topics=1, filter=str(manifest),
                                  threshold=0.0)
    assert report["filter"] == str(manifest) and report["filter_judge"]
    assert report["kept"] == len(prompts)
    rows = [json.loads(line) for line in Path(report["decisions"]).read_text().splitlines()]
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)


def test_an_openai_filter_needs_consent(tmp_path, capsys, monkeypatch):
    manifest = write_manifest(tmp_path / "j", "openai", "gpt-4o", base_url="http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    out = tmp_path / "o.jsonl"
    assert main(["prompts", "build", "--input", str(POOL), "--output", str(out),
                 "--filter", str(manifest)]) != 0
    err = capsys.readouterr().err
    assert "without confirmation" in err and "nothing was sent" in err and not out.exists()


def test_precision_recall_with_intervals():
    kept = np.array([1, 1, 1, 0, 0, 0, 1, 0], bool)
    truth = np.array([1, 1, 0, 0, 1, 0, 1, 0], bool)
    fig = precision_recall(kept, truth, n_boot=500)
    assert fig["precision"]["value"] == 0.75 and fig["recall"]["value"] == 0.75
    lo, hi = fig["precision"]["ci"]
    assert lo <= 0.75 <= hi
    assert fig["counts"] == {"n": 8, "kept": 4, "positives": 4, "true_positives": 3}


HH_LABELS = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "hh_value_labels.jsonl"


def test_the_local_filter_on_hand_labelled_real_prompts():
    """A regression guard on the held-out split of the hand-labelled HH-RLHF first turns.

    Measured when the filter was trained: precision 0.865 [0.77, 0.95], recall 0.517
    [0.41, 0.62] at the shipped threshold. The target (precision ≥ 0.85 at recall ≥ 0.6)
    is not met (docs/vprism_builder.md says why); this asserts the filter does not fall
    below what it was shipped at, less a margin for library-version noise."""
    from benchmarks.hh_prompts import HH_FILE, first_turns, labels_with_split

    if not HH_FILE.exists():
        pytest.skip(f"HH-RLHF test split not found at {HH_FILE} (it lives outside the project)")
    from vdbench.embedding import embed
    from vdbench.evalsets.value_filter import score_pool

    turns = first_turns()
    rows = [(turns[i], lab) for i, (lab, split) in labels_with_split().items() if split == "eval"]
    assert len(rows) >= 300
    texts = [t for t, _ in rows]
    scored = score_pool("local", texts, embed(texts).astype(np.float64), None)
    fig = precision_recall(scored.kept, np.array([lab == "value" for _, lab in rows]), n_boot=200)
    assert fig["precision"]["value"] >= 0.80 and fig["recall"]["value"] >= 0.45, fig


def test_an_adapter_that_does_not_fit_the_encoder_is_refused(tmp_path):
    """peft only warns when an adapter's weights are missing (the plain encoder would then
    score silently); the loader shared with the xstance judge refuses it."""
    import shutil

    from safetensors.numpy import save_file

    from vdbench.errors import JudgeError
    from vdbench.evalsets.intent import INTENT_DIR, IntentClassifier

    broken = tmp_path / "intent"
    shutil.copytree(INTENT_DIR, broken)
    save_file({}, str(broken / "adapter" / "adapter_model.safetensors"))
    with pytest.raises(JudgeError, match="does not fit the encoder") as err:
        IntentClassifier(broken).predict(["Is the death penalty just?"])
    assert "train_intent.py" in (err.value.hint or "")
