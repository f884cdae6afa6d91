"""Judging inline: score a run's unjudged samples right after they are stored (rank 0).

Optional: without a judge, samples wait for `vdbench judge run`, which finds them the
same way (samples without a judgment by that judge), so the two never duplicate work.
"""

from __future__ import annotations

from typing import Any

from vdbench.store import Store


class InlineJudge:
    """A judge loaded on first use from a name/manifest path, or an already built judge."""

    def __init__(self, judge: Any):
        self._spec = judge
        self._judge = None if isinstance(judge, str) else judge

    def load(self):
        """The judge, built now if needed (so a judge that cannot work fails early)."""
        return self.judge

    @property
    def judge(self):
        if self._judge is None:
            from vdbench.judges.registry import load_judge

            self._judge = load_judge(self._spec)
        return self._judge

    def judge_pending(self, store: Store, run_id: str, batch: int = 256) -> int:
        """Score every sample of the run this judge has not scored; returns rows added."""
        from vdbench.judges.base import JudgeItem
        from vdbench.judgments import unjudged_samples, write_judgments

        judge = self.judge
        added = 0
        while True:
            pending = unjudged_samples(store, run_id, judge.identity.judge_id, limit=batch)
            if pending.empty:
                return added
            items = [JudgeItem(topic=r.topic, proposition=r.proposition, prompt=r.prompt,
                               response=r.response) for r in pending.itertuples()]
            new = write_judgments(store, judge.identity, pending, judge.score(items))
            if new == 0:  # nothing could be added: stop rather than loop on the same rows
                return added
            added += new
