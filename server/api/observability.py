"""Prometheus metrics and the audit log.

`AuditMetricsMiddleware` times every request and, when its response has been sent in
full (streams included), counts it and writes one JSON audit line. Routes report the
model and token counts with `record_usage` (and, while a stream runs, `record_progress`, so
a stream the client aborts is still logged with its model and the tokens it got), and what
they created with `record_ids`; the ids the path names are in the line too.

Requests refused by a guard (401, 403, 413, 415, 429) are logged at most
`REJECTED_PER_MINUTE` a minute; the rest are counted in one summary line, so a flood of
them cannot rotate the entries that matter (who deleted what) out of the log.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.runtime.scheduler import SchedulerState

SECRET_PATTERNS = [
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)\b(api[_-]?key|access[_-]?key|secret|token|password|passwd|pwd)\b"
        r"(\s*[:=]\s*|\s+is\s+)[\"']?[^\s\"',;]{4,}"
    ),
    re.compile(r"\b(sk|pk|rk|ghp|gho|github_pat|xox[abprs]|AKIA)[A-Za-z0-9_-]{12,}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b"),  # JWT
]


REJECTED = {401, 403, 413, 415, 429}
REJECTED_PER_MINUTE = 60


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Replace secrets (keys, tokens, passwords, private keys) with `[REDACTED]`."""
    for secret in extra:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    for pattern in SECRET_PATTERNS:
        text = pattern.sub("[REDACTED]", text)
    return text


def _redact_values(value: Any, secrets: list[str]) -> Any:
    """Redact every string inside a JSON-able value (before encoding: escaping hides keys)."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact_values(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_values(v, secrets) for v in value]
    return value


class Metrics:
    """The server's Prometheus metrics, in a registry of their own."""

    def __init__(self, scheduler_state: Callable[[], SchedulerState]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "terraqore_requests", "HTTP requests", ["route", "status"], registry=r
        )
        self.in_flight = Gauge("terraqore_requests_in_flight", "Requests being served", registry=r)
        self.prompt_tokens = Counter(
            "terraqore_prompt_tokens", "Prompt tokens evaluated", ["model"], registry=r
        )
        self.eval_tokens = Counter(
            "terraqore_eval_tokens", "Tokens generated", ["model"], registry=r
        )
        self.ttft = Histogram(
            "terraqore_time_to_first_token_seconds",
            "Time to first token",
            ["model"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.tps = Histogram(
            "terraqore_tokens_per_second",
            "Decode speed",
            ["model"],
            buckets=(1, 5, 10, 20, 40, 80, 160, 320),
            registry=r,
        )
        self.load = Histogram(
            "terraqore_model_load_seconds",
            "Model load time",
            ["model"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.cache_hits = Counter(
            "terraqore_cache_hits", "Response cache hits", ["model"], registry=r
        )
        self.cache_misses = Counter(
            "terraqore_cache_misses", "Response cache misses", ["model"], registry=r
        )
        self.cached_prompt_tokens = Counter(
            "terraqore_cached_prompt_tokens",
            "Prompt tokens whose KV state was reused instead of evaluated",
            ["model"],
            registry=r,
        )
        self.draft_tokens = Counter(
            "terraqore_draft_tokens",
            "Generated tokens taken from accepted prompt-lookup drafts",
            ["model"],
            registry=r,
        )
        self.prefix_lookups = Counter(
            "terraqore_prefix_cache_lookups",
            "Prompts by where their prefix came from: restored (a saved KV state), live "
            "(still in the context), shared (copied from another request in the batch) or "
            "cold (evaluated from the start)",
            ["model", "result"],
            registry=r,
        )
        self.batch_preempted = Counter(
            "terraqore_batch_lines_preempted",
            "Batch lines stopped so that an interactive request went first (they run again)",
            registry=r,
        )
        r.register(_SchedulerCollector(scheduler_state))


class _SchedulerCollector:
    """The scheduler's own counts, read when `/metrics` is scraped."""

    def __init__(self, state: Callable[[], SchedulerState]) -> None:
        self.state = state

    def collect(self) -> Iterable[Metric]:
        """Queue depths, loaded names and runners, loads, refusals, prefix-cache size."""
        state = self.state()
        queue = GaugeMetricFamily(
            "terraqore_queue_depth", "Requests waiting per model", labels=["model"]
        )
        for name, depth in state.queue_depths:
            queue.add_metric([name], depth)
        rejected = CounterMetricFamily(
            "terraqore_rejected", "Requests refused with 503 (queue full)", labels=["model"]
        )
        for name, count in state.rejected.items():
            rejected.add_metric([name], count)
        yield queue
        yield rejected
        yield GaugeMetricFamily(
            "terraqore_loaded_models", "Model names loaded now", value=state.names
        )
        yield GaugeMetricFamily(
            "terraqore_loaded_runners",
            "Runners loaded now (names that share weights and options share one)",
            value=state.runners,
        )
        yield CounterMetricFamily("terraqore_model_loads", "Runners loaded", value=state.loads)
        yield GaugeMetricFamily(
            "terraqore_prefix_cache_bytes",
            "Saved KV states held by the prefix caches of loaded models",
            value=state.prefix_cache_bytes,
        )


def record_usage(
    request: Request,
    model: str,
    stats: Any = None,
    load_ns: int = 0,
    cached: bool = False,
    prompt: str | None = None,
) -> None:
    """Report a request's model and token counts (for metrics and the audit line)."""
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    audit = request.scope.setdefault("state", {}).setdefault("audit", {})
    audit["model"] = model
    if prompt is not None:
        audit["prompt"] = prompt
    if stats is not None:
        audit.pop("aborted", None)  # the stream reached its end
        audit["prompt_tokens"] = stats.prompt_eval_count
        audit["eval_tokens"] = stats.eval_count
        audit["cached"] = cached
        if metrics is not None and not cached:
            metrics.prompt_tokens.labels(model).inc(stats.prompt_eval_count)
            metrics.eval_tokens.labels(model).inc(stats.eval_count)
            metrics.cached_prompt_tokens.labels(model).inc(stats.cached_prompt_tokens)
            metrics.draft_tokens.labels(model).inc(stats.draft_tokens)
            if stats.prefix:
                metrics.prefix_lookups.labels(model, stats.prefix).inc()
            if stats.prompt_eval_duration_ns:
                metrics.ttft.labels(model).observe(stats.prompt_eval_duration_ns / 1e9)
            if stats.eval_count > 1 and stats.eval_duration_ns:
                metrics.tps.labels(model).observe(stats.eval_count / (stats.eval_duration_ns / 1e9))
    if metrics is not None and load_ns:
        metrics.load.labels(model).observe(load_ns / 1e9)


def record_ids(request: Request, **ids: str) -> None:
    """Name in the audit line what a request created (`file_id=...`, `batch_id=...`).

    The ids in a route's path (`/v1/files/{file_id}`) are named without this.
    """
    request.scope.setdefault("state", {}).setdefault("audit", {}).update(ids)


def record_progress(request: Request, model: str, pieces: int) -> None:
    """While a stream runs: its model and the pieces (about one token each) sent so far.

    Marked `aborted` until `record_usage` reports the end, so a stream the client drops is
    logged with what it cost. (Its prompt tokens are only known at the end.)
    """
    audit = request.scope.setdefault("state", {}).setdefault("audit", {})
    audit.update(model=model, eval_tokens=pieces, aborted=True)


class AuditLog:
    """One JSON line per request, rotated by size; keys and secrets never written."""

    def __init__(
        self,
        path: Path,
        max_bytes: int,
        backups: int,
        secrets: Iterable[str],
        rejected_per_minute: int = REJECTED_PER_MINUTE,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.secrets = [s for s in secrets if s]
        # A key with `"` or `\` is escaped in JSON text: look for that spelling too.
        self.escaped = [json.dumps(s)[1:-1] for s in self.secrets]
        self.logger = logging.Logger(f"terraqore.audit.{path}")
        handler = RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        self.logger.addHandler(handler)
        self.rate = rejected_per_minute / 60.0
        self.allowance = float(rejected_per_minute)
        self.stamp = time.monotonic()
        self.suppressed: dict[int, int] = {}
        self.suppressed_since = ""

    def write(self, entry: dict[str, Any]) -> None:
        """Append one entry (redacting any configured key that slipped into it).

        A refused request (`REJECTED`) past the per-minute allowance is only counted; the
        count is written as one summary line before the next entry that is written.
        """
        if entry.get("status") in REJECTED and not self._allow_rejected():
            status = int(entry["status"])
            self.suppressed[status] = self.suppressed.get(status, 0) + 1
            self.suppressed_since = self.suppressed_since or str(entry.get("time", ""))
            return
        if self.suppressed:
            self._emit(
                {
                    "time": entry.get("time", ""),
                    "event": "refused requests not logged one by one",
                    "since": self.suppressed_since,
                    "count": sum(self.suppressed.values()),
                    "by_status": {str(k): v for k, v in sorted(self.suppressed.items())},
                }
            )
            self.suppressed, self.suppressed_since = {}, ""
        self._emit(entry)

    def _allow_rejected(self) -> bool:
        now = time.monotonic()
        self.allowance = min(self.rate * 60, self.allowance + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True

    def _emit(self, entry: dict[str, Any]) -> None:
        text = json.dumps(_redact_values(entry, self.secrets), ensure_ascii=False)
        self.logger.info(redact(text, [*self.secrets, *self.escaped]))


def path_ids(scope: Scope) -> dict[str, str]:
    """The ids a request's path names (`file_id`, `batch_id`), cut to 100 characters.

    So the audit line says which file or batch, not only the route's pattern.
    """
    params = scope.get("path_params") or {}
    return {k: str(v)[:100] for k, v in params.items() if k.endswith("_id")}


class AuditMetricsMiddleware:
    """Counts, times and audits every request once its response is complete."""

    def __init__(self, app: ASGIApp, metrics: Metrics, audit: AuditLog | None) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap `send` to see the status and the end of the body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        finished = False
        scope.setdefault("state", {})  # shared by every layer below, even if one copies scope
        self.metrics.in_flight.inc()

        def finish() -> None:
            nonlocal finished
            if finished:
                return
            finished = True
            self.metrics.in_flight.dec()
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route, str(status)).inc()
            if self.audit is not None and scope["path"] != "/metrics":
                state = scope.get("state", {})
                usage = state.get("audit", {})
                self.audit.write(
                    {
                        "time": datetime.now(UTC).isoformat(),
                        "key_id": state.get("key_id", ""),
                        "client": (scope.get("client") or ("",))[0],
                        "method": scope["method"],
                        "route": route,
                        **path_ids(scope),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                        **usage,
                    }
                )

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                # Logged before the last bytes leave: a client that has its answer can read
                # its entry (a CI run read the log a moment too early after a flood).
                finish()
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            finish()
