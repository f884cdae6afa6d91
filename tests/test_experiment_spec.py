"""Experiment files: what a grid expands to (run ids, lineage, seeds, per-algorithm options),
the built-in experiments, and every bad file refused with file:line before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vdbench.cli import main
from vdbench.experiments.plan import expand
from vdbench.experiments.spec import builtin_names, load_spec, resolve_file

HEAD = """[experiment]
name = "t"
base = "model"
seeds = [0, 1]

[drift]
eval_set = "vprism-mini"
samples = 2

[datasets]
sft = { path = "sft.jsonl", moves = "neutral" }
pref = { path = "pref.jsonl", moves = "support" }
opp = { path = "pref.jsonl", moves = "oppose" }

[[stage]]
name = "sft"
algorithm = "sft"
dataset = "sft"
max_steps = 4
eval_steps = [0, 4]
"""

GRID = HEAD + """
[[stage]]
name = "pref"
parent = "sft"
algorithm = ["dpo", "simpo"]
dataset = ["pref", "opp"]
max_steps = 4
lr = 5e-5

[stage.dpo]
beta = [0.1, 0.5]

[stage.simpo]
beta = 2.0
gamma = 1.0
"""


def _write(tmp_path: Path, text: str) -> Path:
    for name in ("sft.jsonl", "pref.jsonl"):
        (tmp_path / name).write_text("{}\n")
    (tmp_path / "model").mkdir(exist_ok=True)
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_a_grid_expands_into_runs_with_lineage_seeds_and_per_algorithm_options(tmp_path) -> None:
    plan = expand(load_spec(_write(tmp_path, GRID)))
    ids = [r.run_id for r in plan.runs]
    # 2 seeds × (1 sft + dpo 2 datasets × 2 betas + simpo 2 datasets) = 2 × 7
    assert len(ids) == len(set(ids)) == 14
    assert plan.size()["points"] == 7
    dpo = plan.run("t.pref-dpo-opp-b0.5.s1")
    assert dpo.parent_run == "t.sft.s1" and dpo.seed == 1 and dpo.moved == "oppose"
    assert dpo.options["beta"] == 0.5 and dpo.options["lr"] == 5e-5 and dpo.options["samples"] == 2
    simpo = plan.run("t.pref-simpo-pref.s0")
    assert simpo.options["gamma"] == 1.0 and simpo.options["beta"] == 2.0 and simpo.moved == "support"
    assert simpo.grid == {"algorithm": "simpo", "dataset": "pref"}
    assert expand(load_spec(_write(tmp_path, GRID)), seeds=(5,)).size()["runs"] == 7


def test_built_in_experiments_load_and_the_demo_is_a_subset_of_micro_paper() -> None:
    assert {"demo", "demo-quick", "micro-paper"} <= set(builtin_names())
    paper = expand(load_spec(resolve_file("micro-paper")))
    demo = expand(load_spec(resolve_file("demo")))
    assert len(paper.spec.seeds) >= 3
    paper_settings = {(r.algorithm, r.dataset, r.parent_run is None) for r in paper.runs}
    assert {(r.algorithm, r.dataset, r.parent_run is None) for r in demo.runs} <= paper_settings | {
        ("sft", "instruct", True), ("dpo", "style", False), ("simpo", "style", False)}
    assert {"gap-support", "gap-oppose"} <= {r.dataset for r in paper.runs}


@pytest.mark.parametrize(("edit", "line", "message"), [
    (lambda t: t.replace("max_steps = 4\neval_steps", "max_stepz = 4\neval_steps"), 19,
     "unknown option 'max_stepz' for sft"),
    (lambda t: t + '\n[[stage]]\nname = "d"\nparent = "nope"\nalgorithm = "dpo"\ndataset = "pref"\n', 24,
     "parent 'nope' is not a stage declared above it"),
    (lambda t: t + '\n[[stage]]\nname = "d"\nparent = "sft"\nalgorithm = "dpo"\ndataset = "pref"\nbeta = []\n',
     27, "empty grid for 'beta'"),
    (lambda t: t + '\n[[stage]]\nname = "d"\nalgorithm = []\ndataset = "pref"\n', 24,
     "empty grid for algorithm"),
    (lambda t: t + '\n[[stage]]\nname = "d"\nalgorithm = "rlhf"\ndataset = "pref"\n', 24,
     "unknown algorithm 'rlhf'"),
    (lambda t: t + '\n[[stage]]\nname = "d"\nalgorithm = "dpo"\ndataset = "missing"\n', 25,
     "dataset 'missing' is not declared"),
    (lambda t: t + '\n[[stage]]\nname = "d"\nalgorithm = "dpo"\ndataset = "pref"\nkl_coef = 0.1\n', 26,
     "unknown option 'kl_coef' for dpo"),
    (lambda t: t + '\n[[stage]]\nname = "d"\nalgorithm = "dpo"\ndataset = "pref"\nlr = "fast"\n', 26,
     "invalid float value"),
    (lambda t: t + '\n[[stage]]\nname = "d"\nalgorithm = "dpo"\ndataset = "pref"\ndb = "x"\n', 26,
     "set by the experiment itself"),
    (lambda t: t.replace("seeds = [0, 1]", "seeds = []"), 4, "seeds must be a non-empty list"),
    (lambda t: t.replace('samples = 2', 'samples = 2\nsampels = 3'), 9, "unknown option 'sampels'"),
    (lambda t: t.replace('[drift]', '[drfit]'), 6, "unknown table [drfit]"),
    (lambda t: t.replace('name = "sft"\nalgorithm', 'name = "sft"\nalgorithm = "sft"\nalgorithm'), 18,
     "not valid TOML"),
    (lambda t: t.replace('max_steps = 4\neval', 'max_steps = 0\neval'), 15, "must be positive"),
    (lambda t: t.replace('pref = { path = "pref.jsonl"', 'pref = { path = "gone.jsonl"'), 12,
     "no such file"),
])
def test_bad_experiment_files_are_refused_with_file_and_line(tmp_path, capsys, edit, line, message) -> None:
    path = _write(tmp_path, edit(HEAD))
    code = main(["experiment", "show", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{path}:{line}" in err and message in err, err
    assert "Traceback" not in err


def test_missing_and_directory_files_and_unknown_builtins(tmp_path, capsys) -> None:
    assert main(["experiment", "show", str(tmp_path / "none.toml")]) == 2
    assert "no such experiment file" in capsys.readouterr().err
    assert main(["experiment", "show", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["experiment", "show", "no-such-builtin"]) == 2
    assert "micro-paper" in capsys.readouterr().err  # the hint lists the built-ins


def test_duplicate_run_ids_and_unknown_only(tmp_path, capsys) -> None:
    path = _write(tmp_path, HEAD.replace('name = "t"', 'name = "t"\nrun_name = "{stage}{grid}"'))
    assert main(["experiment", "show", str(path)]) == 2
    assert "gives two runs the id 'sft'" in capsys.readouterr().err
    path = _write(tmp_path, HEAD)
    assert main(["experiment", "run", str(path), "--only", "nope", "--db", str(tmp_path / "s.db")]) == 2
    assert "unknown stage(s): nope" in capsys.readouterr().err
    assert not (tmp_path / "s.db").exists()  # nothing was written


def test_show_prints_the_plan_size_without_running(tmp_path) -> None:
    path = _write(tmp_path, GRID)
    out = subprocess.run([sys.executable, "-m", "vdbench.cli", "experiment", "show", str(path)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert "14 runs = 7 grid points × 2 seed(s)" in " ".join(out.split())
    assert "t.pref-dpo-opp-b0.5.s1" in out


def test_mixed_and_selected_datasets_are_declared_and_a_mix_is_deterministic(tmp_path) -> None:
    from vdbench.experiments.datasets import write_mix

    text = HEAD + """
[datasets.both]
mix = ["pref", "sft"]
limit_each = 1

[datasets.both-gap]
select = { from = "both", keep = "gap-support", min_margin = 0.4 }
moves = "support"

[[stage]]
name = "cur"
parent = "sft"
algorithm = "dpo"
dataset = ["both", "both-gap"]
"""
    spec = load_spec(_write(tmp_path, text))
    assert spec.datasets["both"].kind == "mix" and spec.datasets["both-gap"].kind == "select"
    assert spec.datasets["both-gap"].value == {"from": "both", "keep": "gap-support", "min_margin": 0.4}
    plan = expand(spec)
    assert {r.dataset for r in plan.runs if r.stage == "cur"} == {"both", "both-gap"}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(f'{{"i": {i}}}\n' for i in range(5)))
    b.write_text("".join(f'{{"j": {i}}}\n' for i in range(5)))
    out = tmp_path / "mix.jsonl"
    assert write_mix([a, b], out, limit_each=3) == 6
    first = out.read_text()
    write_mix([a, b], out, limit_each=3)
    assert out.read_text() == first and sorted(first.splitlines()) == sorted(
        a.read_text().splitlines()[:3] + b.read_text().splitlines()[:3])


@pytest.mark.parametrize(("entry", "message"), [
    ('bad = { select = { from = "nope", keep = "gap-support" } }', "refers to 'nope'"),
    ('bad = { select = { from = "pref", keep = "everything" } }', "select keep must be one of"),
    ('bad = { mix = ["pref"] }', "mix must list at least two"),
    ('bad = { path = "micro:nonsense" }', "no micro-world dataset 'nonsense'"),
    ('bad = { path = "pref.jsonl", moves = "up" }', "moves must be one of"),
])
def test_bad_dataset_declarations(tmp_path, capsys, entry, message) -> None:
    path = _write(tmp_path, HEAD.replace('opp = { path = "pref.jsonl", moves = "oppose" }', entry))
    assert main(["experiment", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:13" in err and message in err, err
