"""What the route modules share: the app's services, and how a finished request is reported.

Routes depend on this module, never on each other.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from server.api.batch_runner import BatchRunner
from server.api.observability import record_progress, record_usage
from server.models.model_manager import ModelManager
from server.runtime.batch_store import BatchStore
from server.runtime.inference import Final, InferenceService

NDJSON = "application/x-ndjson"


def service(request: Request) -> InferenceService:
    """The app's inference service."""
    svc: InferenceService = request.app.state.service
    return svc


def manager(request: Request) -> ModelManager:
    """The app's model manager."""
    mgr: ModelManager = request.app.state.models
    return mgr


def batch_store(request: Request) -> BatchStore:
    """The app's store of batch jobs and their files."""
    store: BatchStore = request.app.state.batches
    return store


def batch_runner(request: Request) -> BatchRunner:
    """The app's background runner of batch jobs."""
    runner: BatchRunner = request.app.state.batch_runner
    return runner


def key_id(request: Request) -> str:
    """The id of the API key the request came with; `""` on a server without keys."""
    return str(getattr(request.state, "key_id", "") or "")


def report(request: Request, model: str, final: Final, prompt: str | None) -> None:
    """Record a finished generation for metrics and the audit log."""
    audit_prompts = request.app.state.settings.audit_prompts
    record_usage(
        request,
        model,
        final.stats,
        final.load_duration_ns,
        final.cached,
        prompt if audit_prompts else None,
    )


def progress_reporter(request: Request, model: str) -> Callable[[int], None]:
    """What a stream reports as it goes, so an aborted one is still audited with its model."""
    return lambda pieces: record_progress(request, model, pieces)
