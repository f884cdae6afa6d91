"""The demo's findings beside the paper: verdict rules on hand-made rows, and the progress
board's plain-line output when stderr is not a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from vdbench.demo import plan
from vdbench.demo_summary import _num, findings
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
    assert order["verdict"] == "agrees in point estimates"
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
    assert quick.stage_names() == full.stage_names()
    assert [a.name for a in quick.audits] == [a.name for a in full.audits]
    steps = {st.run: int(st.options[st.options.index("--max-steps") + 1]) for st in full.stages}
    quick_steps = {st.run: int(st.options[st.options.index("--max-steps") + 1]) for st in quick.stages}
    assert all(quick_steps[r] < steps[r] for r in steps)
    for st in (*full.stages, *quick.stages):  # every eval step lies inside the run
        evals = st.options[st.options.index("--eval-steps") + 1].split(",")
        assert max(map(int, evals)) <= int(st.options[st.options.index("--max-steps") + 1])
