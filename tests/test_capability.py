"""Capability beside values: lm-evaluation-harness scores the in-memory model at each
checkpoint, the scores land in the store, `vdbench metrics` reports them with Δ and a CI;
bad input is refused before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.training import STANCE_ANSWERS, TOPIC_WORDS
from vdbench.cli import main

pytest.importorskip("lm_eval")

TASK = "tiny_mc"


def write_task(root: Path, *, dataset_path: str = "json") -> Path:
    """A local lm-eval multiple-choice task (YAML + JSONL) in the tiny model's chat format."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, word in enumerate(TOPIC_WORDS.values()):
        for j in range(len(STANCE_ANSWERS)):
            choices = [STANCE_ANSWERS[s][(i + j) % 3] for s in STANCE_ANSWERS]
            rows.append({"context": f"<|user|>What do you think about {word}?<|assistant|>",
                         "choices": choices, "gold": j})
    items = root / "items.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data = (f"  data_files:\n    test: {json.dumps(str(items))}\n"
            f"  cache_dir: {json.dumps(str(root / 'hf-cache'))}\n") if dataset_path == "json" else ""
    yaml = root / f"{TASK}.yaml"
    yaml.write_text(
        f"task: {TASK}\ndataset_path: {dataset_path}\ndataset_kwargs:\n{data or '  {}'}\n"
        "test_split: test\noutput_type: multiple_choice\ndoc_to_text: context\n"
        "doc_to_choice: choices\ndoc_to_target: gold\ntarget_delimiter: \"\"\n"
        "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
        "  - metric: acc_norm\n    aggregation: mean\n    higher_is_better: true\n",
        encoding="utf-8")
    return yaml


def train_args(tiny_world, tmp_path: Path, run: str, *extra: str) -> list[str]:
    return ["train", "sft", "--model", str(tiny_world.model), "--data", str(tiny_world.sft),
            "--db", str(tmp_path / "s.duckdb"), "--run", run, "--eval-set", str(tiny_world.eval_set),
            "--samples", "1", "--max-new-tokens", "4", "--lr", "1e-2", "--batch-size", "4",
            "--max-steps", "2", "--output-dir", str(tmp_path / "out" / run), "--json", *extra]


def judge_everything(db: Path, run: str) -> None:
    """Constant judgments for every sample, so `vdbench metrics` has stances to report."""
    from vdbench.example import EXAMPLE_JUDGE
    from vdbench.judges.base import JudgeScore
    from vdbench.judgments import unjudged_samples, write_judgments
    from vdbench.store import Store

    store = Store(db)
    with store.write() as con:
        from vdbench.judgments import register_judge

        register_judge(con, EXAMPLE_JUDGE)
    pending = unjudged_samples(store, run, EXAMPLE_JUDGE.judge_id)
    write_judgments(store, EXAMPLE_JUDGE, pending, [JudgeScore(0.2, 0.6, 0.2)] * len(pending))


def capability_rows(db: Path, run: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT step, task, metric, value, stderr, n, len(item_scores) "
                           "FROM capability WHERE run_id = ? ORDER BY step, task, metric",
                           [run]).fetchall()


# --- (a) the real harness on a local task, at every checkpoint of a training run ----------


@pytest.fixture(scope="module")
def trained(tiny_world, tmp_path_factory):
    """An SFT run of the tiny model with --capability TASK_YAML (checkpoints 0, 1, 2)."""
    tmp = tmp_path_factory.mktemp("capability")
    yaml = write_task(tmp / "task")
    assert main(train_args(tiny_world, tmp, "sft-cap", "--capability", str(yaml))) == 0
    return tmp, yaml


def test_train_stores_lm_eval_scores_at_every_checkpoint(trained, tiny_world, capsys):
    tmp, yaml = trained
    rows = capability_rows(tmp / "s.duckdb", "sft-cap")
    steps = sorted({r[0] for r in rows})
    assert len(steps) >= 2 and steps[0] == 0 and steps[-1] == 2
    assert {(r[1], r[2]) for r in rows} == {(TASK, "acc"), (TASK, "acc_norm")}
    assert all(r[5] == 12 and r[6] == 12 and 0 <= r[3] <= 1 and r[4] is not None for r in rows)

    # The last checkpoint was scored on the model in memory: the saved model scores the same.
    from vdbench.capability.harness import CapabilityEvaluator
    from vdbench.training.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(tmp / "out" / "sft-cap")
    again = {s.metric: s.value for s in CapabilityEvaluator(str(yaml)).evaluate(model, tokenizer)}
    assert again == {r[2]: r[3] for r in rows if r[0] == 2}


def test_capability_leaves_training_unchanged(tiny_world, tmp_path):
    """With dropout on, training depends on the torch RNG and on train mode: lm-eval runs
    under a forked RNG and the model goes back to train mode, so the weights are the same
    with and without capability."""
    from safetensors.torch import load_file

    model = tmp_path / "dropout-model"
    shutil.copytree(tiny_world.model, model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "attention_dropout": 0.3}))
    yaml = write_task(tmp_path / "task")
    for run, extra in (("with", ["--capability", str(yaml)]), ("without", [])):
        argv = train_args(tiny_world, tmp_path, run, *extra)
        argv[argv.index("--model") + 1] = str(model)
        assert main(argv) == 0
    with_cap = load_file(tmp_path / "out" / "with" / "model.safetensors")
    without = load_file(tmp_path / "out" / "without" / "model.safetensors")
    assert with_cap.keys() == without.keys()
    assert all((with_cap[k] == without[k]).all() for k in with_cap)


def test_metrics_json_carries_capability_per_checkpoint_and_stage(trained, capsys):
    tmp, _ = trained
    db = tmp / "s.duckdb"
    judge_everything(db, "sft-cap")
    capsys.readouterr()
    assert main(["metrics", "--db", str(db), "--run", "sft-cap", "--json"]) == 0
    block = json.loads(capsys.readouterr().out)["capability"]
    stored = {(r[0], r[2]): r[3] for r in capability_rows(db, "sft-cap")}
    assert {(c["step"], c["metric"]): c["value"] for c in block["by_checkpoint"]} == stored
    acc = next(s for s in block["stage"] if s["metric"] == "acc")
    assert (acc["step_from"], acc["step_to"]) == (0, 2)
    assert acc["delta"] == pytest.approx(stored[(2, "acc")] - stored[(0, "acc")])
    lo, hi = acc["delta_ci"]
    assert lo <= acc["delta"] <= hi and acc["ci_method"] == "paired bootstrap over items"
    assert block["headline"] == {TASK: "acc"}

    assert main(["metrics", "--db", str(db), "--run", "sft-cap"]) == 0
    text = capsys.readouterr().out
    assert f"capability (95% CI of Δ): {TASK} acc {stored[(0, 'acc')]:.3f} at step 0 →" in text


def test_capability_run_scores_saved_checkpoints_and_skips_the_rest(trained, capsys):
    """Steps 0 (the base model dir) and 2 (the output dir) were saved; step 1 was not."""
    tmp, _ = trained
    db = tmp / "s.duckdb"
    capsys.readouterr()
    argv = ["capability", "run", "--db", str(db), "--run", "sft-cap", "--tasks", "micro", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    status = {c["step"]: c["status"] for c in summary["checkpoints"]}
    assert status == {0: "stored", 1: "skipped", 2: "stored"}
    assert {r[0] for r in capability_rows(db, "sft-cap") if r[1] == "vdbench_micro"} == {0, 2}
    assert main(argv) == 0  # a rerun finds everything stored
    again = json.loads(capsys.readouterr().out)
    assert {c["status"] for c in again["checkpoints"] if c["step"] != 1} == {"already stored"}
    assert again["rows_stored"] == 0


def test_sample_scores_capability_in_the_same_pass(tiny_world, tmp_path, capsys):
    yaml = write_task(tmp_path / "task")
    db = tmp_path / "s.duckdb"
    assert main(["sample", "--checkpoint", str(tiny_world.model), "--steps", "0", "--run", "ext",
                 "--db", str(db), "--eval-set", str(tiny_world.eval_set), "--samples", "1",
                 "--max-new-tokens", "4", "--capability", str(yaml), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["capability"]["stored_steps"] == [0]
    assert {(r[0], r[1]) for r in capability_rows(db, "ext")} == {(0, TASK)}


# --- (b) the built-in micro task -----------------------------------------------------------


def test_micro_items_are_deterministic_and_only_language_tells_them_apart():
    from vdbench.capability.micro import micro_items

    items = micro_items()
    assert len(items) == 176 and items == micro_items() and items != micro_items(seed=1)
    assert {i.kind for i in items} == {"topic", "fact", "order"}
    for item in items:
        assert len(set(item.choices)) == len(item.choices) and 0 <= item.gold < len(item.choices)
        if item.kind == "order":  # the same words (and first word) in another order
            words = [sorted(c.split()) for c in item.choices]
            assert all(w == words[0] for w in words)
            assert len({c.split()[0] for c in item.choices}) == 1


@pytest.fixture(scope="module")
def micro_base(tmp_path_factory) -> Path:
    from vdbench.micro import build_micro_world

    return build_micro_world(tmp_path_factory.mktemp("micro") / "w", seed=0, steps=60).base


def test_micro_task_scores_a_trained_micro_model_above_chance(micro_base):
    import torch
    from transformers import LlamaForCausalLM

    from vdbench.capability.harness import CapabilityEvaluator
    from vdbench.capability.micro import chance_level
    from vdbench.training.models import load_model_and_tokenizer

    evaluator = CapabilityEvaluator("micro", limit=None)
    model, tokenizer = load_model_and_tokenizer(micro_base)
    trained = {s.metric: s for s in evaluator.evaluate(model, tokenizer)}["acc"]
    torch.manual_seed(0)
    untrained = {s.metric: s for s in evaluator.evaluate(LlamaForCausalLM(model.config), tokenizer)}["acc"]
    chance = chance_level()
    assert trained.n == 176 and abs(untrained.value - chance) < 3 * untrained.stderr
    assert trained.value > chance + 5 * trained.stderr and trained.value > untrained.value + 0.15


# --- (c) bad input: exit 2, one clear line, nothing written ----------------------------------


def refused(capsys, argv: list[str], *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_unknown_task_is_refused_before_training(tiny_world, tmp_path, capsys):
    refused(capsys, train_args(tiny_world, tmp_path, "r", "--capability", "hellaswagg"),
            "'hellaswagg' is not an lm-eval task", "did you mean hellaswag")
    assert not (tmp_path / "s.duckdb").exists()


def test_missing_lm_eval_names_the_extra(tiny_world, tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "lm_eval" else real(name, *a))
    refused(capsys, train_args(tiny_world, tmp_path, "r", "--capability", "micro"),
            "lm-evaluation-harness, which is not installed", "pip install 'vdbench[capability]'")
    assert not (tmp_path / "s.duckdb").exists()


def test_limit_must_be_positive(tiny_world, tmp_path, capsys, example_store):
    refused(capsys, train_args(tiny_world, tmp_path, "r", "--capability", "micro",
                               "--capability-limit", "0"), "--capability-limit must be a positive")
    refused(capsys, ["capability", "run", "--db", str(example_store), "--run", "sft", "--tasks",
                     "micro", "--limit", "0"], "--limit must be a positive")


def test_run_without_saved_checkpoints_is_refused(example_store, tmp_path, capsys):
    db = tmp_path / "example.duckdb"
    shutil.copy(example_store, db)
    refused(capsys, ["capability", "run", "--db", str(db), "--run", "sft", "--tasks", "micro"],
            "run 'sft' has no saved checkpoint directories", "nothing was scored")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM capability").fetchone() == (0,)


def test_uncached_dataset_is_refused_before_sampling(tiny_world, tmp_path, capsys):
    yaml = write_task(tmp_path / "task", dataset_path="vdbench-tests/not-in-any-cache")
    db = tmp_path / "s.duckdb"
    refused(capsys, ["sample", "--checkpoint", str(tiny_world.model), "--steps", "0", "--run", "x",
                     "--db", str(db), "--eval-set", str(tiny_world.eval_set), "--capability", str(yaml)],
            f"capability task '{yaml}' needs its dataset in the Hugging Face cache",
            "HF_DATASETS_OFFLINE=1")
    assert not db.exists()


# --- the TUI: capability beside output health ------------------------------------------------


def test_tui_shows_capability_beside_output_health(tui_store, tmp_path):
    """dpo's micro score falls 0.90 → 0.50: Stances marks the fall at the last checkpoint,
    Drift has a capability row for dpo (not for its siblings, which have none)."""
    import asyncio

    from tests.fixtures.tui_store import make_app, screen_text, settle
    from vdbench.capability.records import CapabilityScore, write_capability
    from vdbench.store import Store

    db = tmp_path / "tui.duckdb"
    shutil.copy(tui_store, db)
    store = Store(db)
    with store.read() as con:
        steps = [r[0] for r in con.execute(
            "SELECT step FROM checkpoints WHERE run_id = 'dpo' ORDER BY step").fetchall()]
    for i, step in enumerate(steps):
        value = 0.9 - 0.4 * i / (len(steps) - 1)
        write_capability(store, "dpo", step, [CapabilityScore("vdbench_micro", "acc", "none", value,
                                                              0.03, 176)])

    async def go():
        app = make_app(db)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            text = screen_text(app)
            assert "output health" in text
            assert "capability ⚠ micro acc 0.50±0.06 ↓ from 0.90" in text
            await pilot.press("home")
            await settle(pilot)
            assert "capability ✓ micro acc 0.90±0.06" in screen_text(app)
            await pilot.press("3")
            await settle(pilot)
            text = screen_text(app)
            assert "● dpo capability micro acc 0.90→0.50" in text and "output ok" in text

    asyncio.run(go())


def test_experiment_report_gets_a_capability_column_only_when_measured():
    from vdbench.experiments.render import capability_cell, markdown_report
    from vdbench.experiments.report import _capability_end

    metrics = {"capability": {"headline": {"vdbench_micro": "acc"}, "stage": [
        {"task": "vdbench_micro", "metric": "acc", "filter": "none", "delta": -0.21,
         "delta_ci": [-0.27, -0.14]}]}}
    end = _capability_end(metrics)
    assert end["capability_delta"] == -0.21 and _capability_end({}) == {}
    point = {"point": "dpo", "n_seeds": 1, "moved": "support", "M": 0.8, "M_ci": [0.7, 0.9],
             "eta": 0.3, "training": {}, **end}
    report = {"experiment": "x", "judge": "probe", "comparisons": [], "pending": [],
              "bootstrap": {"confidence": 0.95, "n_boot": 10, "method": "m"}}
    assert capability_cell(point) == "micro acc -0.21"
    assert "capability Δ" in markdown_report({**report, "points": [point]})
    plain = {k: v for k, v in point.items() if not k.startswith("capability")}
    assert "capability Δ" not in markdown_report({**report, "points": [plain]})
