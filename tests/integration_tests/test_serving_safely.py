"""Serving safely: auth, Host and CORS checks, limits, queue, metrics, health, audit, cache."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import ollama
import pytest
from langchain_ollama import ChatOllama
from prometheus_client.parser import text_string_to_metric_families

from tests.server_harness import EMBED, TINY, RunningServer, free_port, start_server

KEY = "sk-test-key-0123456789abcdef"
OTHER = "second-key-9876543210"
BEARER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(
        tmp_path_factory.mktemp("secure"),
        {
            "TERRAQORE_API_KEYS": f"ci:{KEY},{OTHER}",
            "TERRAQORE_AUDIT_PROMPTS": "1",
            "TERRAQORE_CACHE": "1",
            "TERRAQORE_MAX_BODY_BYTES": "65536",
        },
    )
    yield srv
    srv.stop()


# Every route, with a body that is valid enough to get past validation.
ROUTES = [
    ("GET", "/api/version", None),
    ("GET", "/api/tags", None),
    ("GET", "/api/ps", None),
    ("POST", "/api/show", {"model": TINY}),
    ("POST", "/api/generate", {"model": TINY, "prompt": "", "stream": False}),
    ("POST", "/api/chat", {"model": TINY, "messages": [], "stream": False}),
    ("POST", "/api/embed", {"model": EMBED, "input": "x"}),
    ("POST", "/api/embeddings", {"model": EMBED, "prompt": "x"}),
    ("POST", "/api/create", {"model": "auth/x", "from": TINY, "stream": False}),
    ("POST", "/api/copy", {"source": TINY, "destination": "auth/y"}),
    ("DELETE", "/api/delete", {"model": "auth/y"}),
    ("POST", "/api/pull", {"model": TINY, "stream": False}),
    ("POST", "/api/push", {"model": TINY}),
    ("HEAD", f"/api/blobs/sha256:{'0' * 64}", None),
    (
        "POST",
        "/v1/chat/completions",
        {"model": TINY, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1},
    ),
    ("POST", "/v1/completions", {"model": TINY, "prompt": "hi", "max_tokens": 1}),
    ("POST", "/v1/embeddings", {"model": EMBED, "input": "x"}),
    ("GET", "/v1/models", None),
    ("GET", f"/v1/models/{TINY}", None),
    ("GET", "/metrics", None),
]
OPEN = [
    ("GET", "/", None),
    ("HEAD", "/", None),
    ("GET", "/healthz", None),
    ("GET", "/readyz", None),
]


def call(
    srv: RunningServer, method: str, path: str, body: object, headers: dict | None = None
) -> httpx.Response:
    return httpx.request(method, f"{srv.url}{path}", json=body, headers=headers, timeout=120)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_auth_matrix(secure: RunningServer, method: str, path: str, body: object) -> None:
    missing = call(secure, method, path, body)
    assert missing.status_code == 401
    assert (
        "Bearer" in missing.headers["www-authenticate"]
        and "Basic" in missing.headers["www-authenticate"]
    )
    assert call(secure, method, path, body, {"Authorization": "Bearer wrong"}).status_code == 401
    assert (
        call(secure, method, path, body, {"Authorization": f"Bearer {KEY[:-1]}"}).status_code == 401
    )
    ok = call(secure, method, path, body, BEARER)
    assert (ok.status_code != 401 and ok.status_code < 500) or path == "/api/push"
    basic = "Basic " + base64.b64encode(f"user:{OTHER}".encode()).decode()
    assert call(secure, method, path, body, {"Authorization": basic}).status_code != 401


@pytest.mark.parametrize(("method", "path", "body"), OPEN)
def test_probes_stay_open(secure: RunningServer, method: str, path: str, body: object) -> None:
    assert call(secure, method, path, body).status_code == 200


def test_clients_with_keys(secure: RunningServer) -> None:
    client = ollama.Client(host=secure.url, headers=BEARER)
    assert TINY in {m.model for m in client.list().models}
    host = secure.url.replace("http://", f"http://user:{KEY}@")  # ChatOllama's Basic form
    llm = ChatOllama(model=TINY, base_url=host, num_predict=3, num_ctx=1024)
    assert llm.invoke("hi").content is not None


def test_host_check_and_cors(secure: RunningServer) -> None:
    assert (
        call(secure, "GET", "/api/tags", None, {**BEARER, "Host": "evil.example:80"}).status_code
        == 403
    )
    assert (
        call(secure, "GET", "/api/tags", None, {**BEARER, "Host": "localhost:1"}).status_code == 200
    )
    pre = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    r = httpx.options(f"{secure.url}/api/chat", headers=pre)
    assert r.headers.get("access-control-allow-origin") == "http://localhost:3000"
    r = httpx.options(f"{secure.url}/api/chat", headers={**pre, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_body_limit(secure: RunningServer) -> None:
    big = {"model": TINY, "prompt": "x" * 70000}
    r = call(secure, "POST", "/api/generate", big, BEARER)
    assert r.status_code == 413 and "larger than" in r.json()["error"]

    def chunks() -> Iterator[bytes]:
        yield b'{"model": "smollm2:135m", "prompt": "'
        for _ in range(20):
            yield b"y" * 5000
        yield b'"}'

    r = httpx.post(f"{secure.url}/api/generate", content=chunks(), headers=BEARER)
    assert r.status_code == 413
    assert secure.alive()


def test_metrics_parse_and_count(secure: RunningServer) -> None:
    call(
        secure,
        "POST",
        "/api/generate",
        {"model": TINY, "prompt": "hi", "stream": False, "options": {"num_predict": 3}},
        BEARER,
    )
    text = call(secure, "GET", "/metrics", None, BEARER).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "terraqore_requests",
        "terraqore_requests_in_flight",
        "terraqore_queue_depth",
        "terraqore_loaded_models",
        "terraqore_prompt_tokens",
        "terraqore_eval_tokens",
        "terraqore_time_to_first_token_seconds",
        "terraqore_tokens_per_second",
        "terraqore_model_load_seconds",
        "terraqore_cache_hits",
    ):
        assert name in families, name
    served = [
        s
        for s in families["terraqore_requests"].samples
        if s.labels.get("route") == "/api/generate" and s.labels.get("status") == "200"
    ]
    assert served and served[0].value >= 1
    assert any(s.value >= 1 for s in families["terraqore_loaded_models"].samples)


def test_cache_returns_identical_answer_without_inference(secure: RunningServer) -> None:
    body = {
        "model": TINY,
        "prompt": "List three fruits.",
        "stream": False,
        "options": {"temperature": 0, "num_predict": 20},
    }

    def eval_tokens() -> float:
        text = call(secure, "GET", "/metrics", None, BEARER).text
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            if f.name == "terraqore_eval_tokens"
            for s in f.samples
            if s.name.endswith("_total")
        )

    first = call(secure, "POST", "/api/generate", body, BEARER).json()
    before = eval_tokens()
    second = call(secure, "POST", "/api/generate", body, BEARER).json()
    assert second["response"] == first["response"] and second["eval_count"] == first["eval_count"]
    assert eval_tokens() == before  # no inference ran
    assert second["total_duration"] < first["total_duration"] / 5
    streamed = [
        json.loads(line)
        for line in httpx.post(
            f"{secure.url}/api/generate", json={**body, "stream": True}, headers=BEARER
        ).text.splitlines()
    ]
    assert "".join(c["response"] for c in streamed) == first["response"] and streamed[-1]["done"]
    sampled = {**body, "options": {"temperature": 0.9, "num_predict": 5}}
    call(secure, "POST", "/api/generate", sampled, BEARER)
    assert eval_tokens() > before  # a non-deterministic request is never cached


def test_audit_log_has_no_keys_or_secrets(secure: RunningServer) -> None:
    secrets = ["hunter2hunter2", "sk-live-ABCDEFGHIJKLMNOP1234", "ghp_abcdefghijklmnopqrstuvwx"]
    prompt = f"my password: {secrets[0]} and token={secrets[1]} and {secrets[2]}"
    call(
        secure,
        "POST",
        "/api/chat",
        {
            "model": TINY,
            "stream": False,
            "options": {"num_predict": 2},
            "messages": [{"role": "user", "content": prompt}],
        },
        BEARER,
    )
    call(
        secure,
        "POST",
        "/api/generate",
        {"model": TINY, "prompt": f"Bearer {KEY}", "stream": False, "options": {"num_predict": 2}},
        BEARER,
    )
    call(secure, "GET", "/api/tags", None, {"Authorization": f"Bearer {KEY}x"})  # a wrong key
    log = (secure.home / "logs" / "audit.jsonl").read_text()
    for secret in [KEY, OTHER, *secrets]:
        assert secret not in log
    entries = [json.loads(line) for line in log.splitlines()]
    chat = [e for e in entries if e.get("route") == "/api/chat" and e.get("prompt")][-1]
    assert "[REDACTED]" in chat["prompt"] and chat["key_id"] == "ci"
    assert {"time", "key_id", "route", "status", "duration_ms", "client", "model"} <= chat.keys()
    assert chat["prompt_tokens"] > 0 and chat["eval_tokens"] > 0
    assert any(e.get("status") == 401 and e["key_id"] == "" for e in entries)


def test_audit_rotates_by_size(tmp_path: Path) -> None:
    srv = start_server(
        tmp_path / "home", {"TERRAQORE_AUDIT_MAX_BYTES": "1500", "TERRAQORE_AUDIT_BACKUPS": "2"}
    )
    try:
        for _ in range(40):
            httpx.get(f"{srv.url}/api/version")
    finally:
        srv.stop()
    logs = sorted(p.name for p in (tmp_path / "home" / "logs").glob("audit.jsonl*"))
    assert logs == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert (tmp_path / "home" / "logs" / "audit.jsonl").stat().st_size <= 1500


def test_readyz_reports_missing_default_models(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home", {"TERRAQORE_READY_MODELS": f"{TINY},ghost:1b"})
    try:
        r = httpx.get(f"{srv.url}/readyz")
        assert r.status_code == 503 and "ghost:1b" in r.json()["problems"][0]
        assert httpx.get(f"{srv.url}/healthz").json() == {"status": "ok"}
    finally:
        srv.stop()


def test_rate_limit_per_key(tmp_path: Path) -> None:
    srv = start_server(
        tmp_path / "home",
        {
            "TERRAQORE_API_KEYS": f"a:{KEY},b:{OTHER}",
            "TERRAQORE_RATE_LIMIT_PER_MINUTE": "30",
            "TERRAQORE_RATE_BURST": "3",
        },
    )
    try:
        codes = [call(srv, "GET", "/api/tags", None, BEARER).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        limited = call(srv, "GET", "/api/tags", None, BEARER)
        assert int(limited.headers["retry-after"]) >= 1
        # Another key has its own bucket.
        assert (
            call(srv, "GET", "/api/tags", None, {"Authorization": f"Bearer {OTHER}"}).status_code
            == 200
        )
    finally:
        srv.stop()


def test_sixteen_concurrent_against_a_queue_of_four(tmp_path: Path) -> None:
    # Four sequences and a queue of four: at most eight of sixteen are taken at once.
    env = {"TERRAQORE_MAX_QUEUE": "4", "TERRAQORE_NUM_PARALLEL": "4"}
    srv = start_server(tmp_path / "home", env)
    try:
        httpx.post(
            f"{srv.url}/api/generate", json={"model": TINY, "prompt": ""}, timeout=60
        )  # load
        barrier = threading.Barrier(16)

        def one(i: int) -> tuple[int, float, str]:
            barrier.wait()
            start = time.monotonic()
            r = httpx.post(
                f"{srv.url}/api/generate",
                timeout=120,
                json={
                    "model": TINY,
                    "prompt": f"Count from {i}.",
                    "stream": False,
                    "options": {"num_predict": 48, "temperature": 0},
                },
            )
            return r.status_code, time.monotonic() - start, r.headers.get("retry-after", "")

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(16)))
        ok = [r for r in results if r[0] == 200]
        refused = [r for r in results if r[0] == 503]
        assert len(ok) + len(refused) == 16  # every request answered, none hung
        assert len(ok) >= 5 and len(refused) >= 8
        assert all(r[1] < 2.0 and r[2] for r in refused)  # refused at once, with Retry-After
    finally:
        srv.stop()


def test_request_timeout_stops_long_generation(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home", {"TERRAQORE_REQUEST_TIMEOUT": "2"})
    try:
        start = time.monotonic()
        r = httpx.post(
            f"{srv.url}/api/generate",
            timeout=60,
            json={
                "model": TINY,
                "prompt": "Write a long story.",
                "stream": False,
                # The grammar forbids stopping before ~500 tokens (about 4 s here), so the answer
                # cannot end on its own before the 2 s timeout.
                "format": {"type": "string", "minLength": 2000},
                "options": {"num_predict": 5000},
            },
        )
        assert r.status_code == 504 and "timeout" in r.json()["error"]
        assert time.monotonic() - start < 10
        assert (
            httpx.post(
                f"{srv.url}/api/generate",
                timeout=60,
                json={
                    "model": TINY,
                    "prompt": "hi",
                    "stream": False,
                    "options": {"num_predict": 2},
                },
            ).status_code
            == 200
        )
    finally:
        srv.stop()


def test_refuses_non_loopback_bind_without_keys(tmp_path: Path) -> None:
    env = {"TERRAQORE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "terraqore.app.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert (
        proc.returncode != 0
        and "not a loopback address" in proc.stderr
        and "TERRAQORE_API_KEYS" in proc.stderr
    )


def _overlap(url: str) -> bool:
    """Whether a second streamed request starts answering before the first one ends."""
    marks: dict[str, float] = {}

    def run(tag: str, delay: float) -> None:
        time.sleep(delay)
        body = {
            "model": TINY,
            "prompt": f"Write a long story ({tag}).",
            "options": {"num_predict": 120},
        }
        with httpx.stream("POST", f"{url}/api/generate", json=body, timeout=120) as r:
            for line in r.iter_lines():
                marks.setdefault(f"{tag}-first", time.monotonic())
                if json.loads(line).get("done"):
                    marks[f"{tag}-end"] = time.monotonic()

    a = threading.Thread(target=run, args=("a", 0.0))
    b = threading.Thread(target=run, args=("b", 0.3))
    a.start(), b.start()
    a.join(), b.join()
    return marks["b-first"] < marks["a-end"]


@pytest.mark.parametrize(("parallel", "overlaps"), [("1", False), ("2", True)])
def test_num_parallel(tmp_path: Path, parallel: str, overlaps: bool) -> None:
    srv = start_server(tmp_path / "home", {"TERRAQORE_NUM_PARALLEL": parallel})
    try:
        httpx.post(f"{srv.url}/api/generate", json={"model": TINY, "prompt": ""}, timeout=60)
        assert _overlap(srv.url) is overlaps
    finally:
        srv.stop()


def test_embedding_many_long_inputs_with_a_chat_model_stays_bounded(tmp_path: Path) -> None:
    # A chat model has no pooling: llama.cpp gives one row per token, which llama-cpp-python
    # returns as Python lists. Held for every input of a request at once, 8 inputs of 512
    # tokens took about 80 MiB more; a few hundred, gigabytes.
    srv = start_server(tmp_path / "home")
    try:
        long = "word " * 600  # more than the 512 tokens an input is cut to
        warm = httpx.post(f"{srv.url}/api/embed", json={"model": TINY, "input": long}, timeout=120)
        assert warm.status_code == 200
        before = srv.peak_rss_mb()
        r = httpx.post(
            f"{srv.url}/api/embed", json={"model": TINY, "input": [long] * 8}, timeout=300
        )
        assert r.status_code == 200
        vectors = r.json()["embeddings"]
        assert len(vectors) == 8 and vectors[0] == warm.json()["embeddings"][0]
        assert srv.peak_rss_mb() - before < 40
        too_many = httpx.post(
            f"{srv.url}/api/embed", json={"model": TINY, "input": ["a"] * 2049}, timeout=60
        )
        assert too_many.status_code == 400 and "at most 2048" in too_many.json()["error"]
    finally:
        srv.stop()
