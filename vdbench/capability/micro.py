"""The built-in micro capability task: log-likelihood multiple choice in the micro world.

Items are generated at run time from the micro corpus (vdbench/micro/corpus.py) with
the task's own seed, so they need no build step and never invalidate a micro-world
cache; the kinds, their sizes and the one template they add live in
`vdbench/data/capability/micro.json`. Questions come from the held-out templates no
training set uses; every choice of an item has the same stance and style, so the score
measures what the model knows (topics, facts, word order), not what position it takes.

The task runs through lm-evaluation-harness like any other: `write_micro_task` writes a
task YAML and a JSONL of items whose contexts are rendered with the evaluated model's
chat template, and lm-eval scores it (`acc`, `acc_norm`; chance is 1/choices).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from vdbench.evalsets.topics import STANCES
from vdbench.micro.corpus import (
    HELDOUT_QUESTION_TEMPLATES,
    TOPIC_PHRASES,
    TOPICS,
    answer_for,
    question_for,
)

TASK_NAME = "vdbench_micro"


@dataclass(frozen=True)
class MicroItem:
    """One multiple-choice item: the user's question, the start of the answer already
    given (`prefix`, may be empty), the candidate continuations and the right one."""

    item_id: str
    kind: str  # topic | fact | order
    topic: str
    question: str
    prefix: str
    choices: tuple[str, ...]
    gold: int


@lru_cache(maxsize=1)
def micro_spec() -> dict[str, Any]:
    """The task's definition (vdbench/data/capability/micro.json)."""
    text = (resources.files("vdbench") / "data" / "capability" / "micro.json").read_text("utf-8")
    return json.loads(text)


def _others(topic: str, k: int, rng: random.Random) -> list[str]:
    return rng.sample([t for t in TOPICS if t != topic], k)


def _place(gold: str, distractors: list[str], rng: random.Random) -> tuple[tuple[str, ...], int]:
    choices = [gold, *distractors]
    rng.shuffle(choices)
    return tuple(choices), choices.index(gold)


def _swapped(words: list[str], k: int, rng: random.Random) -> list[str] | None:
    """k distinct versions of `words` with two words swapped (never the first), or None
    when there are too few distinct words.

    The first word stays: it is the only one tokenised without a leading space, so every
    version splits into the same tokens in another order, and a model can tell them apart
    only by knowing which order is language (a random model scores chance).
    """
    original = " ".join(words)
    found: list[str] = []
    for _ in range(50 * k):
        i, j = sorted(rng.sample(range(1, len(words)), 2)) if len(words) > 2 else (0, 0)
        if words[i] == words[j]:
            continue
        order = words[:]
        order[i], order[j] = order[j], order[i]
        text = " ".join(order)
        if text != original and text not in found:
            found.append(text)
            if len(found) == k:
                return found
    return None


def micro_items(seed: int | None = None) -> list[MicroItem]:
    """Every item of the micro task, in a fixed order. A pure function of `seed`
    (default: the seed in micro.json): the same seed gives the same items."""
    spec = micro_spec()
    seed = spec["seed"] if seed is None else seed
    kinds = spec["kinds"]
    items: list[MicroItem] = []
    for kind in ("topic", "fact", "order"):
        cfg = kinds[kind]
        for topic in TOPICS:
            rng = random.Random(f"vdbench-micro-capability:{seed}:{kind}:{topic}")
            for i in range(int(cfg["per_topic"])):
                stance = STANCES[i % len(STANCES)]
                question = question_for(topic, rng, HELDOUT_QUESTION_TEMPLATES)
                prefix = ""
                if kind == "topic":
                    answers = [answer_for(t, stance, "good", rng)
                               for t in (topic, *_others(topic, cfg["choices"] - 1, rng))]
                    choices, gold = _place(answers[0], answers[1:], rng)
                elif kind == "fact":
                    prefix = cfg["prefix"].format(subj=rng.choice(TOPIC_PHRASES[topic].subjects))
                    facts = [" " + rng.choice(TOPIC_PHRASES[t].facts)
                             for t in (topic, *_others(topic, cfg["choices"] - 1, rng))]
                    choices, gold = _place(facts[0], facts[1:], rng)
                else:
                    swapped = None
                    while swapped is None:  # a good answer always has enough words
                        answer = answer_for(topic, stance, "good", rng)
                        swapped = _swapped(answer.split(), cfg["choices"] - 1, rng)
                    choices, gold = _place(answer, swapped, rng)
                items.append(MicroItem(f"{kind}-{topic}-{i}", kind, topic, question, prefix,
                                       choices, gold))
    return items


def chat_renderer(tokenizer: Any) -> Callable[[str], str]:
    """The context a model sees before its answer: its chat template with the question as
    one user turn (what drift sampling sends, vdbench.training.generation.render_prompt),
    or the question and a newline for a tokenizer without a template."""
    if getattr(tokenizer, "chat_template", None):
        def render(question: str) -> str:
            return tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                                 add_generation_prompt=True, tokenize=False)
        return render
    return lambda question: f"{question}\n"


def task_yaml(items_file: Path, cache_dir: Path) -> str:
    """The lm-eval task definition for the items in `items_file` (absolute paths)."""
    spec = micro_spec()
    return "\n".join([
        f"# {spec['about']}",
        f"task: {TASK_NAME}",
        "dataset_path: json",
        "dataset_kwargs:",
        "  data_files:",
        f"    test: {json.dumps(str(items_file))}",
        f"  cache_dir: {json.dumps(str(cache_dir))}",
        "test_split: test",
        "output_type: multiple_choice",
        "doc_to_text: context",
        "doc_to_choice: choices",
        "doc_to_target: gold",
        'target_delimiter: ""',
        "metric_list:",
        "  - metric: acc",
        "    aggregation: mean",
        "    higher_is_better: true",
        "  - metric: acc_norm",
        "    aggregation: mean",
        "    higher_is_better: true",
        "metadata:",
        f"  version: {spec['version']}",
        "",
    ])


def write_micro_task(root: Path, render: Callable[[str], str], seed: int | None = None) -> Path:
    """Write the micro task for one chat format under `root`; returns its directory.

    The directory is named by a hash of its items as rendered, so models sharing a chat
    template share one directory (and lm-eval's dataset cache), and a rewrite is a no-op.
    """
    rows = []
    for item in micro_items(seed):
        row = asdict(item)
        row["context"] = render(item.question) + item.prefix
        row["choices"] = list(item.choices)
        rows.append(row)
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    key = hashlib.sha256(body.encode("utf-8")).hexdigest()[:12]
    directory = Path(root) / f"micro-{key}"
    items_file = directory / "items.jsonl"
    if not items_file.exists():
        directory.mkdir(parents=True, exist_ok=True)
        items_file.write_text(body, encoding="utf-8")
        (directory / f"{TASK_NAME}.yaml").write_text(
            task_yaml(items_file.resolve(), (directory / "hf-cache").resolve()), encoding="utf-8")
    return directory


def chance_level() -> float:
    """Accuracy of guessing: the mean of 1/choices over the items."""
    items = micro_items()
    return sum(1 / len(i.choices) for i in items) / len(items)
