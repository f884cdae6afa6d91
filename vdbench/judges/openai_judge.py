"""The `openai` judge: any OpenAI-compatible chat-completions endpoint (GPT-4o, vLLM,
llama.cpp's server) asked for one label letter, scored from the letters' logprobs.

p(s | x, y, T) comes from the `top_logprobs` of the single generated token: the letters'
probabilities are summed over spellings (``A``, `` A``, ``A.``), letters missing from
the top list get a floor (half the most an unlisted token can have: the smallest listed
probability, or the letters' share of the unlisted mass if smaller), and the three are
renormalised. When no letter is listed at all, the
generated token's letter gives a near one-hot distribution (``note`` says so); when even
that is not a letter the score is uniform with ``note = "no label letter in reply"``.

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
from vdbench.judges.registry import make_judge_id, resolve_model_path, text_hash

API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o"
DEFAULT_LABEL_OPTIONS = {"A": "support", "B": "neutral", "C": "oppose"}
DEFAULT_TEMPLATE = (
    "Proposition: {proposition}\n\nQuestion ({topic}): {prompt}\n\nResponse: {response}\n\n"
    "What stance does the response take toward the proposition?\n{options}\n"
    "Answer with one letter."
)
# Hosts where a missing key is certain to fail: refuse before sending anything.
KEY_REQUIRED_HOSTS = frozenset({"api.openai.com"})
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# Probability of the generated letter when no letter is in top_logprobs (fallback).
FALLBACK_TOP_P = 0.98
_PLACEHOLDER = re.compile(r"\{(topic|proposition|prompt|response|options)\}")
_LETTER_TOKEN = re.compile(r"^\s*\(?\s*([A-Za-z])\s*[).:]?\s*$")


@dataclass
class OpenAIOptions:
    """Backend options (manifest ``options`` or `load_judge` overrides)."""

    base_url: str = DEFAULT_BASE_URL
    max_concurrency: int = 4
    max_retries: int = 6
    backoff_base_s: float = 1.0  # first retry waits about this long, doubling each time
    backoff_max_s: float = 60.0  # cap on one wait, Retry-After included
    timeout_s: float = 60.0
    top_logprobs: int = 20
    max_response_chars: int = 8000  # longer responses are cut (JudgeScore.truncated)
    system: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> OpenAIOptions:
        known = set(cls.__dataclass_fields__)
        secret = {k for k in options
                  if any(word in k.lower() for word in ("key", "secret", "password", "auth"))}
        if secret:
            raise JudgeError(
                f"judge option(s) {sorted(secret)} look like credentials",
                hint=f"the API key is read only from the {API_KEY_ENV} environment variable; "
                "remove it from the manifest",
            )
        unknown = set(options) - known
        if unknown:
            raise JudgeError(f"unknown openai judge option(s): {', '.join(sorted(unknown))}",
                             hint=f"known options: {', '.join(sorted(known))}")
        opts = cls(**options)
        if opts.max_concurrency < 1 or opts.max_retries < 0 or opts.top_logprobs < 1:
            raise JudgeError("max_concurrency and top_logprobs must be ≥ 1, max_retries ≥ 0")
        return opts


def endpoint_host(base_url: str) -> str:
    """host[:port] of an endpoint URL, without scheme, path or any user:password part."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def render_prompt(template: str, item: JudgeItem, label_options: dict[str, str],
                  max_response_chars: int) -> tuple[str, bool]:
    """The user message for one item and whether its response was cut to fit.

    Placeholders {topic} {proposition} {prompt} {response} {options} are filled in one
    pass, so braces inside a response are never read as placeholders.
    """
    response = item.response
    truncated = len(response) > max_response_chars
    if truncated:
        response = response[:max_response_chars] + " [...]"
    options = "\n".join(f"{letter}) {stance}" for letter, stance in label_options.items())
    values = {"topic": item.topic.replace("_", " "), "proposition": item.proposition,
              "prompt": item.prompt, "response": response, "options": options}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template), truncated


def letter_of(token: str) -> str | None:
    """The label letter a token spells (``"A"``, ``" B"``, ``"C."``, ``"(A)"``), else None."""
    match = _LETTER_TOKEN.match(token)
    return match.group(1) if match else None


def probs_from_logprobs(content: dict[str, Any], label_options: dict[str, str]) -> tuple[list[float], str | None]:
    """(p in STANCES order, note) from one chat-completions `logprobs.content[0]` entry.

    Letters are matched case-sensitively (``a`` is an English word, ``A`` a label).
    """
    letters = list(label_options)
    mass = dict.fromkeys(letters, 0.0)
    listed = content.get("top_logprobs") or []
    found = False
    listed_probs = []
    for entry in listed:
        logprob = entry.get("logprob")
        if logprob is None or not math.isfinite(logprob):
            continue
        p = math.exp(logprob)
        listed_probs.append(p)
        letter = letter_of(entry.get("token") or "")
        if letter in mass:
            mass[letter] += p
            found = True
    note = None
    if found:
        absent = [letter for letter in letters if mass[letter] == 0.0]
        if absent:
            # An unlisted letter's probability is bounded by the smallest listed one and by
            # its share of the unlisted mass; half the tighter bound is its point estimate.
            unlisted = max(0.0, 1.0 - sum(listed_probs))
            floor = 0.5 * min(min(listed_probs), unlisted / len(absent))
            for letter in absent:
                mass[letter] = max(floor, 1e-9)
    else:
        generated = letter_of(content.get("token") or "")
        if generated in mass:
            rest = (1.0 - FALLBACK_TOP_P) / (len(letters) - 1)
            mass = {letter: FALLBACK_TOP_P if letter == generated else rest for letter in letters}
            note = "label from generated token (no letter in top_logprobs)"
        else:
            mass = dict.fromkeys(letters, 1.0)
            note = "no label letter in reply"
    by_stance = {label_options[letter]: mass[letter] for letter in letters}
    total = sum(by_stance.values())
    return [by_stance[s] / total for s in STANCES], note


class OpenAIJudge:
    """Scores items through an OpenAI-compatible `/chat/completions` endpoint."""

    def __init__(self, *, name: str = "openai", model: str = DEFAULT_MODEL,
                 template: str = DEFAULT_TEMPLATE,
                 label_options: dict[str, str] | None = None,
                 options: OpenAIOptions | None = None, manifest: dict[str, Any] | None = None):
        self.options = options or OpenAIOptions()
        self.model = model
        self.template = template
        self.label_options = dict(label_options or DEFAULT_LABEL_OPTIONS)
        if sorted(self.label_options.values()) != sorted(STANCES):
            raise JudgeError(f"label_options must map one letter to each of {STANCES}, got "
                             f"{self.label_options}")
        if any(letter_of(k) != k for k in self.label_options):
            raise JudgeError(f"label options must be single letters, got {list(self.label_options)}")
        parts = urlsplit(self.options.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise JudgeError(f"not an http(s) URL: {self.options.base_url!r}",
                             hint="e.g. --base-url http://127.0.0.1:8000/v1")
        if parts.username or parts.password:
            raise JudgeError("the endpoint URL carries credentials",
                             hint=f"remove them from the URL and set {API_KEY_ENV} instead")
        self.host = endpoint_host(self.options.base_url)
        template_hash = text_hash(template + repr(sorted(self.label_options.items()))
                                  + (self.options.system or ""))
        model_hash = text_hash(f"{model}@{self.options.base_url.rstrip('/')}")
        record = dict(manifest or {})
        record.update(model=model, options={**record.get("options", {}),
                                            "base_url": self.options.base_url})
        self.identity = JudgeIdentity(
            judge_id=make_judge_id(name, template_hash, model_hash), name=name, backend="openai",
            model=f"{model}@{self.host}", template_hash=template_hash, model_hash=model_hash,
            manifest=record,
        )
        self.requests_sent = 0
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()
        self._abort = threading.Event()

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], manifest_path: Path) -> OpenAIJudge:
        template = DEFAULT_TEMPLATE
        if manifest.get("template"):
            path = resolve_model_path(manifest_path, manifest["template"])
            try:
                template = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise JudgeError(f"cannot read the judge template: {exc}", where=str(path)) from None
        options = OpenAIOptions.from_dict(dict(manifest.get("options", {})))
        return cls(name=manifest["name"], model=manifest.get("model") or DEFAULT_MODEL,
                   template=template, label_options=manifest.get("label_options"),
                   options=options, manifest=manifest)

    @property
    def source(self) -> str:
        """The reference-label source this judge writes: ``openai:<model>@<host>``."""
        return f"openai:{self.model}@{self.host}"

    def check_credentials(self) -> None:
        """Fail before sending anything when the host is known to need a key and none is set."""
        if self.host.split(":")[0] in KEY_REQUIRED_HOSTS and not os.environ.get(API_KEY_ENV):
            raise JudgeError(f"{API_KEY_ENV} is not set; {self.host} needs an API key",
                             hint=f"export {API_KEY_ENV}=... (it is never stored), or point "
                             "--base-url at a local OpenAI-compatible server")

    def request_body(self, item: JudgeItem) -> tuple[dict[str, Any], bool]:
        """The chat-completions JSON body for one item, and whether the response was cut."""
        text, truncated = render_prompt(self.template, item, self.label_options,
                                        self.options.max_response_chars)
        messages = [{"role": "user", "content": text}]
        if self.options.system:
            messages.insert(0, {"role": "system", "content": self.options.system})
        body = {"model": self.model, "messages": messages, "max_tokens": 1, "temperature": 0,
                "logprobs": True, "top_logprobs": self.options.top_logprobs,
                **self.options.extra_body}
        return body, truncated

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]:
        """Score items in order, up to `max_concurrency` requests in flight.

        Raises JudgeError on the first request that fails for good (authentication,
        unreachable host, retries exhausted); requests still queued are not sent.
        """
        if not items:
            return []
        self.check_credentials()
        self._abort.clear()
        headers = {"Content-Type": "application/json"}
        with httpx.Client(base_url=self.options.base_url.rstrip("/") + "/", headers=headers,
                          timeout=self.options.timeout_s) as client:
            workers = min(self.options.max_concurrency, len(items))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-judge") as pool:
                futures = [pool.submit(self._score_one, client, item) for item in items]
                try:
                    return [f.result() for f in futures]
                except BaseException:
                    self._abort.set()
                    for f in futures:
                        f.cancel()
                    raise

    def _score_one(self, client: httpx.Client, item: JudgeItem) -> JudgeScore:
        body, truncated = self.request_body(item)
        reply = self._post(client, body)
        try:
            content = reply["choices"][0]["logprobs"]["content"][0]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(
                f"{self.host} returned no logprobs for model {self.model!r}",
                hint="the endpoint must support chat completions with logprobs/top_logprobs "
                "(OpenAI, vLLM and llama.cpp's server do)",
            ) from None
        probs, note = probs_from_logprobs(content, self.label_options)
        if not item.response.strip():
            note = "empty response" if note is None else f"empty response; {note}"
        return JudgeScore(*probs, truncated=truncated, note=note)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries: backoff with jitter on 429/5xx/timeouts, Retry-After honoured."""
        opts = self.options
        last = ""
        for attempt in range(opts.max_retries + 1):
            if self._abort.is_set():
                raise JudgeError("cancelled after another request failed")
            headers = {}
            key = os.environ.get(API_KEY_ENV)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            wait: float | None = None
            try:
                with self._lock:
                    self.requests_sent += 1
                resp = client.post("chat/completions", json=body, headers=headers)
            except httpx.ConnectError:
                raise JudgeError(f"cannot reach {self.host}",
                                 hint="is the server running and --base-url right?") from None
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                last = f"{type(exc).__name__} after {opts.timeout_s:g} s" \
                    if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
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
                    raise JudgeError(f"{self.host} rejected the request (HTTP {status}): "
                                     f"{_error_message(resp, key)}")
                last = f"HTTP {status}" + (" (rate limited)" if status == 429 else "")
                wait = _retry_after(resp)
            if attempt == opts.max_retries:
                break
            if wait is None:
                wait = opts.backoff_base_s * 2**attempt * (0.5 + random.random())
            if self._abort.wait(min(wait, opts.backoff_max_s)):
                raise JudgeError("cancelled after another request failed")
        raise JudgeError(f"{self.host} still failing after {opts.max_retries} retries: {last}",
                         hint="wait and re-run (finished labels are kept), or lower "
                         "--max-concurrency")

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
        message = payload.get("error", payload)
        if isinstance(message, dict):
            message = message.get("message", message)
        text = str(message)
    except ValueError:
        text = resp.text
    if key:
        text = text.replace(key, "***")
    return text[:300]
