"""The `openai` judge: any OpenAI-compatible chat-completions endpoint (GPT-4o, vLLM,
llama.cpp's server) asked for one label letter, scored from the letters' logprobs.

The prompt is the shared stance template (:mod:`vdbench.judges.prompting`: same
placeholders, lettered options and order debiasing as the hf/gguf judges), sent as the
user message. p(s | x, y, T) comes from the `top_logprobs` of the single generated token:
each letter's probability is summed over its spellings (``A``, `` A``, ``A.``), a letter
missing from the list gets a floor (half the most an unlisted token can have: the smallest
listed probability, or the letters' share of the unlisted mass if smaller), and the three
are renormalised. When no letter is listed, the generated token's letter gives a near
one-hot distribution (``note`` says so); when even that is not a letter the score is
uniform with ``note = "no label letter in reply"``. Empty responses are not sent: they
score neutral with ``note = "empty response"``, as in the local judges.

The API key is read from ``OPENAI_API_KEY`` only, at request time. It is never part of
the manifest, the judge identity, the store, logs or error messages.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from vdbench.errors import JudgeError
from vdbench.evalsets.topics import STANCES
from vdbench.judges.base import JudgeIdentity, JudgeItem, JudgeScore
from vdbench.judges.prompting import DEFAULT_TEMPLATE, EMPTY_NOTE, StancePrompt
from vdbench.judges.registry import make_judge_id, text_hash

API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o"
# Hosts where a missing key is certain to fail: refuse before sending anything.
KEY_REQUIRED_HOSTS = frozenset({"api.openai.com"})
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# Probability of the generated letter when no letter is in top_logprobs (fallback).
FALLBACK_TOP_P = 0.98
NO_LETTER_NOTE = "no label letter in reply"
FALLBACK_NOTE = "label from generated token (no letter in top_logprobs)"
# A token spells a label if, stripped of blanks, an opening "(" and a closing ")", "." or
# ":", it equals the label: "A", " A", "A.", "(A)".
_LABEL_TOKEN = re.compile(r"^\s*\(?\s*(.*?)\s*[).:]?\s*$", re.DOTALL)
_CREDENTIAL_WORDS = ("key", "secret", "password", "auth")


@dataclass
class OpenAIOptions:
    """Backend options: the manifest's ``options`` with `load_judge` overrides applied."""

    base_url: str = DEFAULT_BASE_URL
    max_concurrency: int = 4
    max_retries: int = 6
    backoff_base_s: float = 1.0  # first retry waits about this long, doubling each time
    backoff_max_s: float = 60.0  # cap on one wait, Retry-After included
    timeout_s: float = 60.0
    top_logprobs: int = 20
    max_response_chars: int = 8000  # longer responses are cut (JudgeScore.truncated)
    system: str | None = None
    debias_order: bool = False  # one request per label rotation, p(s) averaged
    extra_body: dict[str, Any] = field(default_factory=dict)  # merged into every request

    @classmethod
    def from_dict(cls, options: dict[str, Any], where: str | None = None) -> OpenAIOptions:
        secret = sorted(k for k in options if any(w in k.lower() for w in _CREDENTIAL_WORDS))
        if secret:
            raise JudgeError(
                f"judge option(s) {secret} look like credentials",
                where=where,
                hint=f"the API key is read only from the {API_KEY_ENV} environment variable; "
                "remove it from the manifest",
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise JudgeError(
                f"unknown openai judge option(s): {', '.join(unknown)}",
                where=where,
                hint=f"known options: {', '.join(sorted(known))}",
            )
        opts = cls(**options)
        if opts.max_concurrency < 1 or opts.top_logprobs < 1 or opts.max_retries < 0:
            raise JudgeError(
                "max_concurrency and top_logprobs must be ≥ 1 and max_retries ≥ 0", where=where
            )
        if opts.max_response_chars < 1:
            raise JudgeError("max_response_chars must be ≥ 1", where=where)
        return opts


def endpoint_host(base_url: str) -> str:
    """host[:port] of an endpoint URL, without scheme, path or any user:password part."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def label_of(token: str, labels: Sequence[str]) -> str | None:
    """The label a token spells (``"A"``, ``" B"``, ``"C."``, ``"(A)"``), else None.

    Case-sensitive: ``a`` is an English word, ``A`` a label.
    """
    match = _LABEL_TOKEN.match(token)
    return match.group(1) if match and match.group(1) in labels else None


def probs_from_logprobs(
    content: dict[str, Any], label_options: dict[str, str]
) -> tuple[list[float], str | None]:
    """(p in STANCES order, note) from one chat-completions ``logprobs.content[0]`` entry.

    `label_options` maps each letter to the stance it stands for in this request.
    """
    letters = list(label_options)
    mass = dict.fromkeys(letters, 0.0)
    listed_probs: list[float] = []
    for entry in content.get("top_logprobs") or []:
        logprob = entry.get("logprob")
        if not isinstance(logprob, int | float) or not math.isfinite(logprob):
            continue
        p = math.exp(logprob)
        listed_probs.append(p)
        letter = label_of(entry.get("token") or "", letters)
        if letter is not None:
            mass[letter] += p
    note = None
    if any(mass.values()):
        absent = [letter for letter in letters if mass[letter] == 0.0]
        if absent:
            # An unlisted letter's probability is bounded by the smallest listed one and by
            # its share of the unlisted mass; half the tighter bound is its point estimate.
            unlisted = max(0.0, 1.0 - sum(listed_probs))
            floor = 0.5 * min(min(listed_probs), unlisted / len(absent))
            for letter in absent:
                mass[letter] = max(floor, 1e-12)
    else:
        generated = label_of(content.get("token") or "", letters)
        if generated is not None:
            rest = (1.0 - FALLBACK_TOP_P) / (len(letters) - 1)
            mass = {letter: FALLBACK_TOP_P if letter == generated else rest for letter in letters}
            note = FALLBACK_NOTE
        else:
            mass = dict.fromkeys(letters, 1.0)
            note = NO_LETTER_NOTE
    by_stance = dict.fromkeys(STANCES, 0.0)
    for letter in letters:
        by_stance[label_options[letter]] += mass[letter]
    total = sum(by_stance.values())
    return [by_stance[s] / total for s in STANCES], note


class OpenAIJudge:
    """Scores items through an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        prompt: StancePrompt | None = None,
        *,
        name: str = "openai",
        model: str = DEFAULT_MODEL,
        options: OpenAIOptions | None = None,
        manifest: dict[str, Any] | None = None,
    ):
        self.options = options or OpenAIOptions()
        self.prompt = prompt or StancePrompt(
            DEFAULT_TEMPLATE, debias_order=self.options.debias_order
        )
        self.model = model
        parts = urlsplit(self.options.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise JudgeError(
                f"not an http(s) URL: {self.options.base_url!r}",
                hint="e.g. --base-url http://127.0.0.1:8000/v1",
            )
        if parts.username or parts.password:
            raise JudgeError(
                "the endpoint URL carries credentials",
                hint=f"remove them from the URL and set {API_KEY_ENV} instead",
            )
        self.host = endpoint_host(self.options.base_url)
        template_hash = text_hash(self.prompt.template_hash + "\x1f" + (self.options.system or ""))
        model_hash = text_hash(f"{model}@{self.options.base_url.rstrip('/')}")
        record = dict(manifest or {})
        record["model"] = model
        record["options"] = {**record.get("options", {}), "base_url": self.options.base_url}
        self.identity = JudgeIdentity(
            judge_id=make_judge_id(name, template_hash, model_hash),
            name=name,
            backend="openai",
            model=f"{model}@{self.host}",
            template_hash=template_hash,
            model_hash=model_hash,
            manifest=record,
        )
        self.requests_sent = 0
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()
        self._abort = threading.Event()

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], manifest_path: Path) -> OpenAIJudge:
        options = OpenAIOptions.from_dict(dict(manifest.get("options", {})), str(manifest_path))
        # StancePrompt reads debias_order from the manifest's options, like hf/gguf.
        prompt = StancePrompt.from_manifest(manifest, manifest_path)
        return cls(
            prompt,
            name=manifest["name"],
            model=manifest.get("model") or DEFAULT_MODEL,
            options=options,
            manifest=manifest,
        )

    @property
    def source(self) -> str:
        """The reference-label source this judge writes: ``openai:<model>@<host>``."""
        return f"openai:{self.model}@{self.host}"

    def check_credentials(self) -> None:
        """Fail before sending anything when the host is known to need a key and none is set."""
        if self.host.split(":")[0] in KEY_REQUIRED_HOSTS and not os.environ.get(API_KEY_ENV):
            raise JudgeError(
                f"{API_KEY_ENV} is not set; {self.host} needs an API key",
                hint=f"export {API_KEY_ENV}=... (it is never stored), or point --base-url at "
                "a local OpenAI-compatible server",
            )

    def request_body(self, item: JudgeItem, rotation: int = 0) -> tuple[dict[str, Any], bool]:
        """The chat-completions JSON body for one item, and whether its response was cut."""
        limit = self.options.max_response_chars
        truncated = len(item.response) > limit
        response = item.response[:limit] + " [...]" if truncated else None
        messages = [
            {"role": "user", "content": self.prompt.render(item, rotation, response=response)}
        ]
        if self.options.system:
            messages.insert(0, {"role": "system", "content": self.options.system})
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": self.options.top_logprobs,
            **self.options.extra_body,
        }
        return body, truncated

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]:
        """Score items in order, at most `max_concurrency` requests in flight.

        Raises JudgeError on the first request that fails for good (authentication,
        unreachable host, retries exhausted); requests not yet sent are dropped.
        """
        jobs = [
            (index, rotation)
            for index, item in enumerate(items)
            if item.response.strip()
            for rotation in self.prompt.rotations
        ]
        results: list[tuple[list[float], str | None, bool]] = []
        if jobs:
            self.check_credentials()
            results = self._run(items, jobs)
        per_item: dict[int, list[tuple[list[float], str | None, bool]]] = {}
        for (index, _), result in zip(jobs, results, strict=True):
            per_item.setdefault(index, []).append(result)
        scores = []
        for index in range(len(items)):
            if index not in per_item:
                scores.append(JudgeScore(0.0, 1.0, 0.0, note=EMPTY_NOTE))
                continue
            runs = per_item[index]
            p = [sum(r[0][k] for r in runs) / len(runs) for k in range(len(STANCES))]
            notes = sorted({r[1] for r in runs if r[1]})
            scores.append(
                JudgeScore(p[0], p[1], p[2], truncated=runs[0][2],
                           note="; ".join(notes) if notes else None)
            )
        return scores

    def _run(
        self, items: Sequence[JudgeItem], jobs: list[tuple[int, int]]
    ) -> list[tuple[list[float], str | None, bool]]:
        self._abort.clear()
        with (
            httpx.Client(
                base_url=self.options.base_url.rstrip("/") + "/", timeout=self.options.timeout_s
            ) as client,
            ThreadPoolExecutor(
                max_workers=min(self.options.max_concurrency, len(jobs)),
                thread_name_prefix="openai-judge",
            ) as pool,
        ):
            futures = [pool.submit(self._score_one, client, items[i], r) for i, r in jobs]
            try:
                return [f.result() for f in futures]
            except BaseException:
                self._abort.set()  # waiting workers stop; queued ones never start
                for f in futures:
                    f.cancel()
                raise

    def _score_one(
        self, client: httpx.Client, item: JudgeItem, rotation: int
    ) -> tuple[list[float], str | None, bool]:
        body, truncated = self.request_body(item, rotation)
        reply = self._post(client, body)
        try:
            content = reply["choices"][0]["logprobs"]["content"][0]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(
                f"{self.host} returned no logprobs for model {self.model!r}",
                hint="the endpoint must support chat completions with logprobs/top_logprobs "
                "(OpenAI, vLLM and llama.cpp's server do)",
            ) from None
        letters = dict(zip(self.prompt.letters, self.prompt.stance_of(rotation), strict=True))
        probs, note = probs_from_logprobs(content, letters)
        return probs, note, truncated

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries: backoff with jitter on 429/5xx/timeouts, Retry-After honoured."""
        opts = self.options
        last = ""
        for attempt in range(opts.max_retries + 1):
            if self._abort.is_set():
                raise JudgeError("cancelled after another request failed")
            key = os.environ.get(API_KEY_ENV)
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            wait: float | None = None
            with self._lock:
                self.requests_sent += 1
            try:
                resp = client.post("chat/completions", json=body, headers=headers)
            except httpx.ConnectError:
                raise JudgeError(
                    f"cannot reach {self.host}", hint="is the server running and --base-url right?"
                ) from None
            except httpx.TimeoutException:
                last = f"no answer within {opts.timeout_s:g} s"
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                last = f"connection dropped ({type(exc).__name__})"
            else:
                status = resp.status_code
                if status in (401, 403):
                    raise JudgeError(
                        f"authentication failed for {self.host} (HTTP {status})",
                        hint=f"check the {API_KEY_ENV} environment variable"
                        + ("" if key else " (it is not set)"),
                    )
                if status < 400:
                    try:
                        reply = resp.json()
                    except ValueError:
                        raise JudgeError(f"{self.host} answered with invalid JSON") from None
                    self._add_usage(reply)
                    return reply
                if status not in RETRY_STATUS:
                    raise JudgeError(
                        f"{self.host} rejected the request (HTTP {status}): "
                        f"{_error_message(resp, key)}"
                    )
                last = f"HTTP {status}" + (" (rate limited)" if status == 429 else "")
                wait = _retry_after(resp)
            if attempt == opts.max_retries:
                break
            if wait is None:
                wait = opts.backoff_base_s * 2**attempt * (0.5 + random.random())
            if self._abort.wait(min(wait, opts.backoff_max_s)):
                raise JudgeError("cancelled after another request failed")
        raise JudgeError(
            f"{self.host} still failing after {opts.max_retries} retries: {last}",
            hint="wait and re-run (labels already stored are kept), or lower --max-concurrency",
        )

    def _add_usage(self, reply: dict[str, Any]) -> None:
        usage = reply.get("usage") or {}
        with self._lock:
            for k in self.usage:
                value = usage.get(k)
                if isinstance(value, int):
                    self.usage[k] += value


def _retry_after(resp: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if any."""
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(resp: httpx.Response, key: str | None) -> str:
    """The server's error message, short, with the API key blanked if it was echoed."""
    try:
        payload = resp.json()
        message = payload.get("error", payload) if isinstance(payload, dict) else payload
        if isinstance(message, dict):
            message = message.get("message", message)
        text = str(message)
    except ValueError:
        text = resp.text
    if key:
        text = text.replace(key, "***")
    return text[:300]
