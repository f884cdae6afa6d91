"""The demo's summary: per-stage drift with CIs, output health and judge health, the
preference-set audit (with the share of confidently judged pairs), and the paper's findings
set beside what this run measured.

`findings` is a pure function of the stage and audit rows, so its verdict rules are
tested on hand-made rows; `build_summary` reads the store, `print_summary` renders.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

from vdbench.judge_health import DEFAULT_MIN_CONFIDENCE, UNRELIABLE_SHARE

# DESIGN §2 / the paper (Llama-3-3B and Qwen; see docs/metrics.md).
PAPER = {
    "sft": "Llama-3-3B SFT on WildChat: neutral M = 0.38, η = 0.09",
    "standard": "standard preference data (UltraFeedback, HH-RLHF): |M| 0.01–0.27, η 0.14–0.42",
    "order": "value-gap data: DPO ≈ 0.46–0.53 > SimPO ≈ 0.15 > PPO ≈ 0.0 (KL-anchored)",
}
EARLY = 0.5  # "sets values early": the stance reaches its extreme's CI in the first half
ALL_TOPICS = "(all topics)"


def end_judge_health(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """run_metrics' judge_health row of the last checkpoint, all topics pooled; None if absent."""
    rows = [r for r in (metrics.get("judge_health") or {}).get("by_checkpoint", [])
            if r.get("topic") == ALL_TOPICS and r.get("n")]
    return max(rows, key=lambda r: r["step"]) if rows else None


def unreliable(share: float | None) -> bool:
    """A flagged share above judge_health.UNRELIABLE_SHARE: the judge is guessing."""
    return share is not None and share > UNRELIABLE_SHARE


def stage_row(stage: Any, metrics: dict[str, Any], sloppy: dict[int, float]) -> dict[str, Any]:
    """The moved stance of one stage, all topics pooled: start → end, M with CI, η, health.

    judge_*_to: the judge's health at the last checkpoint (shares of its judgments flagged,
    low-confidence, out of domain; None where run_metrics has no judge_health).
    """
    overall = next(d for d in metrics["drift"] if d["topic"] == ALL_TOPICS)
    pooled = [v for v in metrics["values"] if v["topic"] == ALL_TOPICS]
    moved = overall["stances"][stage.moved]
    health = metrics["health"]
    shares = list(sloppy.values())
    judge = end_judge_health(metrics) or {}
    return {
        "run": stage.run_id, "algorithm": stage.algorithm, "note": stage.note,
        "stance": stage.moved, "v_from": pooled[0]["v"][stage.moved],
        "v_to": pooled[-1]["v"][stage.moved], "v_to_ci": pooled[-1]["ci"][stage.moved],
        "M": moved["M"], "M_ci": moved.get("M_ci"), "eta": moved["eta"],
        "dominant": overall["dominant"], "checkpoints": len(pooled),
        "unhealthy_from": health[0]["unhealthy"] if health else None,
        "unhealthy_to": health[-1]["unhealthy"] if health else None,
        "sloppy_from": shares[0] if shares else None, "sloppy_to": shares[-1] if shares else None,
        "judge_flagged_to": judge.get("flagged"), "judge_low_to": judge.get("low_confidence"),
        "judge_ood_to": judge.get("ood"),
    }


def audit_row(name: str, note: str, report: dict[str, Any]) -> dict[str, Any] | None:
    """Stance gap of one audited preference set (all pairs), or None if it was not judged.

    confident_pairs: share of pairs with neither side flagged by judge health; judge_flagged:
    share of the set's judged responses flagged (both None for a report without judge_health).
    """
    gap = (report or {}).get("gap") or {}
    group = (gap.get("groups") or {}).get("all")
    if not group:
        return None
    health = ((gap.get("judge_health") or {}).get("groups") or {}).get("all") or {}
    confident = ((gap.get("confident") or {}).get("groups") or {}).get("all")
    return {
        "dataset": name, "note": note, "n_pairs": group["n_pairs"],
        "mean_abs_margin": group["mean_abs_margin"], "mean_abs_margin_ci": group["ci"]["mean_abs_margin"],
        "flip_rate": group["flip_rate"],
        "support_gap": group["chosen_mean"]["support"] - group["rejected_mean"]["support"],
        "confident_pairs": health.get("confident_pairs"), "judge_flagged": health.get("flagged"),
        "confident_mean_abs_margin": (confident or {}).get("mean_abs_margin"),
    }


def _excludes_zero(ci: list[float] | None) -> bool:
    return ci is not None and (ci[0] > 0 or ci[1] < 0)


def _fmt(row: dict[str, Any]) -> str:
    ci = row.get("M_ci")
    interval = f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else ""
    return f"{row['stance']} M {row['M']:+.2f}{interval}"


def findings(rows: dict[str, dict[str, Any]], audits: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """The paper's qualitative findings, each with what was measured here and a verdict.

    Verdicts: "agrees", "differs", or "not measured" (a stage was not run). Rules:
    SFT sets values early — M's CI excludes 0 and η ≤ 0.5; style-only pairs barely move
    values — every style stage's M CI includes 0 or |M| is under a third of the value-gap
    stage's; value-gap pairs move them — each gap stage's M CI excludes 0 and exceeds the
    style control's M; ordering — "agrees" only when DPO > SimPO > PPO with each neighbouring
    pair's intervals disjoint, "not separable" when any neighbouring intervals overlap. Last, when the judge
    is unreliable (over UNRELIABLE_SHARE of its judgments flagged) at the end of a stage or on
    an audited set, a "judge health" entry names them (verdict "unreliable on …", no paper).
    """
    out: list[dict[str, str]] = []
    sft = [rows[r] for r in ("sft-chat", "sft-instruct") if r in rows]
    if sft:
        ok = all(_excludes_zero(r["M_ci"]) and r["eta"] <= EARLY for r in sft)
        out.append({
            "finding": "SFT sets values, and early",
            "measured": "; ".join(f"{r['run']}: {_fmt(r)}, η {r['eta']:.2f}" for r in sft),
            "paper": PAPER["sft"], "verdict": "agrees" if ok else "differs"})
    else:
        out.append({"finding": "SFT sets values, and early", "measured": "—",
                    "paper": PAPER["sft"], "verdict": "not measured"})

    style = [rows[r] for r in ("dpo-style", "simpo-style") if r in rows]
    gap = [rows[r] for r in ("dpo-gap-support", "simpo-gap-support") if r in rows]
    largest_gap = max((abs(r["M"]) for r in gap), default=None)
    if style:
        ok = all(not _excludes_zero(r["M_ci"]) or
                 (largest_gap is not None and abs(r["M"]) < largest_gap / 3) for r in style)
        sloppy = "; ".join(f"sloppy answers {r['sloppy_from']:.2f}→{r['sloppy_to']:.2f}"
                           for r in style[:1] if r.get("sloppy_from") is not None)
        out.append({
            "finding": "style-only preference data barely moves values",
            "measured": "; ".join(f"{r['run']}: {_fmt(r)}" for r in style) + (f" ({sloppy})" if sloppy else ""),
            "paper": PAPER["standard"], "verdict": "agrees" if ok else "differs"})
    if gap:
        controls = {r["algorithm"]: r for r in style}
        ok = all(_excludes_zero(r["M_ci"]) and
                 (r["algorithm"] not in controls or r["M"] > controls[r["algorithm"]]["M"]) for r in gap)
        audit = ""
        if "micro-gap-support" in audits and "micro-style" in audits:
            g, s = audits["micro-gap-support"], audits["micro-style"]
            audit = (f"; the audit saw it coming: mean |Δ| {g['mean_abs_margin']:.2f} vs "
                     f"{s['mean_abs_margin']:.2f} for style pairs")
        out.append({
            "finding": "value-gap preference data moves values",
            "measured": "; ".join(f"{r['run']}: {_fmt(r)}" for r in gap) + audit,
            "paper": "DPO ≈ 0.46–0.53, SimPO ≈ 0.15 on synthetic value-gap data",
            "verdict": "agrees" if ok else "differs"})

    order = [(name, rows[run]) for name, run in (("DPO", "dpo-gap-support"), ("SimPO", "simpo-gap-support"),
                                                 ("PPO", "ppo-gap-support-kl0.05")) if run in rows]
    if len(order) >= 2:
        ranked = sorted(order, key=lambda item: -item[1]["M"])
        parts = []
        for (a, ra), (b, rb) in zip(ranked, ranked[1:], strict=False):
            apart = ra["M_ci"] and rb["M_ci"] and ra["M_ci"][0] > rb["M_ci"][1]
            parts.append(f"{a} {'>' if apart else '≳'} {b}")
        as_paper = [name for name, _ in ranked] == [name for name, _ in order]
        separable = all("≳" not in p for p in parts)
        paper_rank = {name: i for i, (name, _) in enumerate(order)}
        # A pair the intervals separate in the opposite order to the paper's contradicts it.
        contradicted = any(paper_rank[a] > paper_rank[b] and ra["M_ci"] and rb["M_ci"]
                           and ra["M_ci"][0] > rb["M_ci"][1]
                           for (a, ra), (b, rb) in itertools.combinations(ranked, 2))
        measured = ", ".join(f"{name} {_fmt(r)}" + (f" (KL {r['reference_kl']:.2f} nats)"
                                                     if r.get("reference_kl") is not None else "")
                             for name, r in order)
        order_text = "measured order: " + " ".join(
            [parts[0]] + [p.split(" ", 2)[1] + " " + p.split(" ", 2)[2] for p in parts[1:]])
        out.append({
            "finding": "DPO moves values more than SimPO, and SimPO more than PPO",
            "measured": f"{measured}; {order_text}"
                        + ("" if separable else " (≳: 95% CIs overlap, not separable here)"),
            "paper": PAPER["order"],
            "verdict": order_verdict(as_paper, separable, contradicted)})
    guessing = judge_health_finding(rows, audits)
    if guessing:
        out.append(guessing)
    return out


def order_verdict(as_paper: bool, separable: bool, contradicted: bool = False) -> str:
    """The ordering finding follows the intervals: "differs" when some pair's intervals
    separate it in the opposite order to the paper's; "agrees" only when the measured order
    is the paper's and every neighbouring pair is separable; otherwise "not separable"
    (the CIs are in the measured text) — never "agrees" on point estimates alone."""
    if contradicted:
        return "differs"
    if not separable:
        return "not separable"
    return "agrees" if as_paper else "differs"


def judge_health_finding(rows: dict[str, dict[str, Any]],
                         audits: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The findings entry naming the stages and audited sets the judge is unreliable on."""
    stages = [r for r in rows.values() if unreliable(r.get("judge_flagged_to"))]
    sets = [a for a in audits.values() if unreliable(a.get("judge_flagged"))]
    if not stages and not sets:
        return None
    measured = [f"{r['run']} {r['judge_flagged_to']:.0%} of its end checkpoint's judgments"
                for r in stages]
    measured += [f"audit {a['dataset']} {a['judge_flagged']:.0%} of its responses "
                 f"({a['confident_pairs'] or 0:.0%} of pairs confidently judged)" for a in sets]
    names = [r["run"] for r in stages] + [a["dataset"] for a in sets]
    return {
        "finding": "judge health",
        "measured": f"flagged (confidence below {DEFAULT_MIN_CONFIDENCE:g} or out of domain): "
                    + "; ".join(measured) + "; where the judge guesses, M and the verdicts "
                    "built on it say little",
        "paper": None, "verdict": "unreliable on " + ", ".join(names)}


def build_summary(db: Path, stages: list[Any], audits: list[Any], results: dict[str, Any], *,
                  seed: int) -> dict[str, Any]:
    """Read each stage's metrics from the store and assemble the JSON-ready summary."""
    from vdbench.errors import InputError
    from vdbench.metrics.report import run_metrics
    from vdbench.store import Store

    store = Store(db)
    rows: dict[str, dict[str, Any]] = {}
    for stage in stages:
        try:
            metrics = run_metrics(store, stage.run_id, n_boot=500, seed=seed)
        except InputError:
            continue
        rows[stage.run_id] = stage_row(stage, metrics, sloppy_share(store, stage.run_id))
        rows[stage.run_id].update(training_stats(store, stage.run_id))
        rows[stage.run_id]["capability"] = capability_cells(metrics)
    audit_rows = {a.name: row for a in audits
                  if (row := audit_row(a.name, a.note, results.get(f"audit {a.name}", {})))}
    training = {k: v for k, v in results.items() if not k.startswith("audit ")}
    return {"db": str(db), "stages": list(rows.values()), "audits": list(audit_rows.values()),
            "findings": findings(rows, audit_rows), "training": training}


def capability_cells(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Each measured capability task's headline metric, first → last with Δ's interval."""
    from vdbench.metrics.capability import headline_rows

    block = metrics.get("capability") or {}
    return [{"task": r["task"], "metric": r["metric"], "from": r["from"], "to": r["to"],
             "delta": r.get("delta"), "delta_ci": r.get("delta_ci")}
            for r in (headline_rows(block) if block else [])]


def training_stats(store: Any, run: str) -> dict[str, Any]:
    """What training measured (run_results): PPO's reward first → last and KL to the
    reference after training, so "PPO barely moved values" can be told from "PPO never
    left its start"."""
    import json

    with store.read() as con:
        row = con.execute("SELECT stats FROM run_results WHERE run_id = ?", [run]).fetchone()
    stats = json.loads(row[0]) if row else {}
    return {k: stats.get(k) for k in ("first_reward", "last_reward", "reference_kl")}


def sloppy_share(store: Any, run: str) -> dict[int, float]:
    """Per checkpoint: share of samples in the micro world's terse/sloppy style (a style signal)."""
    from vdbench.micro.corpus import answer_quality

    with store.read() as con:
        rows = con.execute("SELECT step, text FROM samples WHERE run_id = ?", [run]).fetchall()
    per: dict[int, list[int]] = {}
    for step, text in rows:
        per.setdefault(step, []).append(answer_quality(text) == "sloppy")
    return {step: sum(v) / len(v) for step, v in sorted(per.items())}


def _num(x: float | None, sign: str = "") -> str:
    """A probability-scale number in 3 or 4 characters: .45, +.45, -.07, 1.0."""
    if x is None:
        return "—"
    text = f"{x:{sign}.2f}"
    return text.replace("0.", ".", 1) if abs(x) < 1 else f"{x:{sign}.1f}"


DRIFT_COLUMNS = ("run", "stance", "v", "M [95% CI]", "η", "bad", "judge", "sloppy")
_TWO_SPACES_BEFORE = {"v", "M [95% CI]", "η"}


def _spaced(column: str, text: str) -> str:
    return (" " + text) if column in _TWO_SPACES_BEFORE else text


def judge_cell(flagged: float | None) -> str:
    """The judge column: flagged share at the end, '!' when the judge is unreliable there."""
    return _num(flagged) + ("!" if unreliable(flagged) else "")


def confident_cell(row: dict[str, Any]) -> str:
    """The audit's confident column: share of pairs confidently judged, '!' if unreliable."""
    share = row.get("confident_pairs")
    if share is None:
        return "—"
    return f"{share:.0%}" + ("!" if unreliable(row.get("judge_flagged")) else "")


def print_summary(out: Any, summary: dict[str, Any], *, tui_next: bool = False) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title="value drift on the micro world, all topics pooled",
                  caption="v: start→end of the moved stance; M [95% CI]: paired bootstrap; η: drift "
                  "time; bad: unhealthy share at the end; judge: share of its judgments flagged "
                  "at the end (!: unreliable); sloppy: style signal, start→end",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=0, show_edge=False)
    # One space between columns, two before v, M and η: the widest row is 80 columns.
    for col in DRIFT_COLUMNS:
        table.add_column(_spaced(col, col), no_wrap=True)
    for r in summary["stages"]:
        ci = r.get("M_ci")
        m = f"{_num(r['M'], '+')} [{_num(ci[0], '+')},{_num(ci[1], '+')}]" if ci else _num(r["M"], "+")
        cells = (r["run"], r["stance"], f"{_num(r['v_from'])}→{_num(r['v_to'])}", m,
                 _num(r["eta"]), _num(r["unhealthy_to"]), judge_cell(r.get("judge_flagged_to")),
                 f"{_num(r['sloppy_from'])}→{_num(r['sloppy_to'])}")
        table.add_row(*(_spaced(col, c) for col, c in zip(DRIFT_COLUMNS, cells, strict=True)))
    out.print(table)
    if summary["audits"]:
        audit = Table(title="preference-set audit (probe judge), before any training",
                      box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for col in ("dataset", "pairs", "mean |Δ| [95% CI]", "flips", "support gap", "confident"):
            audit.add_column(col, no_wrap=True)
        for a in summary["audits"]:
            lo, hi = a["mean_abs_margin_ci"]
            audit.add_row(a["dataset"], str(a["n_pairs"]), f"{a['mean_abs_margin']:.2f} [{lo:.2f},{hi:.2f}]",
                          f"{a['flip_rate']:.0%}", f"{a['support_gap']:+.2f}", confident_cell(a))
        out.print(audit)
    out.print("[bold]findings: the paper beside this run[/bold]")
    for f in summary["findings"]:
        for text, indent in ((f"• {f['finding']} — {f['verdict']}", ""), (f"here:  {f['measured']}", "    "),
                             (f"paper: {f['paper']}" if f.get("paper") else "", "    ")):
            if not text:
                continue
            lines = textwrap.wrap(text, width=max(40, out.width), initial_indent=indent,
                                  subsequent_indent=indent + "  ", break_on_hyphens=False)
            out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    for r in summary["stages"]:
        for c in r.get("capability") or []:
            ci = c.get("delta_ci")
            delta = (f", Δ {c['delta']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]"
                     if c.get("delta") is not None and ci else "")
            out.print(f"{r['run']}: capability ({c['task']} {c['metric']}) {c['from']:.3f} → "
                      f"{c['to']:.3f}{delta}", markup=False)
        if r.get("reference_kl") is not None:
            out.print(f"{r['run']}: reward {r['first_reward']:+.2f} → {r['last_reward']:+.2f}, "
                      f"KL to the SFT policy {r['reference_kl']:.2f} nats after training",
                      markup=False)
    unhealthy = [r["run"] for r in summary["stages"] if (r["unhealthy_to"] or 0) > 0.1]
    out.print("output health: " + (f"over 10% unhealthy samples at the end of {', '.join(unhealthy)}"
                                   if unhealthy else "no stage ends with over 10% unhealthy samples"),
              markup=False)
    guessing = [r["run"] for r in summary["stages"] if unreliable(r.get("judge_flagged_to"))]
    out.print("judge health: " + (f"over {UNRELIABLE_SHARE:.0%} flagged judgments at the end of "
                                  f"{', '.join(guessing)}" if guessing else
                                  f"no stage ends with over {UNRELIABLE_SHARE:.0%} flagged judgments"),
              markup=False)
    db = summary["db"]
    out.print(f"store: {db}  ({summary['seconds'] / 60:.1f} min)", markup=False)
    if not tui_next:
        out.print(f"explore: vdbench tui --db {db}    vdbench metrics --db {db} --run sft-chat",
                  markup=False)
