"""Ollama's model-management routes: create, blobs, copy, delete, pull, push."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from server.api.deps import NDJSON, manager, service
from server.api.streaming import ndjson
from server.errors import BadRequest, ServerError
from server.models.manifest import ModelName, blob_path
from server.models.model_manager import Work
from server.thread_stream import run_emitting
from server.wire import CopyRequest, CreateRequest, ModelRequest

router = APIRouter()


async def _stream_statuses(events: Any) -> Any:
    try:
        async for status in events:
            yield ndjson(status)
    except ServerError as exc:
        yield ndjson({"error": exc.message})
    except Exception as exc:  # the stream is open: report, never crash
        yield ndjson({"error": f"internal error: {exc}"})


@router.post("/api/create")
async def create(body: CreateRequest, request: Request) -> Response:
    """Create a model from another model or from uploaded GGUF blobs."""
    statuses: list[dict[str, Any]] = []
    await asyncio.to_thread(manager(request).create, body, statuses.append)
    await service(request).scheduler.unload(ModelName.parse(body.model).display)
    if not body.stream:
        return JSONResponse({"status": "success"})
    return StreamingResponse(iter(ndjson(s) for s in statuses), media_type=NDJSON)


@router.head("/api/blobs/{digest}")
async def blob_exists(digest: str, request: Request) -> Response:
    """200 if the blob is stored, 404 if not."""
    return Response(status_code=200 if manager(request).store.has_blob(digest) else 404)


@router.post("/api/blobs/{digest}")
async def upload_blob(digest: str, request: Request) -> Response:
    """Store an uploaded blob; its SHA-256 must match the digest in the path."""
    store = manager(request).store
    target = blob_path(store.blobs, digest)
    if target.is_file():
        return Response(status_code=200)
    tmp = store.new_partial()
    h = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
                h.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        store.publish(tmp, f"sha256:{h.hexdigest()}", expected=digest)
    finally:
        tmp.unlink(missing_ok=True)
    return Response(status_code=201)


@router.post("/api/copy")
async def copy(body: CopyRequest, request: Request) -> Response:
    """Give a model a second name (blobs are shared)."""
    await asyncio.to_thread(manager(request).store.copy, body.source, body.destination)
    return Response(status_code=200)


@router.delete("/api/delete")
async def delete(body: ModelRequest, request: Request) -> Response:
    """Delete a model and the blobs nothing else references."""
    if not body.target:
        raise BadRequest("model is required")
    record = await asyncio.to_thread(manager(request).store.delete, body.target)
    await service(request).scheduler.unload(record.name.display)
    return Response(status_code=200)


async def _run_work(work: Work, stream: bool) -> Response:
    """Run a pull or a push: Ollama's NDJSON statuses, or only the last one."""
    events = run_emitting(work)
    if not stream:
        last: dict[str, Any] = {}
        async for status in events:
            last = status
        return JSONResponse({"status": last.get("status", "success")})
    return StreamingResponse(_stream_statuses(events), media_type=NDJSON)


@router.post("/api/pull")
async def pull(body: ModelRequest, request: Request) -> Response:
    """Pull a model from a configured import folder, the package catalog or (online) a registry."""
    if not body.target:
        raise BadRequest("model is required")
    return await _run_work(manager(request).plan_pull(body.target, body.insecure), body.stream)


@router.post("/api/push")
async def push(body: ModelRequest, request: Request) -> Response:
    """Push a model to the registry its name names (online mode only)."""
    if not body.target:
        raise BadRequest("model is required")
    work = await asyncio.to_thread(manager(request).plan_push, body.target, body.insecure)
    return await _run_work(work, body.stream)
