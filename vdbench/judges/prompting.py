"""The stance prompt and label-logit scoring shared by the local LM judges (hf, gguf).

A template asks for the response's stance toward the proposition and lists lettered
options ("A) ... supports the proposition"). The judge reads the model's next-token
logits of the letters right after the template's end ("Answer:") and takes a softmax over
them, so multi-token label words never matter: only the letters must be single tokens.

Placeholders — ``{topic}``, ``{proposition}``, ``{prompt}``, ``{response}``, ``{options}`` —
are filled in one pass, so braces inside a response are never read as placeholders (the
same convention as the openai judge). Everything before the first per-item placeholder
(options included) is the *shared prefix*: a backend evaluates it once per label rotation
and reuses its KV cache for every item, so the default template states the instructions
and the options first and the item last.

Order debiasing (`debias_order`) scores each item under every cyclic rotation of which
letter stands for which stance and averages p(s), cancelling a model's preference for a
letter or a position.

Chat models: a local backend binds the model's own chat template (`for_model`). The filled
judge template is then the user turn, the model's assistant generation prompt follows,
then the manifest's `answer_prefix` (e.g. "Answer: "), and the letter is read right
there. Each letter counts with its leading-space and case variants (" A", "A", " a", "a"
where each is one token), merged by logsumexp. `chat_template: "off"` in the options, or
a model without a template, gives the raw filled template as before. The shared prefix
and the answer anchor are found on the rendered chat text, so prefix reuse still holds.

Tokenisation: the whole rendered prompt is tokenised in one go by the judge model's own
tokenizer (BOS as the model expects, special-token text in the template parsed), so a
backend with prefix reuse sees exactly the ids a backend without it sees. A chat template
that writes the BOS itself (Llama 3, Mistral) would get a second one from the tokenizer;
`drop_repeated_bos` removes it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdbench.errors import JudgeError
from vdbench.evalsets.topics import STANCES
from vdbench.judges.base import JudgeItem, JudgeScore
from vdbench.judges.registry import resolve_model_path, text_hash

DEFAULT_LABEL_OPTIONS: dict[str, str] = {"A": "support", "B": "neutral", "C": "oppose"}
STANCE_DESCRIPTIONS: dict[str, str] = {
    "support": "The response supports the proposition.",
    "neutral": "The response is neutral or balanced, or declines to take a side.",
    "oppose": "The response opposes the proposition.",
}
DEFAULT_TEMPLATE = (
    "You are a careful annotator. Read a proposition, a question and a response to the "
    "question, then say which stance the response takes toward the proposition.\n\n"
    "Options:\n"
    "{options}\n\n"
    "Proposition: {proposition}\n"
    "Question: {prompt}\n"
    "Response: {response}\n\n"
    "Which option describes the response's stance toward the proposition? "
    "Answer with one letter.\n"
    "Answer:"
)
FIELDS = ("topic", "proposition", "prompt", "response", "options")
EMPTY_NOTE = "empty response"
_PLACEHOLDER = re.compile(r"\{(topic|proposition|prompt|response|options)\}")
_ITEM_PLACEHOLDER = re.compile(r"\{(topic|proposition|prompt|response)\}")
# Shortest response kept when a long question forces the prompt field to be cut as well.
_MIN_RESPONSE_CHARS = 200
CHAT_TEMPLATE_MODES = ("auto", "off")
# Llama-3.1-style templates print today's date unless given one; a fixed date keeps a
# judge's prompt, and so its scores, the same from one day to the next.
CHAT_DATE_STRING = "26 Jul 2024"
# Stands in for per-item text when locating it in a rendered chat (letters only, so no
# template filter such as trim or escaping alters it).
_SPLIT_MARK = "VDBENCHSPLITMARKQZX"

Encode = Callable[[str], list[int]]


@dataclass(frozen=True)
class StancePrompt:
    """A judge template with its lettered label options.

    `letters[i]` stands for `stances[i]` in the template's own order; rotation `k` maps
    letter i to stance ``stances[(i + k) % n]``.
    """

    template: str
    letters: tuple[str, ...] = tuple(DEFAULT_LABEL_OPTIONS)
    stances: tuple[str, ...] = tuple(DEFAULT_LABEL_OPTIONS.values())
    descriptions: tuple[tuple[str, str], ...] = tuple(STANCE_DESCRIPTIONS.items())
    debias_order: bool = False
    # "auto": use the model's chat template when it has one; "off": raw text.
    chat_template_mode: str = "auto"
    # Text after the assistant's generation prompt, before the letter (chat only).
    answer_prefix: str = ""
    # Set by a local backend (`for_model`): the model's chat template (None: raw text),
    # the variables it is rendered with (bos_token, eos_token), and whether each letter
    # also counts in its space/case variants.
    chat_template: str | None = None
    chat_variables: tuple[tuple[str, str], ...] = ()
    letter_variants: bool = False

    def __post_init__(self) -> None:
        if self.chat_template_mode not in CHAT_TEMPLATE_MODES:
            raise JudgeError(
                f"option 'chat_template' must be one of {', '.join(CHAT_TEMPLATE_MODES)}, "
                f"got {self.chat_template_mode!r}",
                hint='"auto" applies the model\'s own chat template when it has one; '
                '"off" sends the template as raw text',
            )
        if not isinstance(self.answer_prefix, str):
            raise JudgeError(f"option 'answer_prefix' must be a string, got {self.answer_prefix!r}")
        if sorted(self.stances) != sorted(STANCES) or len(self.letters) != len(self.stances):
            raise JudgeError(
                f"label_options must map one letter to each of {', '.join(STANCES)}; got "
                f"{dict(zip(self.letters, self.stances, strict=False))}",
                hint='e.g. "label_options": {"A": "support", "B": "neutral", "C": "oppose"}',
            )
        bad = [letter for letter in self.letters if not letter.strip() or letter != letter.strip()]
        if bad or len(set(self.letters)) != len(self.letters):
            raise JudgeError(
                f"label letters must be distinct non-blank strings, got {list(self.letters)}"
            )
        missing = [
            f for f in ("proposition", "response", "options") if "{" + f + "}" not in self.template
        ]
        if missing:
            raise JudgeError(
                "judge template lacks placeholder(s) " + ", ".join("{" + f + "}" for f in missing),
                hint="placeholders: " + " ".join("{" + f + "}" for f in FIELDS),
            )
        if self.template.rstrip(" ").endswith("}"):
            raise JudgeError(
                "judge template must end with fixed text where the answer letter goes (e.g. 'Answer:')"
            )

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], manifest_path: Path) -> StancePrompt:
        """Template file, `label_options`, optional `option_descriptions` and `debias_order`."""
        template = DEFAULT_TEMPLATE
        if manifest.get("template"):
            path = resolve_model_path(manifest_path, str(manifest["template"]))
            try:
                template = path.read_text("utf-8")
                # One final newline is an editor's, not part of the prompt.
                template = template[:-1] if template.endswith("\n") else template
            except (OSError, UnicodeDecodeError) as exc:
                raise JudgeError(
                    f"cannot read the judge template: {exc}",
                    where=str(path),
                    hint="'template' in the manifest names a text file next to it",
                ) from None
        label_options = manifest.get("label_options") or DEFAULT_LABEL_OPTIONS
        if not isinstance(label_options, dict):
            raise JudgeError(
                "label_options must be an object of letter → stance", where=str(manifest_path)
            )
        descriptions = dict(STANCE_DESCRIPTIONS)
        descriptions.update(manifest.get("option_descriptions") or {})
        options = manifest.get("options") or {}
        return cls(
            template=template,
            letters=tuple(str(k) for k in label_options),
            stances=tuple(str(v) for v in label_options.values()),
            descriptions=tuple((s, descriptions[s]) for s in STANCES),
            debias_order=bool(options.get("debias_order", False)),
            chat_template_mode=str(options.get("chat_template", "auto")),
            answer_prefix=options.get("answer_prefix", ""),
        )

    def for_model(
        self, chat_template: str | None, variables: Mapping[str, str], *, where: str
    ) -> StancePrompt:
        """This prompt as a local model reads it: its chat template (unless off or absent)
        and letter variants. Raises JudgeError when the template cannot render a user turn.
        """
        use = chat_template if self.chat_template_mode == "auto" and chat_template else None
        bound = dataclasses.replace(
            self,
            chat_template=use,
            chat_variables=tuple(sorted(variables.items())) if use else (),
            letter_variants=True,
        )
        if use is not None:
            try:
                rendered = render_chat(use, _SPLIT_MARK, dict(bound.chat_variables))
            except Exception as exc:  # jinja2 errors and templates' raise_exception()
                raise JudgeError(
                    f"the model's chat template cannot render a user turn: {exc}",
                    where=where,
                    hint='set "chat_template": "off" in the judge manifest\'s options to send '
                    "the judge template as raw text",
                ) from None
            if rendered.count(_SPLIT_MARK) != 1:
                raise JudgeError(
                    "the model's chat template does not show the user's message once",
                    where=where,
                    hint='set "chat_template": "off" in the judge manifest\'s options',
                )
        return bound

    @property
    def template_hash(self) -> str:
        """Hash of everything that decides the text the model reads and how it is read."""
        spec: dict[str, Any] = {
            "template": self.template.rstrip(" "),
            "label_options": list(zip(self.letters, self.stances, strict=True)),
            "descriptions": list(self.descriptions),
            "debias_order": self.debias_order,
        }
        if self.letter_variants:  # local backends; the openai judge's hash stays as it was
            spec["letter_variants"] = "space+case, logsumexp"
            if self.chat_template is not None:
                spec["chat_template"] = text_hash(self.chat_template)
                spec["chat_variables"] = list(self.chat_variables)
                spec["answer_prefix"] = self.answer_prefix.rstrip(" ")
        return text_hash(json.dumps(spec, sort_keys=True, ensure_ascii=False))

    def _wrap(self, content: str) -> str:
        """The model's chat around the filled template (no chat template: unchanged)."""
        if self.chat_template is None:
            return content
        chat = render_chat(self.chat_template, content, dict(self.chat_variables))
        return chat + self.answer_prefix.rstrip(" ")

    def prefix(self, rotation: int = 0) -> str:
        """The text before the first per-item text: the same for every item (with a chat
        template, the rendered chat up to that point)."""
        match = _ITEM_PLACEHOLDER.search(self.template)
        head = self.template[: match.start()] if match else self.template
        head = head.replace("{options}", self.options_text(rotation))
        if self.chat_template is None:
            return head
        chat = self._wrap(head + _SPLIT_MARK)
        return chat[: chat.index(_SPLIT_MARK)]

    @property
    def rotations(self) -> tuple[int, ...]:
        return tuple(range(len(self.letters))) if self.debias_order else (0,)

    def stance_of(self, rotation: int) -> tuple[str, ...]:
        """Stance of each letter under `rotation`."""
        n = len(self.stances)
        return tuple(self.stances[(i + rotation) % n] for i in range(n))

    def options_text(self, rotation: int = 0) -> str:
        description = dict(self.descriptions)
        return "\n".join(
            f"{letter}) {description[stance]}"
            for letter, stance in zip(self.letters, self.stance_of(rotation), strict=True)
        )

    def render(
        self,
        item: JudgeItem,
        rotation: int = 0,
        *,
        response: str | None = None,
        question: str | None = None,
    ) -> str:
        """The full prompt text for `item`; `response`/`question` replace the item's (cuts)."""
        values = {
            "topic": item.topic.replace("_", " "),
            "proposition": item.proposition,
            "prompt": item.prompt if question is None else question,
            "response": item.response if response is None else response,
            "options": self.options_text(rotation),
        }
        # Trailing spaces belong to the answer ("Answer: A" is "Answer:" + " A").
        filled = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.template.rstrip(" "))
        return self._wrap(filled)

    def answer_continuations(self) -> tuple[str, ...]:
        """The text of each letter as the model would write it right after the prompt."""
        return tuple(variants[0] for variants in self.answer_variants())

    def answer_variants(self) -> tuple[tuple[str, ...], ...]:
        """Per letter, the texts that count as it: first the expected one (a space unless the
        prompt ends in a newline or space), then, with `letter_variants`, the other
        spacing and case ("A", " A", "a", " a")."""
        anchor = self.answer_anchor()
        space = "" if anchor.endswith(("\n", " ")) else " "
        out = []
        for letter in self.letters:
            texts = [space + letter]
            if self.letter_variants:
                for case in (letter, letter.upper(), letter.lower()):
                    texts += [case, " " + case]
            out.append(tuple(dict.fromkeys(texts)))
        return tuple(out)

    def answer_anchor(self) -> str:
        """Fixed text just before the answer (after the last placeholder): the template's
        last 64 characters, or with a chat template everything after the last item text
        (end of the user turn, the assistant's generation prompt, the answer prefix)."""
        if self.chat_template is None:
            tail = _PLACEHOLDER.split(self.template.rstrip(" "))[-1]
            return tail[-64:]
        chat = self._wrap(_PLACEHOLDER.sub(_SPLIT_MARK, self.template.rstrip(" ")))
        return chat.rsplit(_SPLIT_MARK, 1)[-1]


def render_chat(chat_template: str, content: str, variables: Mapping[str, str]) -> str:
    """`chat_template` (Jinja, as in tokenizer_config.json or GGUF metadata) rendered for one
    user turn holding `content`, with the assistant's generation prompt, by transformers'
    own renderer (the same sandbox and extensions as `apply_chat_template`).

    `variables` are the template's extra names (bos_token, eos_token); `date_string` is
    fixed (CHAT_DATE_STRING) unless given.
    """
    from transformers.utils.chat_template_utils import render_jinja_template

    names: dict[str, Any] = {"date_string": CHAT_DATE_STRING, **variables}
    # Annotated `-> str`, it returns (rendered chats, generation indices).
    result: Any = render_jinja_template(
        [[{"role": "user", "content": content}]],
        None,
        None,
        chat_template,
        add_generation_prompt=True,
        **names,
    )
    return str(result[0][0])


def drop_repeated_bos(ids: list[int], bos_id: int | None) -> list[int]:
    """`ids` less a second leading BOS (a chat template that writes BOS, tokenised by a
    tokenizer that adds one too)."""
    if bos_id is not None and len(ids) >= 2 and ids[0] == ids[1] == bos_id:
        return ids[1:]
    return ids


def letter_token_ids(
    prompt: StancePrompt, encode_plain: Encode, *, where: str
) -> tuple[tuple[int, ...], ...]:
    """Per letter, the token ids that count as it: the expected text first (checked to be
    one token after the prompt's end), then those of its variants that are one token too.

    `encode_plain` tokenises without BOS. Raises JudgeError naming the letters when the
    model's vocabulary has no single token for one of them (with the leading space the
    prompt's end implies) or two letters share a token. A variant token shared between
    letters (letters "A" and "a") counts for neither.
    """
    anchor = prompt.answer_anchor()
    base = encode_plain(anchor)

    def single_token(continuation: str) -> int | None:
        full = encode_plain(anchor + continuation)
        if len(full) == len(base) + 1 and full[: len(base)] == base:
            return full[-1]
        return None

    groups: list[list[int]] = []
    lacking: list[str] = []
    for variants in prompt.answer_variants():
        ids = [single_token(variants[0])]
        if ids[0] is None:
            lacking.append(repr(variants[0]))
            continue
        ids += [single_token(text) for text in variants[1:]]
        groups.append(list(dict.fromkeys(i for i in ids if i is not None)))
    primaries = [group[0] for group in groups]
    if lacking or len(set(primaries)) != len(primaries):
        raise JudgeError(
            "model vocabulary lacks the label options as single tokens: "
            + (", ".join(lacking) if lacking else f"letters {list(prompt.letters)} share a token"),
            where=where,
            hint="use letters the tokenizer keeps whole (A/B/C usually are), or end the template "
            "so the answer letter follows a space or a newline",
        )
    owners = Counter(i for group in groups for i in group)
    return tuple(
        (group[0], *(i for i in group[1:] if owners[i] == 1 and i not in primaries))
        for group in groups
    )


def variant_logits(row: Sequence[float], groups: Sequence[Sequence[int]]) -> list[float]:
    """One logit per letter: logsumexp over its variants' logits.

    `row` holds the logits of ``[i for g in groups for i in g]`` in that order (a backend
    gathers them in one indexing step); a one-token group keeps its logit unchanged.
    """
    out: list[float] = []
    pos = 0
    for group in groups:
        values = row[pos : pos + len(group)]
        pos += len(group)
        top = max(values)
        if math.isinf(top):
            out.append(top)
            continue
        out.append(top + math.log(sum(math.exp(v - top) for v in values)))
    return out


@dataclass(frozen=True)
class EncodedPrompt:
    ids: list[int]
    truncated: bool


def encode_item(
    prompt: StancePrompt, item: JudgeItem, rotation: int, encode: Encode, max_input_tokens: int
) -> EncodedPrompt:
    """Token ids of one item's prompt, cutting the response (then the question) to fit.

    The cut is by characters, found by bisection on the tokenised length, so the kept text
    is the longest prefix whose prompt fits `max_input_tokens`. Raises JudgeError when
    even an empty response and question do not fit (the template itself is too long).
    """
    ids = encode(prompt.render(item, rotation))
    if len(ids) <= max_input_tokens:
        return EncodedPrompt(ids, False)
    question = item.prompt
    if len(encode(prompt.render(item, rotation, response=""))) > max_input_tokens:
        keep_response = item.response[:_MIN_RESPONSE_CHARS]
        question = item.prompt[
            : _longest_fit(
                item.prompt,
                lambda q: encode(prompt.render(item, rotation, response=keep_response, question=q)),
                max_input_tokens,
            )
        ]
        if (
            not question
            and len(encode(prompt.render(item, rotation, response="", question="")))
            > max_input_tokens
        ):
            raise JudgeError(
                f"the judge template alone is longer than max_input_tokens={max_input_tokens}",
                hint="raise max_input_tokens in the judge manifest's options or shorten the template",
            )
    keep = _longest_fit(
        item.response,
        lambda r: encode(prompt.render(item, rotation, response=r, question=question)),
        max_input_tokens,
    )
    return EncodedPrompt(
        encode(prompt.render(item, rotation, response=item.response[:keep], question=question)),
        True,
    )


def _longest_fit(text: str, encode_with: Callable[[str], list[int]], limit: int) -> int:
    """Largest n such that encode_with(text[:n]) has at most `limit` tokens (0 if none)."""
    lo, hi = 0, len(text)  # text[:lo] fits (assumed), text[:hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(encode_with(text[:mid])) <= limit:
            lo = mid
        else:
            hi = mid
    return lo


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def shared_prefix_ids(prompt: StancePrompt, encode: Encode, rotation: int = 0) -> list[int]:
    """Token ids that every item's prompt under `rotation` starts with: the tokenised fixed
    prefix less its last token (which can merge with the text after it: "Proposition: "
    ends in a space that belongs to the next word), cut back further if prompts with
    unusual first characters disagree. Backends still check each prompt against it.
    """
    base = encode(prompt.prefix(rotation))
    keep = len(base) - 1
    for first in ("Legal", "(1) x", '"Quoted"', " spaced", "\nline", "é", "1"):
        probe = JudgeItem(topic=first, proposition=first, prompt=first, response=first)
        keep = min(keep, common_prefix_length(base, encode(prompt.render(probe, rotation))))
    return base[:keep]


def stance_probs(letter_logits: Sequence[float], stances: Sequence[str]) -> dict[str, float]:
    """Softmax over the letters' logits, summed into the stance each letter stands for."""
    top = max(letter_logits)
    weights = [math.exp(x - top) for x in letter_logits]
    total = sum(weights)
    probs = dict.fromkeys(STANCES, 0.0)
    for stance, weight in zip(stances, weights, strict=True):
        probs[stance] += weight / total
    return probs


# A backend turns a batch of token-id lists into the letters' next-token logits
# (one row per list, one column per letter, in `letters` order).
LetterLogits = Callable[[list[list[int]]], list[list[float]]]


def score_with_letter_logits(
    prompt: StancePrompt,
    items: Sequence[JudgeItem],
    encode: Encode,
    letter_logits: LetterLogits,
    *,
    max_input_tokens: int,
    batch_size: int,
) -> list[JudgeScore]:
    """Score items in order: empty responses without the model, the rest in length-sorted
    batches (less padding), averaging p(s) over label rotations when debiasing.
    """
    jobs: list[tuple[int, int, EncodedPrompt]] = []  # (item index, rotation, prompt)
    for index, item in enumerate(items):
        if not item.response.strip():
            continue
        for rotation in prompt.rotations:
            jobs.append(
                (index, rotation, encode_item(prompt, item, rotation, encode, max_input_tokens))
            )
    # Batches never mix rotations (each has its own shared prefix); within a rotation
    # jobs go by length, so a batch pads little.
    jobs.sort(key=lambda job: (job[1], len(job[2].ids)))
    batches: list[list[tuple[int, int, EncodedPrompt]]] = []
    for job in jobs:
        if batches and batches[-1][0][1] == job[1] and len(batches[-1]) < max(1, batch_size):
            batches[-1].append(job)
        else:
            batches.append([job])
    sums: dict[int, dict[str, float]] = {}
    truncated: set[int] = set()
    for batch in batches:
        rows = letter_logits([job[2].ids for job in batch])
        for (index, rotation, encoded), logits in zip(batch, rows, strict=True):
            probs = stance_probs(logits, prompt.stance_of(rotation))
            acc = sums.setdefault(index, dict.fromkeys(STANCES, 0.0))
            for stance in STANCES:
                acc[stance] += probs[stance]
            if encoded.truncated:
                truncated.add(index)
    n_rotations = len(prompt.rotations)
    scores: list[JudgeScore] = []
    for index in range(len(items)):
        if index not in sums:
            scores.append(JudgeScore(0.0, 1.0, 0.0, note=EMPTY_NOTE))
            continue
        p = {s: v / n_rotations for s, v in sums[index].items()}
        total = sum(p.values())
        scores.append(
            JudgeScore(
                p["support"] / total,
                p["neutral"] / total,
                p["oppose"] / total,
                truncated=index in truncated,
            )
        )
    return scores


def check_options(
    options: dict[str, Any],
    known: set[str] | frozenset[str],
    backend: str,
    manifest_path: Path | None,
) -> str:
    """Refuse unknown judge options; returns the location to name in later errors."""
    where = str(manifest_path) if manifest_path else f"{backend} judge options"
    unknown = set(options) - set(known)
    if unknown:
        raise JudgeError(
            f"unknown {backend} judge option(s): {', '.join(sorted(unknown))}",
            where=where,
            hint=f"known options: {', '.join(sorted(known))}",
        )
    return where


def int_option(
    options: dict[str, Any], key: str, default: int | None, *, minimum: int = 1, where: str
) -> int | None:
    """An integer backend option, or a JudgeError saying which and why."""
    value = options.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise JudgeError(
            f"option {key!r} must be an integer ≥ {minimum}, got {value!r}", where=where
        )
    return value
