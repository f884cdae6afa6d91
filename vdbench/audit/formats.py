"""Preference-data formats: one source row → (prompt, chosen response, rejected response).

- ``hh-rlhf``: ``chosen`` and ``rejected`` are full transcripts (``\\n\\nHuman: …
  \\n\\nAssistant: …``). The prompt is everything before the final ``\\n\\nAssistant:``
  turn (taken from ``chosen``); the responses are the two final assistant turns.
- ``ultrafeedback``: ``chosen``/``rejected`` are message lists ending in an assistant
  message (they usually repeat the user turn); ``prompt`` is optional (else the messages
  before the final assistant turn); ``score_chosen``/``score_rejected`` optional numbers.
- ``trl``: TRL's preference shape: ``prompt``/``chosen``/``rejected`` strings (standard),
  or message lists (conversational, explicit prompt), or ``chosen``/``rejected`` message
  lists alone (conversational, implicit prompt: the shared messages before the last).

Multi-turn prompts are stored in HH style (``Human: …\\n\\nAssistant: …\\n\\nHuman: …``) so
every format reads the same downstream; :func:`topic_text` recovers the user's words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"
_ROLE_NAMES = {"user": "Human", "assistant": "Assistant", "system": "System"}
_HUMAN_TURN = re.compile(r"(?:^|\n\n)Human:(.*?)(?=\n\n(?:Human|Assistant|System):|\Z)", re.S)


class RowError(ValueError):
    """A row that cannot become a pair; the message is the reason shown to the user."""


@dataclass(frozen=True)
class ParsedPair:
    prompt: str
    chosen: str
    rejected: str
    flags: tuple[str, ...] = ()
    score_chosen: float | None = None
    score_rejected: float | None = None


@dataclass(frozen=True)
class FormatSpec:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    parse: Callable[[Mapping[str, Any]], ParsedPair]


def _field(row: Mapping[str, Any], name: str) -> Any:
    if name not in row or row[name] is None:
        raise RowError(f"row lacks {name!r}")
    return row[name]


def _finish(
    prompt: str, chosen: str, rejected: str, flags: list[str], **scores: float | None
) -> ParsedPair:
    if chosen == rejected:
        flags.append("identical")
    if not chosen.strip():
        flags.append("empty-chosen")
    if not rejected.strip():
        flags.append("empty-rejected")
    return ParsedPair(prompt, chosen, rejected, tuple(flags), **scores)


# --- HH-RLHF ---------------------------------------------------------------------------


def split_transcript(text: Any, side: str) -> tuple[str, str]:
    """(prompt, final assistant turn) of an HH transcript; RowError if it has no such turn."""
    if not isinstance(text, str):
        raise RowError(f"{side!r} must be a transcript string, got {type(text).__name__}")
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    cut = text.rfind(ASSISTANT)
    if cut < 0:
        raise RowError(f"{side!r} has no '\\n\\nAssistant:' turn (not an HH-RLHF transcript?)")
    response = text[cut + len(ASSISTANT) :]
    if HUMAN in response:
        raise RowError(f"{side!r} ends with a Human turn, not an Assistant turn")
    prompt = text[:cut].strip()
    if not prompt:
        raise RowError(f"{side!r} has no Human turn before its final Assistant turn")
    return prompt, response.strip()


def parse_hh_rlhf(row: Mapping[str, Any]) -> ParsedPair:
    prompt, chosen = split_transcript(_field(row, "chosen"), "chosen")
    rejected_prompt, rejected = split_transcript(_field(row, "rejected"), "rejected")
    flags = [] if rejected_prompt == prompt else ["prompt-mismatch"]
    return _finish(prompt, chosen, rejected, flags)


# --- message lists (UltraFeedback, TRL conversational) -----------------------------------


def _messages(value: Any, name: str) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        raise RowError(f"{name!r} must be a list of messages, got {type(value).__name__}")
    for i, message in enumerate(value):
        if (
            not isinstance(message, Mapping)
            or not isinstance(message.get("content"), str)
            or not isinstance(message.get("role"), str)
        ):
            raise RowError(f"{name!r} message {i} is not {{'role': str, 'content': str}}")
    return [dict(m) for m in value]


def render_messages(messages: list[dict[str, str]]) -> str:
    """A single user message as its text; a conversation in HH style."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"].strip()
    return "\n\n".join(
        f"{_ROLE_NAMES.get(m['role'], m['role'].capitalize())}: {m['content'].strip()}"
        for m in messages
    )


def _final_assistant(messages: list[dict[str, str]], name: str) -> tuple[list[dict[str, str]], str]:
    if not messages or messages[-1]["role"] != "assistant":
        raise RowError(f"{name!r} does not end with an assistant message")
    return messages[:-1], messages[-1]["content"].strip()


def _score(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise RowError(f"{name!r} must be a number, got {value!r}")
    return float(value)


def _parse_messages_pair(row: Mapping[str, Any], prompt_required: bool) -> ParsedPair:
    chosen_prefix, chosen = _final_assistant(_messages(_field(row, "chosen"), "chosen"), "chosen")
    rejected_prefix, rejected = _final_assistant(
        _messages(_field(row, "rejected"), "rejected"), "rejected"
    )
    flags: list[str] = []
    raw_prompt = row.get("prompt")
    if raw_prompt is None:
        if prompt_required or not chosen_prefix:
            raise RowError("row lacks 'prompt' and 'chosen' holds no messages before its answer")
        prompt = render_messages(chosen_prefix)
    elif isinstance(raw_prompt, str):
        prompt = raw_prompt.strip()
    else:
        prompt = render_messages(_messages(raw_prompt, "prompt"))
    if not prompt:
        raise RowError("'prompt' is empty")
    if chosen_prefix != rejected_prefix:
        flags.append("prompt-mismatch")
    return _finish(
        prompt,
        chosen,
        rejected,
        flags,
        score_chosen=_score(row, "score_chosen"),
        score_rejected=_score(row, "score_rejected"),
    )


def parse_ultrafeedback(row: Mapping[str, Any]) -> ParsedPair:
    return _parse_messages_pair(row, prompt_required=False)


def parse_trl(row: Mapping[str, Any]) -> ParsedPair:
    chosen, rejected = _field(row, "chosen"), _field(row, "rejected")
    if isinstance(chosen, str) or isinstance(rejected, str):
        if not (isinstance(chosen, str) and isinstance(rejected, str)):
            raise RowError("'chosen' and 'rejected' must both be strings or both message lists")
        prompt = _field(row, "prompt")
        if not isinstance(prompt, str):
            prompt = render_messages(_messages(prompt, "prompt"))
        if not prompt.strip():
            raise RowError("'prompt' is empty")
        return _finish(prompt.strip(), chosen.strip(), rejected.strip(), [])
    return _parse_messages_pair(row, prompt_required=False)


FORMATS: dict[str, FormatSpec] = {
    "hh-rlhf": FormatSpec("hh-rlhf", ("chosen", "rejected"), (), parse_hh_rlhf),
    "ultrafeedback": FormatSpec(
        "ultrafeedback",
        ("chosen", "rejected"),
        ("prompt", "score_chosen", "score_rejected"),
        parse_ultrafeedback,
    ),
    "trl": FormatSpec("trl", ("chosen", "rejected"), ("prompt",), parse_trl),
}


def topic_text(prompt: str) -> str:
    """The user's words in a prompt: Human turns joined, or the prompt itself if plain."""
    turns = [t.strip() for t in _HUMAN_TURN.findall(prompt)]
    return "\n".join(t for t in turns if t) if turns else prompt
