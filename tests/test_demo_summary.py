"""The demo's findings beside the paper: verdict rules on hand-made rows, the judge-health
column and finding on hand-made rows, and the progress board's plain-line output when
stderr is not a terminal."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from vdbench.demo import plan
from vdbench.demo_summary import (
    _num,
    audit_row,
    findings,
    judge_cell,
    print_summary,
    stage_row,
)
from vdbench.progress import Board


def row(run: str, algorithm: str, stance: str, m: float, ci: tuple[float, float], eta: float = 0.3,
        **extra: float) -> dict:
    return {"run": run, "algorithm": algorithm, "stance": stance, "M": m, "M_ci": list(ci),
            "eta": eta, "sloppy_from": 0.25, "sloppy_to": 0.10, **extra}


PAPER_LIKE = {
    "sft-chat": row("sft-chat", "sft", "neutral", 0.40, (0.30, 0.50), eta=0.16),
    "sft-instruct": row("sft-instruct", "sft", "support", 0.30, (0.20, 0.40), eta=0.20),
    "dpo-gap-support": row("dpo-gap-support", "dpo", "support", 0.45, (0.38, 0.52)),
    "simpo-gap-support": row("simpo-gap-support", "simpo", "support", 0.20, (0.12, 0.28)),
    "ppo-gap-support-kl0.05": row("ppo-gap-support-kl0.05", "ppo", "support", 0.01, (-0.04, 0.06)),
    "dpo-style": row("dpo-style", "dpo", "support", 0.02, (-0.05, 0.09)),
    "simpo-style": row("simpo-style", "simpo", "support", -0.01, (-0.07, 0.05)),
}


def verdicts(rows: dict) -> dict[str, str]:
    return {f["finding"]: f["verdict"] for f in findings(rows, {})}


def test_paper_like_results_agree_on_every_finding() -> None:
    got = verdicts(PAPER_LIKE)
    assert set(got.values()) == {"agrees"}, got
    order = next(f for f in findings(PAPER_LIKE, {}) if f["finding"].startswith("DPO"))
    assert "measured order: DPO > SimPO > PPO" in order["measured"]


def test_late_sft_drift_and_moving_style_data_are_reported_as_differing() -> None:
    rows = dict(PAPER_LIKE)
    rows["sft-chat"] = row("sft-chat", "sft", "neutral", 0.40, (0.30, 0.50), eta=0.9)
    rows["dpo-style"] = row("dpo-style", "dpo", "support", 0.50, (0.40, 0.60))
    got = verdicts(rows)
    assert got["SFT sets values, and early"] == "differs"
    assert got["style-only preference data barely moves values"] == "differs"
    # the gap stage no longer beats its style control
    assert got["value-gap preference data moves values"] == "differs"


def test_overlapping_intervals_agree_only_in_point_estimates() -> None:
    rows = dict(PAPER_LIKE)
    rows["simpo-gap-support"] = row("simpo-gap-support", "simpo", "support", 0.40, (0.33, 0.47))
    order = next(f for f in findings(rows, {}) if f["finding"].startswith("DPO"))
    assert order["verdict"] == "not separable"  # never "agrees" when the CIs overlap
    assert "DPO ≳ SimPO > PPO" in order["measured"] and "not separable" in order["measured"]


def test_reversed_order_differs_and_missing_stages_are_not_measured() -> None:
    rows = dict(PAPER_LIKE)
    rows["ppo-gap-support-kl0.05"] = row("ppo-gap-support-kl0.05", "ppo", "support", 0.9, (0.8, 1.0))
    order = next(f for f in findings(rows, {}) if f["finding"].startswith("DPO"))
    assert order["verdict"] == "differs" and order["measured"].endswith("PPO > DPO > SimPO")
    assert verdicts({})["SFT sets values, and early"] == "not measured"


def test_numbers_fit_narrow_columns() -> None:
    assert [_num(0.45), _num(0.45, "+"), _num(-0.07, "+"), _num(1.0), _num(None)] == \
        [".45", "+.45", "-.07", "1.0", "—"]


def test_plain_progress_prints_one_line_per_phase() -> None:
    stream = io.StringIO()
    with Board(Console(file=io.StringIO(), force_terminal=False), stream=stream) as board:
        for step in range(5):
            board.update("sft-chat", "train", step, 5)
        board.update("sft-chat", "sample step 5", 5, 5)
        board.finish("sft-chat", "done in 3 s")
    assert stream.getvalue().splitlines() == [
        "sft-chat: train (0/5)", "sft-chat: sample step 5 (5/5)", "sft-chat: done in 3 s"]


def test_quick_plan_is_every_stage_with_less_work() -> None:
    full, quick = plan(False), plan(True)
    assert [r.run_id for r in quick.runs] == [r.run_id for r in full.runs]
    assert [a.name for a in quick.audits] == [a.name for a in full.audits]
    steps = {r.run_id: r.options["max_steps"] for r in full.runs}
    assert all(r.options["max_steps"] < steps[r.run_id] for r in quick.runs)
    for r in (*full.runs, *quick.runs):  # every eval step lies inside the run
        assert max(r.options["eval_steps"]) <= r.options["max_steps"]
    assert [r.run_id for r in full.runs] == [  # the names users (and docs) know
        "sft-chat", "sft-instruct", "dpo-gap-support", "simpo-gap-support",
        "ppo-gap-support-kl0.05", "ppo-gap-support-kl1.0", "dpo-style", "simpo-style"]


# --- judge health --------------------------------------------------------------------------


def test_judge_cell_marks_an_unreliable_judge() -> None:
    # UNRELIABLE_SHARE is 0.5: exactly half flagged is still "weak", not unreliable
    assert [judge_cell(0.08), judge_cell(0.5), judge_cell(0.71), judge_cell(None)] == \
        [".08", ".50", ".71!", "—"]


def test_judge_health_finding_names_only_the_unreliable_stages_and_sets() -> None:
    rows = {k: dict(v, judge_flagged_to=0.1) for k, v in PAPER_LIKE.items()}
    assert all(f["finding"] != "judge health" for f in findings(rows, {}))
    rows["dpo-style"]["judge_flagged_to"] = 0.71
    rows["sft-chat"]["judge_flagged_to"] = 0.5  # at the line: not named
    audits = {"micro-style": {"dataset": "micro-style", "mean_abs_margin": 0.4,
                              "judge_flagged": 0.6, "confident_pairs": 0.35},
              "micro-gap-support": {"dataset": "micro-gap-support", "mean_abs_margin": 1.1,
                                    "judge_flagged": 0.05, "confident_pairs": 0.9}}
    got = findings(rows, audits)
    entry = got[-1]
    assert entry["finding"] == "judge health" and entry["paper"] is None
    assert entry["verdict"] == "unreliable on dpo-style, micro-style"
    assert "dpo-style 71% of its end checkpoint's judgments" in entry["measured"]
    assert "micro-style 60% of its responses (35% of pairs confidently judged)" in entry["measured"]
    # the paper's four findings keep their verdicts
    assert {f["finding"]: f["verdict"] for f in got[:-1]} == verdicts(PAPER_LIKE)


def test_stage_row_reads_the_end_checkpoints_pooled_judge_health() -> None:
    def health(step: int, topic: str, flagged: float) -> dict:
        return {"step": step, "topic": topic, "n": 20, "flagged": flagged,
                "low_confidence": flagged / 2, "ood": None, "reliable": flagged <= 0.5}

    metrics = {
        "drift": [{"topic": "(all topics)", "dominant": "support",
                   "stances": {"support": {"M": 0.3, "M_ci": [0.1, 0.5], "eta": 0.2}}}],
        "values": [{"topic": "(all topics)", "v": {"support": v}, "ci": {"support": [0, 1]}}
                   for v in (0.2, 0.5)],
        "health": [],
        "judge_health": {"by_checkpoint": [
            health(0, "(all topics)", 0.1), health(8, "(all topics)", 0.7),
            health(8, "abortion", 0.2), health(4, "(all topics)", 0.3)]},
    }
    stage = SimpleNamespace(run_id="dpo-x", algorithm="dpo", note="", moved="support")
    row = stage_row(stage, metrics, {})
    assert row["judge_flagged_to"] == 0.7 and row["judge_low_to"] == 0.35
    assert row["judge_ood_to"] is None
    del metrics["judge_health"]  # metrics without judge health: nothing is made up
    assert stage_row(stage, metrics, {})["judge_flagged_to"] is None


def test_audit_row_reads_the_confident_share() -> None:
    group = {"n_pairs": 10, "mean_abs_margin": 1.0, "ci": {"mean_abs_margin": [0.9, 1.1]},
             "flip_rate": 0.8, "chosen_mean": {"support": 0.7}, "rejected_mean": {"support": 0.2}}
    report = {"gap": {"groups": {"all": group},
                      "judge_health": {"groups": {"all": {"flagged": 0.3, "confident_pairs": 0.6}}},
                      "confident": {"groups": {"all": dict(group, mean_abs_margin=1.4)}}}}
    row = audit_row("set", "", report)
    assert row["confident_pairs"] == 0.6 and row["judge_flagged"] == 0.3
    assert row["confident_mean_abs_margin"] == 1.4
    assert row["support_gap"] == pytest.approx(0.5)
    old = audit_row("set", "", {"gap": {"groups": {"all": group}}})  # a report from before
    assert old["confident_pairs"] is None and old["judge_flagged"] is None


def _summary(judge_flagged: dict[str, float | None], style_set_flagged: float = 0.6) -> dict:
    stages = [dict(r, stance=r["stance"], v_from=0.15, v_to=0.25, unhealthy_to=0.0,
                   judge_flagged_to=judge_flagged.get(r["run"])) for r in PAPER_LIKE.values()]
    audits = [{"dataset": "micro-gap-support", "n_pairs": 500, "mean_abs_margin": 1.14,
               "mean_abs_margin_ci": [1.08, 1.19], "flip_rate": 0.84, "support_gap": 0.74,
               "confident_pairs": 0.92, "judge_flagged": 0.05},
              {"dataset": "micro-style", "n_pairs": 500, "mean_abs_margin": 0.40,
               "mean_abs_margin_ci": [0.35, 0.45], "flip_rate": 0.21, "support_gap": -0.02,
               "confident_pairs": 0.41, "judge_flagged": style_set_flagged}]
    rows = {r["run"]: r for r in stages}
    return {"db": "vdbench-demo.duckdb", "stages": stages, "audits": audits, "seconds": 190,
            "findings": findings(rows, {a["dataset"]: a for a in audits})}


def _printed(summary: dict) -> str:
    stream = io.StringIO()
    print_summary(Console(file=stream, width=80, force_terminal=False), summary)
    return stream.getvalue()


def test_summary_prints_a_judge_column_and_fits_80_columns() -> None:
    text = _printed(_summary({"ppo-gap-support-kl0.05": 1.0, "dpo-style": 0.71,
                              "sft-chat": 0.08}))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("run "))
    assert header.split() == ["run", "stance", "v", "M", "[95%", "CI]", "η", "bad", "judge",
                              "sloppy"]
    col, start = header.index("judge"), lines.index(header) + 2  # below the rule
    cells = {line.split()[0]: line[col:col + 5].strip() for line in lines[start:start + 7]}
    assert cells["sft-chat"] == ".08" and cells["dpo-style"] == ".71!"
    assert cells["ppo-gap-support-kl0.05"] == "1.0!" and cells["simpo-style"] == "—"
    audit_header = next(line for line in lines if line.startswith("dataset "))
    assert audit_header.split()[-1] == "confident"
    assert any(line.startswith("micro-style ") and line.rstrip().endswith("41%!") for line in lines)
    assert any(line.startswith("micro-gap-support ") and line.rstrip().endswith("92%")
               for line in lines)
    assert "• judge health — unreliable on ppo-gap-support-kl0.05, dpo-style, micro-style" in text
    assert text.count("paper:") == 4  # the judge-health entry has no paper line
    assert ("judge health: over 50% flagged judgments at the end of ppo-gap-support-kl0.05, "
            "dpo-style") in " ".join(text.split())


def test_summary_with_a_reliable_judge_has_no_judge_finding() -> None:
    text = _printed(_summary({run: 0.1 for run in PAPER_LIKE}, style_set_flagged=0.3))
    assert "• judge health" not in text and "!" not in text.replace("!:", "")
    assert "judge health: no stage ends with over 50% flagged judgments" in text


def test_an_order_the_intervals_reverse_is_differs_not_not_separable() -> None:
    rows = {"dpo-gap-support": row("dpo-gap-support", "dpo", "support", 0.11, (0.03, 0.18)),
            "simpo-gap-support": row("simpo-gap-support", "simpo", "support", 0.11, (0.05, 0.17)),
            "ppo-gap-support-kl0.05": row("ppo-gap-support-kl0.05", "ppo", "support", 0.64,
                                          (0.57, 0.70), reference_kl=6.4)}
    order = next(f for f in findings(rows, {}) if f["finding"].startswith("DPO moves"))
    assert order["verdict"] == "differs"  # PPO > DPO with disjoint CIs: against the paper
    assert "PPO > DPO ≳ SimPO" in order["measured"] and "KL 6.40 nats" in order["measured"]
