"""The FastAPI application: wiring of store, scheduler, inference service and routes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import __version__
from server.api.batch_runner import BatchRunner
from server.api.connection_guard import guarded_protocol
from server.api.observability import AuditLog, AuditMetricsMiddleware, Metrics
from server.api.openai_wire import openai_error
from server.api.routes_batches import router as batches_router
from server.api.routes_models import router as models_router
from server.api.routes_ollama import router as ollama_router
from server.api.routes_openai import router as openai_router
from server.config import ServerSettings
from server.errors import ServerError, ServiceUnavailable
from server.models import catalog
from server.models.model_manager import ModelManager
from server.models.store import ModelStore
from server.runtime.batch_store import BatchStore
from server.runtime.inference import InferenceService
from server.runtime.response_cache import ResponseCache
from server.runtime.runners import engine_for
from server.runtime.scheduler import Scheduler
from server.security import (
    AuthMiddleware,
    BodyLimitMiddleware,
    CrossSiteMiddleware,
    HostCheckMiddleware,
    RateLimitMiddleware,
    is_loopback,
    origin_regex,
)

log = logging.getLogger("terraqore.server")
_RESERVED_FDS = 128
"""File descriptors kept for everything but client connections (weights, blobs, logs, SQLite)."""


INTERNAL_ERROR = "internal error; the server log has the details"


def _error_body(request: Request, message: str, status: int) -> dict[str, Any]:
    return _error_for_path(request.url.path, message, status)


def _error_for_path(path: str, message: str, status: int) -> dict[str, Any]:
    if path.startswith("/v1"):
        return openai_error(message, status)
    return {"error": message}


class ErrorBoundaryMiddleware:
    """Turn an unexpected error in a route into a 500 and keep the connection open.

    Starlette's last-resort handler answers and then re-raises, which makes uvicorn drop a
    kept-alive connection. The answer never carries the exception's text, which may name
    server paths; the log has the traceback. A response already started cannot be replaced,
    so an error after that still propagates.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; answer 500 if it fails before it started its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s", scope["path"])
            body = json.dumps(_error_for_path(scope["path"], INTERNAL_ERROR, 500)).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return f"invalid JSON body: {err.get('ctx', {}).get('error', err.get('msg'))}"
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        if err.get("type") == "missing":
            parts.append(f"{loc} is required")
        else:
            parts.append(f"{loc or 'body'}: {err.get('msg')}")
    return "invalid request: " + "; ".join(parts) if parts else "invalid request body"


def _ready_problems(store: ModelStore, names: str) -> list[str]:
    """What keeps the default models from loading (missing manifests or unreadable weights)."""
    problems = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        try:
            record = store.get(name)
            problem = engine_for(record).weights_problem(record)
            if problem is not None:
                problems.append(f"{name}: {problem}")
        except ServerError as exc:
            problems.append(f"{name}: {exc.message}")
        except OSError as exc:
            problems.append(f"{name}: {exc}")
    return problems


def create_app(settings: ServerSettings | None = None, bind_host: str = "127.0.0.1") -> FastAPI:
    """Build the server application."""
    settings = settings or ServerSettings()
    keys = settings.keys()
    scheduler = Scheduler(settings)
    metrics = Metrics(scheduler.state)
    audit = None
    if settings.audit:
        audit = AuditLog(
            settings.private("logs") / "audit.jsonl",
            settings.audit_max_bytes,
            settings.audit_backups,
            keys.values(),
        )

    def on_cache(model: str, hit: bool) -> None:
        (metrics.cache_hits if hit else metrics.cache_misses).labels(model).inc()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        roots = [settings.ollama_models] if settings.ollama_models else []
        roots = [r for r in roots if (r / "manifests").is_dir()]
        store = ModelStore(
            settings.models_dir, readonly_roots=roots, link_cache=settings.blob_cache
        )
        if settings.register_installed:
            registered = await asyncio.to_thread(catalog.register_installed, store)
            log.info("models from installed packages: %s", ", ".join(registered) or "none")
        scheduler.start()
        cache = (
            ResponseCache(settings.private("cache") / "responses.sqlite", settings.cache_ttl)
            if settings.cache
            else None
        )
        app.state.service = InferenceService(settings, store, scheduler, cache, on_cache)
        app.state.models = ModelManager(settings, store)
        app.state.batches = BatchStore(settings.private("batches"), settings.batch_quota_bytes)
        app.state.batch_runner = BatchRunner(
            app.state.batches, app.state.service, on_preempt=metrics.batch_preempted.inc
        )
        app.state.batch_runner.start()
        try:
            yield
        finally:
            await app.state.batch_runner.stop()
            await scheduler.stop()
            app.state.batches.close()

    app = FastAPI(title="TerraQore built-in Ollama server", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    # Innermost first: each add_middleware wraps what is already there.
    app.add_middleware(ErrorBoundaryMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimitMiddleware, per_minute=settings.rate_limit_per_minute, burst=settings.rate_burst
    )
    app.add_middleware(AuthMiddleware, keys=keys)
    origins = origin_regex(settings.origins)
    app.add_middleware(CrossSiteMiddleware, allowed_origins=origins)
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=origins,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(HostCheckMiddleware, bind_host=bind_host)
    if settings.metrics or audit is not None:
        app.add_middleware(AuditMetricsMiddleware, metrics=metrics, audit=audit)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Liveness: the process is serving."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: the default models are registered and their weights readable."""
        store = request.app.state.service.store
        problems = await asyncio.to_thread(_ready_problems, store, settings.ready_models)
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, 503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_route() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(ServerError)
    async def server_error(request: Request, exc: ServerError) -> JSONResponse:
        headers = {}
        if isinstance(exc, ServiceUnavailable):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse(
            _error_body(request, exc.message, exc.status_code), exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_error_body(request, _validation_message(exc), 400), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 404:
            message = f"{request.method} {request.url.path}: not found"
        return JSONResponse(
            _error_body(request, message, exc.status_code), exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse(_error_body(request, INTERNAL_ERROR, 500), 500)

    app.include_router(ollama_router)
    app.include_router(models_router)
    app.include_router(openai_router)
    app.include_router(batches_router)
    return app


def serve(host: str, port: int, settings: ServerSettings | None = None) -> None:
    """Run the server in the foreground until interrupted."""
    settings = settings or ServerSettings()
    try:
        keys = settings.keys()
    except (ValueError, OSError) as exc:
        raise SystemExit(f"refusing to start: {exc}") from None
    if not is_loopback(host) and not keys:
        raise SystemExit(
            f"refusing to listen on {host}: it is not a loopback address and no API keys are "
            "set. Set TERRAQORE_API_KEYS (or TERRAQORE_API_KEYS_FILE), or bind to 127.0.0.1."
        )
    # What the server writes (blobs, manifests, logs, the cache) is for its owner only.
    os.umask(0o077)
    settings.private()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    connections = _connection_cap(settings.max_connections)
    uvicorn.run(
        create_app(settings, bind_host=host),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        http=guarded_protocol(settings.header_timeout, connections),
        limit_concurrency=connections,
        timeout_keep_alive=settings.keep_alive_timeout,
    )


def _connection_cap(wanted: int) -> int:
    """`wanted`, lowered so that connections leave file descriptors for models and logs."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - _RESERVED_FDS))
