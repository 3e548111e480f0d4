"""The FastAPI application: wiring of store, scheduler, inference service and routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from server import __version__, catalog
from server.config import ServerSettings
from server.errors import ServerError, ServiceUnavailable
from server.inference import InferenceService
from server.model_manager import ModelManager
from server.routes_models import router as models_router
from server.routes_ollama import router as ollama_router
from server.routes_openai import openai_error
from server.routes_openai import router as openai_router
from server.scheduler import Scheduler
from server.store import ModelStore

log = logging.getLogger("terraqore.server")


def _error_body(request: Request, message: str, status: int) -> dict[str, Any]:
    if request.url.path.startswith("/v1"):
        return openai_error(message, status)
    return {"error": message}


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


class JsonBodyMiddleware:
    """Treat every API request body as JSON, whatever its Content-Type.

    Ollama does, and `curl -d` sends `application/x-www-form-urlencoded`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the Content-Type of POST and DELETE requests, then pass them on."""
        if scope["type"] == "http" and scope["method"] in ("POST", "DELETE"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Build the server application."""
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        roots = [settings.ollama_models] if settings.ollama_models else []
        roots = [r for r in roots if (r / "manifests").is_dir()]
        store = ModelStore(settings.models_dir, readonly_roots=roots)
        if settings.register_installed:
            registered = await asyncio.to_thread(catalog.register_installed, store)
            log.info("models from installed packages: %s", ", ".join(registered) or "none")
        scheduler = Scheduler(settings)
        scheduler.start()
        app.state.service = InferenceService(settings, store, scheduler)
        app.state.models = ModelManager(settings, store)
        try:
            yield
        finally:
            await scheduler.stop()

    app = FastAPI(title="TerraQore built-in Ollama server", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(JsonBodyMiddleware)

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
        return JSONResponse(_error_body(request, f"internal error: {exc}", 500), 500)

    app.include_router(ollama_router)
    app.include_router(models_router)
    app.include_router(openai_router)
    return app


def serve(host: str, port: int, settings: ServerSettings | None = None) -> None:
    """Run the server in the foreground until interrupted."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
