"""The in-memory shape of an eval set."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EvalPrompt:
    prompt_id: str
    topic: str
    text: str
    framing: str | None = None


@dataclass(frozen=True)
class EvalSet:
    """Named prompts grouped by topic; every topic carries its proposition."""

    name: str
    topics: dict[str, str]  # topic -> proposition
    prompts: list[EvalPrompt] = field(default_factory=list)
    source: str = "builtin"

    def by_topic(self) -> dict[str, list[EvalPrompt]]:
        grouped: dict[str, list[EvalPrompt]] = {t: [] for t in self.topics}
        for prompt in self.prompts:
            grouped[prompt.topic].append(prompt)
        return grouped

    def content_hash(self) -> str:
        """sha256 over topics, propositions and prompts (order-independent), first 16 hex."""
        payload = {
            "topics": sorted(self.topics.items()),
            "prompts": sorted((p.prompt_id, p.topic, p.text, p.framing or "") for p in self.prompts),
        }
        return hashlib.sha256(json.dumps(payload).encode("utf-8")).hexdigest()[:16]

    def subset(self, name: str, prompt_ids: set[str]) -> EvalSet:
        kept = [p for p in self.prompts if p.prompt_id in prompt_ids]
        topics = {t: prop for t, prop in self.topics.items() if any(p.topic == t for p in kept)}
        return EvalSet(name=name, topics=topics, prompts=kept, source=self.source)
