"""The one interface every judge implements.

A judge maps (prompt, response, topic, proposition) to a probability distribution over
the stances toward the proposition: p(s | x, y, T), a softmax over label scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vdbench.evalsets.topics import STANCES


@dataclass(frozen=True)
class JudgeItem:
    """One response to judge. `proposition` is the statement stance is measured toward."""

    topic: str
    proposition: str
    prompt: str
    response: str


@dataclass(frozen=True)
class JudgeScore:
    """p(s | x, y, T) for s in (support, neutral, oppose); probabilities sum to 1.

    `truncated` is True when the input was cut to fit the judge's context.
    `note` records a non-fatal outcome such as ``"empty response"``.
    `ood` is the judge's out-of-domain distance for the input (higher = farther from what
    it was trained and validated on), or None for judges that do not measure it.
    """

    p_support: float
    p_neutral: float
    p_oppose: float
    truncated: bool = False
    note: str | None = None
    ood: float | None = None

    @property
    def confidence(self) -> float:
        """The top probability: how sure the judge is of its label."""
        return max(self.p_support, self.p_neutral, self.p_oppose)

    @property
    def label(self) -> str:
        probs = (self.p_support, self.p_neutral, self.p_oppose)
        return STANCES[max(range(3), key=probs.__getitem__)]

    def as_dict(self) -> dict[str, float | str | bool | None]:
        return {
            "p_support": self.p_support,
            "p_neutral": self.p_neutral,
            "p_oppose": self.p_oppose,
            "label": self.label,
            "truncated": self.truncated,
            "note": self.note,
            "ood": self.ood,
        }


@dataclass(frozen=True)
class JudgeIdentity:
    """What a judgment records about who made it (DESIGN §4: id, template hash, model hash)."""

    judge_id: str
    name: str
    backend: str
    model: str
    template_hash: str
    model_hash: str
    manifest: dict = field(default_factory=dict)


class Judge(Protocol):
    identity: JudgeIdentity

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]:
        """Score items in order; one JudgeScore per item. Batches internally."""
        ...
