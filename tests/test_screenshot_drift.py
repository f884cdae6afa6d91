"""scripts/screenshot_drift.py: the real TUI, driven headless to the Drift view, saved as SVG."""

from __future__ import annotations

import html
import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("screenshot_drift",
                                                  REPO / "scripts" / "screenshot_drift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(svg: str) -> str:
    """The SVG's visible text, spans joined (Textual writes spaces as &#160;)."""
    spans = re.findall(r"<text[^>]*>(.*?)</text>", svg)
    return html.unescape("\n".join(spans)).replace("\xa0", " ")


def test_screenshot_of_the_default_run(example_store: Path, tmp_path: Path, capsys) -> None:
    torch_before = "torch" in sys.modules
    out = tmp_path / "img" / "drift.svg"
    rc = _script().main(["--db", str(example_store), "--output", str(out), "--size", "120x36",
                         "--n-boot", "200"])
    assert rc == 0
    assert "run sft" in capsys.readouterr().out  # base → sft → dpo: sft is the first with a parent
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    text = _text(svg)
    assert "vdbench · drift · sft" in text  # the window title names the run
    assert "3 Drift" in text  # the tab bar
    assert "over training · runs side by side:" in text  # the Drift view's head, not a loading screen
    assert "computing" not in text and "opening store" not in text
    assert "all topics" in text and "+0.44" in text  # the M/η table: sft's neutral drift
    assert "┤" in text and "●" in text  # the plot's axis and the run's points
    if not torch_before:
        assert "torch" not in sys.modules  # the TUI never imports torch


def test_screenshot_of_a_named_run_and_stance(example_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "drift.svg"
    assert _script().main(["--db", str(example_store), "--run", "dpo", "--stance", "support",
                           "--output", str(out), "--size", "80x24", "--n-boot", "200"]) == 0
    text = _text(out.read_text(encoding="utf-8"))
    assert "vdbench · drift · dpo" in text and "support" in text


def test_unknown_run_is_an_error_and_writes_nothing(example_store: Path, tmp_path: Path,
                                                     capsys) -> None:
    out = tmp_path / "drift.svg"
    assert _script().main(["--db", str(example_store), "--run", "nope",
                           "--output", str(out)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
    assert not out.exists()
