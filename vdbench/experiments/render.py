"""An experiment report as a terminal table, Markdown and CSV (same columns everywhere)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

POINT_COLUMNS = ("point", "seeds", "moved", "before", "M [CI]", "η [CI]", "bad", "judge",
                 "training")
COMPARE_COLUMNS = ("axis", "compared", "of", "difference [CI]", "verdict")


def _ci(value: float | None, ci: list[float] | None, sign: str = "+") -> str:
    if value is None:
        return "—"
    text = f"{value:{sign}.2f}"
    return f"{text} [{ci[0]:{sign}.2f}, {ci[1]:{sign}.2f}]" if ci else text


def _share(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def training_cell(p: dict[str, Any]) -> str:
    """PPO: reward first→last and KL to the reference; DPO/SimPO: reward margin first→last."""
    t = p.get("training") or {}
    if t.get("reference_kl") is not None:
        return (f"reward {t['first_reward']:+.2f}→{t['last_reward']:+.2f}, "
                f"KL {t['reference_kl']:.2f}")
    if t.get("first_margin") is not None:
        return f"margin {t['first_margin']:+.2f}→{t['last_margin']:+.2f}"
    if t.get("first_loss") is not None:
        return f"loss {t['first_loss']:.2f}→{t['last_loss']:.2f}"
    return "—"


def capability_cell(p: dict[str, Any]) -> str:
    """Capability Δ first → last (mean over seeds), e.g. `micro acc −0.21`; — if unmeasured."""
    if p.get("capability_delta") is None:
        return "—"
    task = (p.get("capability_task") or "").removeprefix("vdbench_")
    return f"{task} {p['capability_delta']:+.2f}"


def distinct_cell(p: dict[str, Any]) -> str:
    a, b = p.get("distinct_from"), p.get("distinct_to")
    return "—" if a is None or b is None else f"{a:.0%}→{b:.0%}"


def point_cells(p: dict[str, Any]) -> tuple[str, ...]:
    if not p.get("n_seeds"):
        return (p["point"], "0", p.get("moved") or "—", "—", "pending", "—", "—", "—", "—")
    before = p.get("favoured_before") or "—"
    if p.get("moved") and before != "—":
        before = f"{before} ({'likely' if p.get('likely_before') else 'unlikely'})"
    return (p["point"], str(p["n_seeds"]), p["moved"], before, _ci(p["M"], p["M_ci"]),
            _ci(p["eta"], p.get("eta_ci"), sign=""), _share(p.get("unhealthy_to")),
            _share(p.get("judge_flagged_to")), training_cell(p))


def compare_cells(c: dict[str, Any]) -> tuple[str, ...]:
    if c["kind"] == "slope":
        compared = "slope over " + ", ".join(f"{v:g}" for v in c["values"])
        of = f"{c['of'].split(' of ')[0]} per {c['per']}"
    else:
        compared = f"{c['a']} − {c['b']}"
        of = c["of"]
        if c.get("a_start") is not None:  # each moved stance's share before training
            of += f" (before {c['a_start']:.2f} vs {c['b_start']:.2f})"
    return (c["axis"], compared, of, _ci(c["estimate"], c["ci"]), c["verdict"])


def print_report(out: Any, report: dict[str, Any]) -> None:
    """Two tables that fit 80 columns: drift per point, then health and training per point."""
    from rich import box
    from rich.table import Table

    boot = report["bootstrap"]
    drift = Table(title=f"experiment {report['experiment']}: the moved stance per grid point, "
                  f"mean over seeds (judge {report['judge']})",
                  caption=f"CI: {boot['confidence']:.0%}, {boot['method']}; before: whether the "
                  "moved stance was the favoured one at the start", box=box.SIMPLE_HEAD)
    for col in ("point", "n", "moved", "before", "M [CI]", "η [CI]"):
        drift.add_column(col, overflow="fold", no_wrap=col != "point")
    capability = any(p.get("capability_delta") is not None for p in report["points"])
    health = Table(title="output health, judge health and training, per point",
                   caption="bad: unhealthy outputs at the end; distinct: share of distinct "
                   "texts, start→end (a collapse onto one answer); judge: its flagged share at "
                   "the end; " + ("capability Δ: last − first on the capability task, mean over "
                                  "seeds; " if capability else "")
                   + "PPO: reward first→last and KL to the reference (nats)",
                   box=box.SIMPLE_HEAD)
    for col in ("point", "bad", "distinct", "judge", *(["capability Δ"] if capability else []),
                "training"):
        health.add_column(col, overflow="fold", no_wrap=col in ("bad", "distinct", "judge"))
    for p in report["points"]:
        cells = point_cells(p)
        before = cells[3].split(" (")[-1].rstrip(")") if "(" in cells[3] else cells[3]
        drift.add_row(cells[0], cells[1], cells[2], before, cells[4], cells[5])
        health.add_row(cells[0], cells[6], distinct_cell(p), cells[7],
                       *([capability_cell(p)] if capability else []), cells[8])
    out.print(drift)
    out.print(health)
    if report["comparisons"]:
        comp = Table(title="comparisons (paired over shared seeds and prompts)", box=box.SIMPLE_HEAD)
        for col in COMPARE_COLUMNS:
            comp.add_column(col, overflow="fold", no_wrap=col in ("of", "difference [CI]"))
        for c in report["comparisons"]:
            comp.add_row(*compare_cells(c))
        out.print(comp)
    if report["pending"]:
        out.print(f"not yet trained: {len(report['pending'])} run(s), e.g. {report['pending'][0]}",
                  markup=False)


def _md_table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    esc = [tuple(c.replace("|", "\\|") for c in r) for r in rows]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r) + " |" for r in esc]
    return "\n".join(lines)


def markdown_report(report: dict[str, Any]) -> str:
    boot = report["bootstrap"]
    cap = any(p.get("capability_delta") is not None for p in report["points"])
    parts = [f"## Experiment `{report['experiment']}` (judge `{report['judge']}`)", "",
             f"CIs: {boot['confidence']:.0%}, {boot['n_boot']} replicates, {boot['method']}.", "",
             _md_table(POINT_COLUMNS[:7] + ("distinct",) + POINT_COLUMNS[7:]
                       + (("capability Δ",) if cap else ()),
                       [(*point_cells(p)[:7], distinct_cell(p), *point_cells(p)[7:],
                         *((capability_cell(p),) if cap else ())) for p in report["points"]]), ""]
    seeds = [(p["point"], s) for p in report["points"] for s in p.get("per_seed", [])]
    if seeds:
        parts += ["### Per seed", "", _md_table(
            ("point", "seed", "M [CI]", "η", "bad", "distinct", "training"),
            [(pt, str(s["seed"]), _ci(s["M"], s.get("M_ci")), f"{s['eta']:.2f}",
              _share(s.get("unhealthy_to")), distinct_cell(s), training_cell({"training": s}))
             for pt, s in seeds]), ""]
    if report["comparisons"]:
        parts += ["### Comparisons", "", _md_table(COMPARE_COLUMNS,
                                                   [compare_cells(c) for c in report["comparisons"]]), ""]
    return "\n".join(parts)


CSV_FIELDS = ("point", "stage", "algorithm", "dataset", "moved", "seed", "run", "M", "M_lo", "M_hi",
              "eta", "v_from", "v_to", "unhealthy_to", "distinct_to", "judge_flagged_to", "first_reward",
              "last_reward", "reference_kl", "first_margin", "last_margin", "seconds",
              "capability_task", "capability_delta")


def write_csv(report: dict[str, Any], path: Path) -> None:
    """One row per point and seed; written to a temporary file, then renamed."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for p in report["points"]:
            for s in p.get("per_seed", []):
                ci = s.get("M_ci") or [None, None]
                writer.writerow({**{k: p.get(k) for k in ("point", "stage", "algorithm", "dataset",
                                                           "moved")},
                                 **s, "M_lo": ci[0], "M_hi": ci[1]})
    os.replace(tmp, path)
