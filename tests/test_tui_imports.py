"""The TUI's modules import on their own, in a fresh interpreter, with no import cycle and
without the ML stack (torch, transformers, trl), also once data is read from a store."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import vdbench.tui

REPO = Path(__file__).resolve().parents[1]
TUI = Path(vdbench.tui.__file__).parent
HEAVY = ("torch", "transformers", "trl", "accelerate", "peft", "sklearn", "lm_eval")


def tui_modules() -> list[str]:
    """Every module of vdbench.tui (views included)."""
    found = ["vdbench.tui"]
    for info in pkgutil.walk_packages([str(TUI)], prefix="vdbench.tui."):
        found.append(info.name)
    return sorted(found)


def _path(module: str) -> Path:
    rel = Path(*module.split(".")[2:])
    package = TUI / rel / "__init__.py"
    return package if package.exists() else (TUI / rel).with_suffix(".py")


def imports_of(module: str) -> set[str]:
    """vdbench.tui modules `module` imports anywhere: top level, under TYPE_CHECKING or in a
    function (a lazy import still closes a cycle for readers and type checkers)."""
    known = set(tui_modules())
    tree = ast.parse(_path(module).read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out |= {n for n in names if n in known and n != module}
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_by_hand() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_among_tui_modules() -> None:
    graph = {m: imports_of(m) for m in tui_modules()}
    assert "vdbench.tui.views.base" in graph and "vdbench.tui.app" not in graph["vdbench.tui.views.base"]
    assert find_cycle(graph) is None, find_cycle(graph)


def test_every_tui_module_imports_alone_without_the_ml_stack(tui_store: Path) -> None:
    """Each module first in its own fresh interpreter (a cycle would fail there), then a
    store read through the TUI's data layer; the ML stack is never imported."""
    modules = tui_modules()
    assert {"vdbench.tui.app", "vdbench.tui.views.base", "vdbench.tui.health_data"} <= set(modules)
    check = f"bad = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]; print(bad)"
    for module in modules:
        code = f"import sys, importlib; importlib.import_module({module!r}); {check}"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                             timeout=120)
        assert out.returncode == 0, f"{module}: {out.stderr[-2000:]}"
        assert out.stdout.strip() == "[]", f"{module} pulled in {out.stdout.strip()}"
    reading = (f"import sys; from vdbench.tui import data; b = data.Backend({str(tui_store)!r}, n_boot=5); "
               "s = data.load_series(b.ts, 'dpo'); data.stance_snapshot(b.ts, b.cache, s, 0); "
               f"data.drift_curves(b.ts, b.cache, data.load_overview(b.ts)[0].runs[2]); {check}")
    out = subprocess.run([sys.executable, "-c", reading], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
