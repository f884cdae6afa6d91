"""Lint the tree and type-check the core, so style and typing regressions fail CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = ["vdbench/store.py", "vdbench/runs.py", "vdbench/queries.py", "vdbench/health.py",
        "vdbench/metrics", "vdbench/evalsets", "vdbench/judgments.py", "vdbench/judging.py",
        "vdbench/judges/base.py", "vdbench/judges/registry.py", "vdbench/judge_health.py",
        "vdbench/judges/evaluation.py", "vdbench/judges/compare.py", "vdbench/judges/labelled.py",
        "vdbench/judges/crossenc.py", "vdbench/capability", "vdbench/experiments/spec.py",
        "vdbench/experiments/plan.py", "vdbench/experiments/options.py",
        "vdbench/experiments/report.py", "vdbench/experiments/render.py"]


def test_ruff_is_clean() -> None:
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_core_type_checks() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", *CORE], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
