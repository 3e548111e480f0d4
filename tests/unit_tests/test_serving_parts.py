"""Serving parts without a model: the resilient transport, the response cache key, Host and CORS."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.testclient import TestClient

from server.runtime.response_cache import CachedAnswer, ResponseCache, is_deterministic
from server.security import HostCheckMiddleware, origin_regex
from terraqore.client import resilience
from terraqore.client.resilience import (
    AsyncResilientTransport,
    CircuitBreaker,
    NoEndpointReachable,
    ResilientTransport,
)
from terraqore.client.settings import Settings

# -- circuit breaker -----------------------------------------------------------------------


def test_breaker_opens_after_threshold_failures_and_half_opens_after_reset():
    breaker = CircuitBreaker(threshold=3, reset=0.05)
    for _ in range(2):
        breaker.record(False)
    assert breaker.state == "closed" and breaker.allow()
    breaker.record(False)
    assert breaker.state == "open" and not breaker.allow()
    time.sleep(0.06)
    assert breaker.state == "half-open" and breaker.allow()


def test_a_failed_trial_call_reopens_and_a_success_closes():
    breaker = CircuitBreaker(threshold=2, reset=0.05)
    breaker.record(False)
    breaker.record(False)
    time.sleep(0.06)
    breaker.record(False)  # the trial call failed: open again, for a new reset period
    assert breaker.state == "open"
    time.sleep(0.06)
    breaker.record(True)
    assert breaker.state == "closed" and breaker.failures == 0


def test_a_success_resets_the_failure_count():
    breaker = CircuitBreaker(threshold=3, reset=60)
    breaker.record(False)
    breaker.record(False)
    breaker.record(True)
    breaker.record(False)
    breaker.record(False)
    assert breaker.state == "closed"


# -- the transport: tenacity's retries, then the next endpoint ----------------------------

PRIMARY, FALLBACK = "127.0.0.1:9", "127.0.0.1:10"


@pytest.fixture()
def scripted(monkeypatch, tmp_path):
    """Transports whose sends follow a script per host: a status, or an exception to raise."""
    resilience._breakers.clear()
    restarts: list[str] = []
    monkeypatch.setattr(resilience, "ensure_server", lambda s: restarts.append(s.base_url))
    sent: list[str] = []

    def build(script: dict[str, list], asynchronous: bool = False, **settings):
        def answer(request: httpx.Request) -> httpx.Response:
            host = f"{request.url.host}:{request.url.port}"
            sent.append(host)
            step = script[host].pop(0)
            if isinstance(step, Exception):
                raise step
            return httpx.Response(step, json={"models": []})

        config = Settings(home=tmp_path / "home", ollama_host=PRIMARY, **settings)
        kind = AsyncResilientTransport if asynchronous else ResilientTransport
        transport = kind(config)
        transport.inner = httpx.MockTransport(answer)
        return transport

    yield build, sent, restarts
    resilience._breakers.clear()


def test_503_is_retried_and_the_built_in_server_checked_before_each_retry(scripted):
    build, sent, restarts = scripted
    with httpx.Client(transport=build({PRIMARY: [503, 503, 200]})) as client:
        assert client.get(f"http://{PRIMARY}/api/tags").status_code == 200
    assert sent == [PRIMARY] * 3 and restarts == [f"http://{PRIMARY}"] * 2


def test_the_async_transport_retries_the_same_way(scripted):
    build, sent, restarts = scripted

    async def go() -> int:
        transport = build({PRIMARY: [503, 200]}, asynchronous=True)
        async with httpx.AsyncClient(transport=transport) as client:
            return (await client.get(f"http://{PRIMARY}/api/tags")).status_code

    assert asyncio.run(go()) == 200 and sent == [PRIMARY] * 2 and len(restarts) == 1


def test_a_dead_primary_gives_way_to_the_fallback_after_its_attempts(scripted):
    build, sent, _ = scripted
    refused = [httpx.ConnectError("refused")] * 2
    transport = build(
        {PRIMARY: refused, FALLBACK: [200]}, fallback_url=f"http://{FALLBACK}", retry_attempts=2
    )
    with httpx.Client(transport=transport) as client:
        assert client.get(f"http://{PRIMARY}/api/tags").status_code == 200
    assert sent == [PRIMARY, PRIMARY, FALLBACK]
    assert resilience._breakers[f"http://{PRIMARY}"].failures == 1


def test_a_timeout_is_not_replayed_and_nothing_reachable_names_what_was_tried(scripted):
    build, sent, _ = scripted
    transport = build({PRIMARY: [httpx.ReadTimeout("slow")]}, retry_attempts=3)
    with httpx.Client(transport=transport) as client, pytest.raises(NoEndpointReachable) as info:
        client.get(f"http://{PRIMARY}/api/tags")
    assert sent == [PRIMARY] and f"http://{PRIMARY} (ReadTimeout: slow)" in str(info.value)


# -- response cache ------------------------------------------------------------------------


def _request(**changes):
    base = {
        "messages": [{"role": "user", "content": "hi"}],
        "prompt": None,
        "options": {"temperature": 0, "num_ctx": 2048},
        "format": None,
    }
    return {**base, **changes}


def test_cache_key_is_stable_and_ignores_key_order():
    a = ResponseCache.fingerprint("sha256:aa", _request())
    b = ResponseCache.fingerprint("sha256:aa", dict(reversed(list(_request().items()))))
    assert a == b


@pytest.mark.parametrize(
    "changes",
    [
        {"messages": [{"role": "user", "content": "hello"}]},
        {"options": {"temperature": 0, "num_ctx": 4096}},
        {"format": "json"},
        {"prompt": "x"},
    ],
)
def test_cache_key_changes_with_anything_that_decides_the_answer(changes):
    assert ResponseCache.fingerprint("sha256:aa", _request()) != ResponseCache.fingerprint(
        "sha256:aa", _request(**changes)
    )


def test_cache_key_changes_with_the_model_digest():
    assert ResponseCache.fingerprint("sha256:aa", _request()) != ResponseCache.fingerprint(
        "sha256:bb", _request()
    )


def test_only_deterministic_requests_are_cacheable():
    assert is_deterministic({"temperature": 0})
    assert is_deterministic({"temperature": 0.8, "seed": 42})
    assert not is_deterministic({"temperature": 0.8})
    assert not is_deterministic({"temperature": 0.8, "seed": -1})


def test_cached_answers_expire(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite", ttl=0.05)
    cache.put("k", CachedAnswer(["a"], "a", [], "stop", {}))
    assert cache.get("k") is not None and cache.get("other") is None
    time.sleep(0.06)
    assert cache.get("k") is None


# -- Host check and CORS -------------------------------------------------------------------


def _app(bind_host: str, extra_origins: str = "") -> TestClient:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(CORSMiddleware, allow_origin_regex=origin_regex(extra_origins))
    app.add_middleware(HostCheckMiddleware, bind_host=bind_host)
    return TestClient(app)


@pytest.mark.parametrize("host", ["localhost:11434", "127.0.0.1:11434", "[::1]:11434", "127.0.0.5"])
def test_loopback_server_accepts_loopback_host_headers(host):
    assert _app("127.0.0.1").get("/ping", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example:11434", "attacker.test", "10.0.0.5:11434"])
def test_loopback_server_refuses_other_host_headers_against_dns_rebinding(host):
    response = _app("127.0.0.1").get("/ping", headers={"host": host})
    assert response.status_code == 403 and "not allowed" in response.json()["error"]


def test_a_non_loopback_bind_does_not_check_the_host():
    assert _app("0.0.0.0").get("/ping", headers={"host": "server.lan"}).status_code == 200


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:3000", "http://127.0.0.1", "app://obsidian.md", "vscode-webview://abc"],
)
def test_local_origins_are_allowed(origin):
    response = _app("127.0.0.1").get("/ping", headers={"origin": origin, "host": "localhost"})
    assert response.headers.get("access-control-allow-origin") == origin


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example"])
def test_other_origins_get_no_cors_grant(origin):
    response = _app("127.0.0.1").get("/ping", headers={"origin": origin, "host": "localhost"})
    assert "access-control-allow-origin" not in response.headers


def test_extra_origins_with_wildcards_are_allowed():
    client = _app("127.0.0.1", "https://*.corp.example")
    ok = client.get("/ping", headers={"origin": "https://app.corp.example", "host": "localhost"})
    assert ok.headers.get("access-control-allow-origin") == "https://app.corp.example"
    no = client.get("/ping", headers={"origin": "https://corp.example.evil", "host": "localhost"})
    assert "access-control-allow-origin" not in no.headers
