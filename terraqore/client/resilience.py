"""A client transport that survives failure: retries, circuit breakers, restart, fallback.

Every model the factory builds talks through it:
- connection errors and 503 are retried with exponential backoff and jitter (tenacity);
- each endpoint has a circuit breaker; while the primary's is open, calls go to the
  fallback endpoint if one is configured;
- if the built-in server died (a kill -9, say), it is restarted and the call replayed;
- when nothing answers, the error names what was tried and ends with the server's log tail.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from terraqore.client.openai_bridge import afrom_openai, from_openai, to_openai
from terraqore.client.server_process import ensure_server, log_tail
from terraqore.client.settings import Settings


class Unavailable(httpx.TransportError):
    """The endpoint answered 503 (its queue is full, or it is not ready)."""


class NoEndpointReachable(httpx.TransportError):
    """Every endpoint failed; the message lists them and the server's log tail."""


@dataclass
class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets a trial call through after `reset`."""

    threshold: int
    reset: float
    failures: int = 0
    opened_at: float | None = None

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open`."""
        if self.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self.opened_at >= self.reset else "open"

    def allow(self) -> bool:
        """Whether a call may go to this endpoint now."""
        return self.state != "open"

    def record(self, ok: bool) -> None:
        """Count a call's outcome."""
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold or self.state == "half-open":
            self.opened_at = time.monotonic()


_breakers: dict[str, CircuitBreaker] = {}


def breaker_for(base_url: str, settings: Settings) -> CircuitBreaker:
    """The process-wide breaker of an endpoint."""
    return _breakers.setdefault(
        base_url, CircuitBreaker(settings.breaker_threshold, settings.breaker_reset)
    )


@dataclass(frozen=True)
class Endpoint:
    """A model server a transport may send to."""

    url: str
    api: Literal["ollama", "openai"] = "ollama"
    api_key: str = ""
    model: str = ""
    """The model name to ask this endpoint for; empty keeps the caller's."""


def default_endpoints(settings: Settings) -> list[Endpoint]:
    """The configured server, then each fallback URL (`TERRAQORE_FALLBACK_URL`) in order."""
    out = [Endpoint(settings.base_url, "ollama", settings.api_key)]
    for raw in settings.fallback_url.split(","):
        url = raw.strip().rstrip("/")
        if not url:
            continue
        api = settings.fallback_api
        if api == "auto":
            api = "openai" if url.endswith("/v1") else "ollama"
        out.append(Endpoint(url, api, settings.fallback_api_key, settings.fallback_model))
    return out


class _Policy:
    """What the sync and async transports share."""

    RETRYABLE = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.RemoteProtocolError,
        httpx.ReadError,
        httpx.WriteError,
        Unavailable,
    )
    # The transport returns once the response's head has arrived, so each of these broke off
    # before any answer: a refused connection, or a kept-alive one whose server died (a kill -9
    # leaves pooled connections that reset when reused: ReadError, or WriteError on a broken
    # pipe). A timeout is not among them: a slow answer is not replayed. Untranslatable (a
    # TransportError) is not retryable either: the next endpoint is tried instead.

    def __init__(self, settings: Settings, endpoints: list[Endpoint] | None = None) -> None:
        self.settings = settings
        self.endpoints = {e.url: e for e in endpoints or default_endpoints(settings)}
        self.targets = list(self.endpoints)

    def prepare(self, request: httpx.Request, base: str) -> tuple[httpx.Request, str, bool]:
        """The request to send to `base`: (request, OpenAI kind or "", streamed)."""
        endpoint = self.endpoints[base]
        if endpoint.api != "openai":
            return self.rewrite(request, endpoint), "", False
        translated, kind, stream = to_openai(request, base, endpoint.model or None)
        if endpoint.api_key:
            translated.headers["authorization"] = f"Bearer {endpoint.api_key}"
        return translated, kind, stream

    @staticmethod
    def model_of(request: httpx.Request) -> str:
        """The model a request names (answers from the fallback keep the caller's name)."""
        try:
            return str(json.loads(request.content or b"{}").get("model", ""))
        except ValueError:
            return ""

    @staticmethod
    def rewrite(request: httpx.Request, endpoint: Endpoint) -> httpx.Request:
        """The request addressed to an Ollama-compatible endpoint, with its key if it has one."""
        url = httpx.URL(endpoint.url)
        headers = dict(request.headers)
        headers["host"] = url.netloc.decode()
        if endpoint.api_key and "authorization" not in {k.lower() for k in headers}:
            headers["authorization"] = f"Bearer {endpoint.api_key}"
        content = request.content
        if endpoint.model:
            content = _renamed(content, endpoint.model)
            headers["content-length"] = str(len(content))
        return httpx.Request(
            request.method,
            request.url.copy_with(scheme=url.scheme, host=url.host, port=url.port),
            headers=headers,
            content=content,
            extensions=request.extensions,
        )

    def retrying(self, base: str) -> Retrying:
        """Tenacity's retry loop for one endpoint (backoff, attempts, what is retryable)."""
        return Retrying(
            before=lambda state: self.supervise(base, state.attempt_number), **self._retry
        )

    def aretrying(self, base: str) -> AsyncRetrying:
        """The same loop for the async transport; the restart check runs off the event loop."""

        async def before(state: RetryCallState) -> None:
            await asyncio.to_thread(self.supervise, base, state.attempt_number)

        return AsyncRetrying(before=before, **self._retry)

    @property
    def _retry(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(max(1, self.settings.retry_attempts)),
            "wait": wait_random_exponential(multiplier=0.2, max=2.0),
            "retry": retry_if_exception_type(self.RETRYABLE),
            "reraise": True,
        }

    def supervise(self, base: str, attempt: int) -> None:
        """Before a retry on the built-in server's address: restart it if it is gone."""
        if base == self.settings.base_url and attempt > 1:
            ensure_server(self.settings)

    @staticmethod
    def unavailable(response: httpx.Response, base: str) -> Unavailable | None:
        """A retryable error for a 503 (the caller closes the response), else None."""
        return Unavailable(f"{base} answered 503") if response.status_code == 503 else None

    def targets_to_try(self, tried: list[str]) -> Iterator[str]:
        """The endpoints in order, skipping (and noting in `tried`) those whose circuit is open."""
        for base in self.targets:
            if breaker_for(base, self.settings).allow():
                yield base
            else:
                tried.append(f"{base} (circuit open)")

    @contextmanager
    def trying(self, base: str, tried: list[str]) -> Iterator[None]:
        """Count a call to `base` on its breaker.

        A transport failure is noted in `tried` and swallowed: the caller goes on to the next
        endpoint.
        """
        try:
            yield
        except (httpx.TransportError, OSError) as exc:
            breaker_for(base, self.settings).record(False)
            tried.append(f"{base} ({type(exc).__name__}: {exc})")
        else:
            breaker_for(base, self.settings).record(True)

    def give_up(self, tried: list[str], request: httpx.Request) -> NoEndpointReachable:
        tail = log_tail(self.settings.logs_dir / "server.log", lines=15)
        return NoEndpointReachable(
            "no model server reachable; tried " + "; ".join(tried) + f"\nserver log tail:\n{tail}",
            request=request,
        )


def _renamed(content: bytes, model: str) -> bytes:
    """A JSON request body asking for `model` instead of the caller's name."""
    try:
        body = json.loads(content or b"{}")
    except ValueError:
        return content
    if isinstance(body, dict) and "model" in body:
        body["model"] = model
        return json.dumps(body).encode()
    return content


class ResilientTransport(httpx.BaseTransport):
    """The synchronous transport (ChatOllama's `sync_client_kwargs`)."""

    def __init__(
        self, settings: Settings | None = None, endpoints: list[Endpoint] | None = None
    ) -> None:
        self.policy = _Policy(settings or Settings(), endpoints)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send with retries, breaker and fallback."""
        request.read()
        tried: list[str] = []
        for base in self.policy.targets_to_try(tried):
            with self.policy.trying(base, tried):
                return self.policy.retrying(base)(self._send, request, base)
        raise self.policy.give_up(tried, request)

    def _send(self, request: httpx.Request, base: str) -> httpx.Response:
        sent, kind, stream = self.policy.prepare(request, base)
        response = self.inner.handle_request(sent)
        if (error := self.policy.unavailable(response, base)) is not None:
            response.close()
            raise error
        if kind:
            return from_openai(response, kind, stream, self.policy.model_of(request))
        return response

    def close(self) -> None:
        """Close the underlying connections."""
        self.inner.close()


class AsyncResilientTransport(httpx.AsyncBaseTransport):
    """The asynchronous transport (ChatOllama's `async_client_kwargs`)."""

    def __init__(
        self, settings: Settings | None = None, endpoints: list[Endpoint] | None = None
    ) -> None:
        self.policy = _Policy(settings or Settings(), endpoints)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send with retries, breaker and fallback."""
        await request.aread()
        tried: list[str] = []
        for base in self.policy.targets_to_try(tried):
            with self.policy.trying(base, tried):
                return await self.policy.aretrying(base)(self._send, request, base)
        raise self.policy.give_up(tried, request)

    async def _send(self, request: httpx.Request, base: str) -> httpx.Response:
        outgoing, kind, stream = self.policy.prepare(request, base)
        sent = await self.inner.handle_async_request(outgoing)
        if (error := self.policy.unavailable(sent, base)) is not None:
            await sent.aclose()
            raise error
        if kind:
            return await afrom_openai(sent, kind, stream, self.policy.model_of(request))
        return sent

    async def aclose(self) -> None:
        """Close the underlying connections."""
        await self.inner.aclose()


def client_kwargs(settings: Settings, endpoints: list[Endpoint] | None = None) -> dict[str, Any]:
    """Keyword arguments that give a ChatOllama / OllamaEmbeddings the resilient transports.

    `endpoints` replaces the configured server and fallback (the router's routes use it).
    """
    return {
        "sync_client_kwargs": {"transport": ResilientTransport(settings, endpoints)},
        "async_client_kwargs": {"transport": AsyncResilientTransport(settings, endpoints)},
    }
