"""The command line: help for every command, metrics on a known store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vdbench.cli import COMMANDS, build_parser


def vd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdbench.cli", *args], capture_output=True, text=True)


def test_every_command_is_installed_and_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)
    top = vd("--help")
    assert top.returncode == 0
    for name in COMMANDS:
        assert name in top.stdout
        out = vd(name, "--help")
        assert out.returncode == 0 and "usage: vdbench" in out.stdout, name


def test_metrics_json_reports_values_cis_drift_and_health(example_store: Path) -> None:
    out = vd("metrics", "--db", str(example_store), "--run", "sft", "--json", "--n-boot", "200")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["parent"] == {"run": "base", "step": None}
    assert len(report["checkpoints"]) == 9
    row = report["values"][0]
    assert set(row["v"]) == {"support", "neutral", "oppose"}
    assert abs(sum(row["v"].values()) - 1) < 1e-9
    for s, (lo, hi) in row["ci"].items():
        assert lo <= row["v"][s] <= hi
    overall = next(d for d in report["drift"] if d["topic"] == "(all topics)")
    # the synthetic SFT stage moves neutral up from ~0.25 to ~0.75, early
    assert overall["dominant"] == "neutral"
    assert overall["stances"]["neutral"]["M"] > 0.3
    assert overall["stances"]["neutral"]["direction"] == "rising"
    assert overall["stances"]["neutral"]["eta"] <= 0.5
    assert report["health"][0]["unhealthy"] == 0


def test_metrics_confidence_is_an_option_and_widens_intervals(example_store: Path) -> None:
    def width(conf: str) -> float:
        out = vd("metrics", "--db", str(example_store), "--run", "sft", "--json", "--n-boot", "300",
                 "--confidence", conf)
        row = json.loads(out.stdout)["values"][0]
        lo, hi = row["ci"]["neutral"]
        return hi - lo

    assert width("0.99") > width("0.8")


def test_metrics_between_two_checkpoints(example_store: Path) -> None:
    out = vd("metrics", "--db", str(example_store), "--run", "dpo", "--json", "--n-boot", "100",
             "--from-step", "0", "--to-step", "400")
    m = json.loads(out.stdout)["between"]["M"]["(all topics)"]
    assert m["support"] > 0 and abs(sum(m.values())) < 1e-9


@pytest.mark.parametrize("args,message", [
    (["--run", "ghost"], "no run named 'ghost'"),
    (["--run", "sft", "--judge", "gpt"], "no judgments by 'gpt'"),
    (["--run", "sft", "--confidence", "1.5"], "--confidence must be in"),
    (["--run", "sft", "--from-step", "7"], "no checkpoint at step 7"),
])
def test_metrics_bad_requests_are_clear(example_store: Path, args: list[str], message: str) -> None:
    out = vd("metrics", "--db", str(example_store), *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_runs_listing_shows_lineage(example_store: Path) -> None:
    out = vd("metrics", "--db", str(example_store), "--runs", "--json")
    runs = {r["run_id"]: r for r in json.loads(out.stdout)}
    assert runs["dpo"]["parent_run"] == "sft" and runs["dpo"]["parent_step"] == 800
    assert runs["sft"]["n_checkpoints"] == 9


def test_demo_example_writes_a_store_and_reports_drift(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    out = vd("demo", "--example", "--db", str(db), "--json")
    assert out.returncode == 0, out.stderr
    reports = json.loads(out.stdout)
    sft = next(d for d in reports["sft"]["drift"] if d["topic"] == "(all topics)")
    assert sft["dominant"] == "neutral" and db.exists()


@pytest.mark.parametrize("args,message", [
    (["--db", "/no/such/dir/demo.duckdb"], "directory of --db does not exist"),
    (["--only", "sft-chat", "nonsense"], "unknown demo stage(s): nonsense"),
    (["--judge", "nope"], "unknown judge 'nope'"),
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--only", "dpo-gap-support"], "start from sft-chat, which is neither chosen nor in the store"),
])
def test_demo_refuses_bad_options_before_building_anything(tmp_path: Path, args: list[str],
                                                           message: str) -> None:
    work = tmp_path / "work"
    base = ["demo", "--workdir", str(work)]
    if "--db" not in args:
        base += ["--db", str(tmp_path / "demo.duckdb")]
    out = vd(*base, *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert not work.exists() and not (tmp_path / "demo.duckdb").exists()
