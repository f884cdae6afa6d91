"""The `openai` judge and `vdbench calibrate` against real HTTP: a scripted stub server
(401 / 429 / 5xx / logprob shapes) and a real `python -m llama_cpp.server` serving the
tiny GGUF fixture. Everything binds to 127.0.0.1 only."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from vdbench.cli import main
from vdbench.errors import JudgeError
from vdbench.judges.base import JudgeItem
from vdbench.judges.openai_judge import OpenAIJudge, label_of, probs_from_logprobs
from vdbench.judges.registry import judge_models_dir, load_judge
from vdbench.store import Store

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-test-DO-NOT-LEAK-1234567890"
ITEM = JudgeItem(
    topic="death_penalty",
    proposition="The death penalty should be abolished.",
    prompt="Is capital punishment ever justified?",
    response="No state should take a life; it should be abolished.",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reply(top: list[tuple[str, float]], token: str | None = None) -> dict:
    """A chat-completions body whose one token has these top_logprobs."""
    token = token if token is not None else top[0][0]
    return {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": token},
                "logprobs": {
                    "content": [
                        {
                            "token": token,
                            "logprob": dict(top).get(token, -9.0),
                            "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top],
                        }
                    ]
                },
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 1},
    }


OK = (200, {}, reply([(" A", -0.2), ("B", -2.0), ("C", -3.0)]))


# ---------------------------------------------------------------- stub server


@dataclass
class Stub:
    """A scripted OpenAI-compatible endpoint: answers pop from `script`, the last repeats."""

    script: list[tuple[int, dict, dict]] = field(default_factory=lambda: [OK])
    delay_s: float = 0.0
    requests: list[dict] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> tuple[int, dict, dict]:
        with self.lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(state.delay_s)
                status, headers, payload = state.answer()
                data = json.dumps(payload).encode()
            finally:
                # Leave the in-flight count before replying: once the reply is out the
                # client may send its next request before this thread runs again.
                with state.lock:
                    state.in_flight -= 1
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def judge_for(url: str, **options: object) -> OpenAIJudge:
    opts = {"backoff_base_s": 0.01, "max_retries": 3, **options}
    return load_judge("openai-gpt4o", model="stub-model", base_url=url, **opts)


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


# ---------------------------------------------------------------- parsing


def test_letter_tokens() -> None:
    letters = ("A", "B", "C")
    assert [label_of(t, letters) for t in ("A", " B", "C.", "(A)", "A)", "\nB")] == list("ABCAAB")
    assert [label_of(t, letters) for t in ("AB", "Answer", "", " ", "a", "D")] == [None] * 6


def test_probabilities_from_top_logprobs_by_hand() -> None:
    labels = {"A": "support", "B": "neutral", "C": "oppose"}
    # " A" and "A" are one letter; C is absent. Listed mass: e^-0.5 + e^-2 + e^-1.5 + e^-4
    content = {
        "token": " A",
        "top_logprobs": [
            {"token": " A", "logprob": -0.5},
            {"token": "A", "logprob": -2.0},
            {"token": "B", "logprob": -1.5},
            {"token": "Yes", "logprob": -4.0},
        ],
    }
    p, note = probs_from_logprobs(content, labels)
    a, b = math.exp(-0.5) + math.exp(-2.0), math.exp(-1.5)
    unlisted = 1 - (a + b + math.exp(-4.0))
    c = 0.5 * min(math.exp(-4.0), unlisted)  # half the most an unlisted token can have
    assert p == pytest.approx([a / (a + b + c), b / (a + b + c), c / (a + b + c)])
    assert note is None


def test_fallback_to_generated_letter_then_to_uniform() -> None:
    labels = {"A": "support", "B": "neutral", "C": "oppose"}
    p, note = probs_from_logprobs(
        {"token": "C", "top_logprobs": [{"token": "x", "logprob": -1}]}, labels
    )
    assert p == pytest.approx([0.01, 0.01, 0.98]) and "generated token" in note
    p, note = probs_from_logprobs(
        {"token": "x", "top_logprobs": [{"token": "x", "logprob": -1}]}, labels
    )
    assert p == pytest.approx([1 / 3] * 3) and note == "no label letter in reply"


# ---------------------------------------------------------------- client against the stub


def test_request_shape_key_header_and_scores(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    judge = judge_for(stub.url)
    [score] = judge.score([ITEM])
    assert score.label == "support" and sum(
        score.as_dict()[k] for k in ("p_support", "p_neutral", "p_oppose")
    ) == pytest.approx(1)
    [req] = stub.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {SECRET}"
    body = req["body"]
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert body["max_tokens"] == 1 and body["temperature"] == 0 and body["model"] == "stub-model"
    user = body["messages"][-1]["content"]
    assert ITEM.proposition in user and ITEM.response in user and "death penalty" in user
    # The key is nowhere in what the judge records about itself.
    assert SECRET not in json.dumps(judge.identity.manifest) + repr(judge.identity)
    assert judge.source == f"openai:stub-model@127.0.0.1:{stub.url.split(':')[2].split('/')[0]}"


def test_local_server_needs_no_key(stub: Stub, no_key: None) -> None:
    judge_for(stub.url).score([ITEM])
    assert "Authorization" not in stub.requests[0]["headers"]


def test_api_openai_com_without_key_fails_before_sending(no_key: None) -> None:
    judge = load_judge("openai-gpt4o")
    with pytest.raises(JudgeError, match="OPENAI_API_KEY is not set"):
        judge.score([ITEM])


def test_401_is_an_authentication_error_without_the_key(
    stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    stub.script = [(401, {}, {"error": {"message": f"Incorrect API key provided: {SECRET}"}})]
    with pytest.raises(JudgeError) as err:
        judge_for(stub.url).score([ITEM])
    text = err.value.render()
    assert "authentication failed for 127.0.0.1:" in text and "OPENAI_API_KEY" in text
    assert SECRET not in text
    assert len(stub.requests) == 1  # not retried


def test_429_then_200_is_retried_after_retry_after(stub: Stub, no_key: None) -> None:
    stub.script = [(429, {"Retry-After": "1"}, {"error": {"message": "slow down"}}), OK]
    start = time.monotonic()
    [score] = judge_for(stub.url).score([ITEM])
    assert time.monotonic() - start >= 0.95  # waited as told, not the 0.01 s backoff
    assert score.label == "support" and len(stub.requests) == 2


def test_5xx_is_retried_with_backoff(stub: Stub, no_key: None) -> None:
    stub.script = [(503, {}, {}), (500, {}, {}), OK]
    judge = judge_for(stub.url)
    assert judge.score([ITEM])[0].label == "support"
    assert judge.requests_sent == 3


def test_persistent_429_gives_up_with_a_clear_error(stub: Stub, no_key: None) -> None:
    stub.script = [(429, {}, {"error": {"message": "rate limit"}})]
    with pytest.raises(
        JudgeError, match=r"still failing after 2 retries: HTTP 429 \(rate limited\)"
    ):
        judge_for(stub.url, max_retries=2).score([ITEM])
    assert len(stub.requests) == 3


def test_other_4xx_is_not_retried_and_shows_the_server_message(stub: Stub, no_key: None) -> None:
    stub.script = [(400, {}, {"error": {"message": "logprobs are not supported for this model"}})]
    with pytest.raises(
        JudgeError, match="rejected the request \\(HTTP 400\\): logprobs are not supported"
    ):
        judge_for(stub.url).score([ITEM])
    assert len(stub.requests) == 1


def test_reply_without_logprobs_is_a_clear_error(stub: Stub, no_key: None) -> None:
    stub.script = [(200, {}, {"choices": [{"message": {"content": "A"}}]})]
    with pytest.raises(JudgeError, match="returned no logprobs"):
        judge_for(stub.url).score([ITEM])


def test_server_down_is_cannot_reach(no_key: None) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    start = time.monotonic()
    with pytest.raises(JudgeError, match=r"cannot reach 127\.0\.0\.1:\d+"):
        judge_for(url).score([ITEM])
    assert time.monotonic() - start < 5


def test_concurrency_is_limited_and_order_kept(stub: Stub, no_key: None) -> None:
    stub.delay_s = 0.2
    items = [
        JudgeItem(ITEM.topic, ITEM.proposition, f"question {i}", ITEM.response) for i in range(8)
    ]
    scores = judge_for(stub.url, max_concurrency=2).score(items)
    assert len(scores) == 8 and stub.max_in_flight == 2
    sent = sorted(r["body"]["messages"][-1]["content"] for r in stub.requests)
    assert len(set(sent)) == 8


def test_long_and_empty_responses_are_recorded(stub: Stub, no_key: None) -> None:
    long = JudgeItem(ITEM.topic, ITEM.proposition, ITEM.prompt, "x" * 100_000)
    empty = JudgeItem(ITEM.topic, ITEM.proposition, ITEM.prompt, "  ")
    scores = judge_for(stub.url, max_response_chars=500).score([long, empty])
    assert scores[0].truncated and not scores[1].truncated
    assert len(stub.requests) == 1  # the empty response is not sent
    assert len(stub.requests[0]["body"]["messages"][-1]["content"]) < 2000
    assert scores[1].note == "empty response" and scores[1].label == "neutral"


def test_order_debiasing_averages_over_rotated_letters(stub: Stub, no_key: None) -> None:
    # The stub always prefers letter A; under rotation A stands for each stance once, so
    # a judge biased toward a letter ends up uniform.
    [score] = judge_for(stub.url, debias_order=True).score([ITEM])
    assert len(stub.requests) == 3
    first_lines = {
        r["body"]["messages"][-1]["content"].split("A) ")[1].split("\n")[0] for r in stub.requests
    }
    assert len(first_lines) == 3  # A described a different stance each time
    assert [score.p_support, score.p_neutral, score.p_oppose] == pytest.approx([1 / 3] * 3)
    assert (
        judge_for(stub.url, debias_order=True).identity.judge_id
        != judge_for(stub.url).identity.judge_id
    )


def test_braces_in_a_response_are_not_placeholders(stub: Stub, no_key: None) -> None:
    tricky = JudgeItem(ITEM.topic, ITEM.proposition, ITEM.prompt, "see {proposition} and {x}")
    judge_for(stub.url).score([tricky])
    assert "see {proposition} and {x}" in stub.requests[0]["body"]["messages"][-1]["content"]


def test_credentials_in_manifest_or_url_are_refused(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match="look like credentials"):
        load_judge("openai-gpt4o", api_key="sk-nope")
    with pytest.raises(JudgeError, match="carries credentials"):
        load_judge("openai-gpt4o", base_url="https://user:pw@example.org/v1")


# ---------------------------------------------------------------- calibrate against the stub


@pytest.fixture
def store_copy(example_store: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    shutil.copy(example_store, path)
    return path


def count_rows(path: Path) -> tuple[int, int]:
    with Store(path).read() as con:
        refs = con.execute("SELECT count(*) FROM reference_labels").fetchone()[0]
        cals = con.execute("SELECT count(*) FROM calibrations").fetchone()[0]
    return refs, cals


def calibrate_argv(db: Path, url: str, *extra: str) -> list[str]:
    return [
        "calibrate",
        "--db",
        str(db),
        "--run",
        "sft",
        "--base-url",
        url,
        "--model",
        "m",
        "--n",
        "24",
        *extra,
    ]


@pytest.mark.parametrize("status", [401, 429])
def test_calibrate_auth_or_rate_limit_failure_writes_nothing(
    stub: Stub, store_copy: Path, status: int, monkeypatch: pytest.MonkeyPatch, capsys, no_key: None
) -> None:
    stub.script = [(status, {"Retry-After": "0"}, {"error": {"message": "no"}})]
    rc = main(calibrate_argv(store_copy, stub.url, "--yes"))
    err = capsys.readouterr().err
    assert rc != 0
    assert ("authentication failed" if status == 401 else "HTTP 429") in err
    assert "Traceback" not in err
    assert count_rows(store_copy) == (0, 0)


def test_calibrate_server_down_writes_nothing(store_copy: Path, capsys, no_key: None) -> None:
    rc = main(calibrate_argv(store_copy, f"http://127.0.0.1:{free_port()}/v1", "--yes"))
    assert rc != 0
    assert "cannot reach 127.0.0.1" in capsys.readouterr().err
    assert count_rows(store_copy) == (0, 0)


def test_calibrate_resumes_after_a_failure_midway(
    stub: Stub, store_copy: Path, capsys, no_key: None
) -> None:
    # Batch 1 (8 items) is stored, then the key is revoked: batch 2 fails and writes nothing.
    stub.script = [OK] * 8 + [(401, {}, {})]
    argv = calibrate_argv(
        store_copy, stub.url, "--yes", "--batch-size", "8", "--max-concurrency", "1"
    )
    assert main(argv) != 0
    assert count_rows(store_copy) == (8, 0)
    stub.script, stub.requests = [OK], []
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert "16 texts" in captured.err and "8 already labelled" in captured.err
    assert len(stub.requests) == 16 and out["labels_written"] == 16
    assert count_rows(store_copy) == (24, 1)


def test_calibrate_without_yes_on_a_pipe_sends_nothing(
    stub: Stub, store_copy: Path, no_key: None
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vdbench.cli", *calibrate_argv(store_copy, stub.url)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "24 texts" in proc.stderr and "127.0.0.1" in proc.stderr
    assert "without confirmation" in proc.stderr and "--yes" in proc.stderr
    assert stub.requests == [] and count_rows(store_copy) == (0, 0)


# ---------------------------------------------------------------- a real llama.cpp server


@pytest.fixture(scope="module")
def llama_server(tiny_gguf_path: Path) -> Iterator[str]:
    """`python -m llama_cpp.server` on the tiny GGUF, on a free 127.0.0.1 port; stopped by PID."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] not installed")
    port = free_port()
    log = open(tiny_gguf_path.parent / f"llama-server-{port}.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(tiny_gguf_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            "1",
            "--n_ctx",
            "2048",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OPENAI_API_KEY": ""},
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(
                    f"llama_cpp.server exited with {proc.returncode}:\n{log.read()[-2000:]}"
                )
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer /v1/models within 90 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def letter_manifest(tiny_gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the openai-gpt4o manifest whose requests nudge the random model to letters.

    A random-weight model never ranks A/B/C in its top 20 on its own. llama.cpp applies
    `logit_bias` when choosing the token but reports the unbiased logprobs (and always lists
    the chosen token), so the letter path of the parser runs on real server output.
    """
    llama_cpp = pytest.importorskip("llama_cpp")
    vocab = llama_cpp.Llama(str(tiny_gguf_path), vocab_only=True, verbose=False)
    ids = {letter: vocab.tokenize(letter.encode(), add_bos=False)[-1] for letter in "ABC"}
    manifest = json.loads((judge_models_dir() / "openai-gpt4o" / "manifest.json").read_text())
    manifest["template"] = str(judge_models_dir() / "openai-gpt4o" / "template.txt")
    manifest["options"]["extra_body"] = {"logit_bias": {str(i): 50 for i in ids.values()}}
    folder = tmp_path_factory.mktemp("letter-judge")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.gguf
def test_real_server_gives_valid_probabilities(llama_server: str, no_key: None) -> None:
    judge = load_judge("openai-gpt4o", model="tiny", base_url=llama_server, max_concurrency=2)
    body, _ = judge.request_body(ITEM)
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    items = [ITEM, JudgeItem(ITEM.topic, ITEM.proposition, "Why?", "Both sides have points.")]
    scores = judge.score(items)
    for score in scores:
        p = [score.p_support, score.p_neutral, score.p_oppose]
        assert all(0 <= x <= 1 for x in p) and sum(p) == pytest.approx(1)
    # The server returns top_logprobs because the request asks for them, and only then.
    asked = httpx.post(f"{llama_server}/chat/completions", json=body, timeout=60).json()
    assert asked["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    plain = {**body, "logprobs": False, "top_logprobs": None}
    unasked = httpx.post(f"{llama_server}/chat/completions", json=plain, timeout=60).json()
    assert unasked["choices"][0].get("logprobs") is None


@pytest.mark.gguf
def test_calibrate_end_to_end_against_llama_server(
    llama_server: str, letter_manifest: Path, store_copy: Path, capsys, no_key: None
) -> None:
    argv = [
        "calibrate",
        "--db",
        str(store_copy),
        "--run",
        "sft",
        "--base-url",
        llama_server,
        "--model",
        "tiny",
        "--reference-judge",
        str(letter_manifest),
        "--n",
        "30",
        "--yes",
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    host = llama_server.split("//")[1].split("/")[0]
    assert out["reference"] == f"openai:tiny@{host}" and out["labels_written"] == 30
    assert out["report"]["n_used"] == 30 and out["params"]["T"] > 0
    with Store(store_copy).read() as con:
        rows = con.execute(
            "SELECT source, label, p_support + p_neutral + p_oppose FROM reference_labels"
        ).fetchall()
        assert con.execute("SELECT judge_id, method FROM calibrations").fetchall() == [
            ("example:synthetic", "temperature")
        ]
    assert len(rows) == 30 and {r[0] for r in rows} == {out["reference"]}
    assert all(r[1] in ("support", "neutral", "oppose") and r[2] == pytest.approx(1) for r in rows)
    # Re-running sends nothing: every label is already stored.
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["labels_written"] == 0


@pytest.mark.gguf
def test_calibrate_against_llama_server_without_yes_on_a_pipe(
    llama_server: str, store_copy: Path, no_key: None
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vdbench.cli",
            "calibrate",
            "--db",
            str(store_copy),
            "--run",
            "sft",
            "--base-url",
            llama_server,
            "--model",
            "tiny",
            "--n",
            "30",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode != 0 and "re-run with --yes" in proc.stderr
    assert count_rows(store_copy) == (0, 0)


@pytest.mark.parametrize(("answer", "sent"), [("n", 0), ("y", 24)])
def test_calibrate_asks_on_a_terminal(
    stub: Stub, store_copy: Path, no_key: None, answer: str, sent: int
) -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        os.write(leader, f"{answer}\n".encode())
        proc = subprocess.run(
            [sys.executable, "-m", "vdbench.cli", *calibrate_argv(store_copy, stub.url)],
            stdin=follower,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert "send 24 texts to 127.0.0.1" in proc.stderr
    assert (proc.returncode == 0) == (answer == "y"), proc.stderr
    assert len(stub.requests) == sent and count_rows(store_copy)[0] == sent


def test_replies_without_a_letter_are_stored_as_none_and_not_resent(
    stub: Stub, store_copy: Path, capsys, no_key: None
) -> None:
    stub.script = [(200, {}, reply([("Well", -0.1), ("I", -2.5)]))]
    assert main(calibrate_argv(store_copy, stub.url, "--yes")) != 0
    assert "only 0 usable reference labels (of 24)" in capsys.readouterr().err
    with Store(store_copy).read() as con:
        labels = con.execute("SELECT DISTINCT label, p_support FROM reference_labels").fetchall()
    assert labels == [("none", None)] and count_rows(store_copy) == (24, 0)
    stub.requests = []
    assert main(calibrate_argv(store_copy, stub.url, "--yes")) != 0
    assert stub.requests == []
