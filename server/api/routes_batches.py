"""OpenAI's Files and Batch APIs (`/v1/files`, `/v1/batches`): many requests, answered later.

Upload a JSONL file (`purpose=batch`), create a batch on it, and read the output file when the
batch is `completed`; the `openai` client's `files` and `batches` work unchanged. Batches run
in the background at low priority (`server.api.batch_runner`) and survive a restart.

Every route sees only the files and batches of the request's API key (`deps.key_id`): another
key's are a 404, and a list shows the key's own. Uploads count against the key's storage
quota (`TERRAQORE_BATCH_QUOTA_BYTES`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from server.api.batch_runner import parse_batch_input
from server.api.deps import batch_runner, batch_store, key_id
from server.api.observability import record_ids
from server.errors import BadRequest
from server.runtime.batch_store import Batch, new_id

router = APIRouter(prefix="/v1")


class BatchRequest(BaseModel):
    """`POST /v1/batches`."""

    input_file_id: str
    endpoint: str
    completion_window: str = "24h"
    metadata: dict[str, str] | None = None


@router.post("/files")
async def upload_file(
    request: Request, file: UploadFile, purpose: str = Form(...)
) -> dict[str, Any]:
    """Store an uploaded file (batch input); its size is bounded by the body limit."""
    if purpose != "batch":
        raise BadRequest(f"purpose must be 'batch', not {purpose!r}")
    data = await file.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the file is not UTF-8 text: {exc}") from exc
    record = await asyncio.to_thread(
        batch_store(request).add_file,
        file.filename or "input.jsonl",
        purpose,
        data,
        key_id(request),
    )
    record_ids(request, file_id=record.id)
    return record.to_api()


@router.get("/files")
async def list_files(request: Request) -> dict[str, Any]:
    """The key's stored files, newest first."""
    files = await asyncio.to_thread(batch_store(request).list_files, key_id(request))
    return {"object": "list", "data": [f.to_api() for f in files], "has_more": False}


@router.get("/files/{file_id}")
async def get_file(file_id: str, request: Request) -> dict[str, Any]:
    """One file's record."""
    return (
        await asyncio.to_thread(batch_store(request).get_file, file_id, key_id(request))
    ).to_api()


@router.get("/files/{file_id}/content")
async def file_content(file_id: str, request: Request) -> Response:
    """A file's bytes (a batch's output or error file, JSONL)."""
    store = batch_store(request)
    await asyncio.to_thread(store.get_file, file_id, key_id(request))
    data = await asyncio.to_thread(store.file_path(file_id).read_bytes)
    return Response(data, media_type="application/jsonl")


@router.delete("/files/{file_id}")
async def delete_file(file_id: str, request: Request) -> dict[str, Any]:
    """Delete a file that no running batch uses."""
    await asyncio.to_thread(batch_store(request).delete_file, file_id, key_id(request))
    return {"id": file_id, "object": "file", "deleted": True}


@router.post("/batches")
async def create_batch(body: BatchRequest, request: Request) -> dict[str, Any]:
    """Check the input file whole, then queue the batch."""
    if body.completion_window != "24h":
        raise BadRequest("completion_window must be '24h'")
    store = batch_store(request)
    owner = key_id(request)
    record_ids(request, file_id=body.input_file_id)
    source = await asyncio.to_thread(store.get_file, body.input_file_id, owner)
    if source.purpose != "batch":
        raise BadRequest(f"file {source.id} was not uploaded for a batch")
    lines = await asyncio.to_thread(lambda: list(store.read_input(source.id)))
    limit = request.app.state.settings.batch_max_lines
    total = await asyncio.to_thread(parse_batch_input, lines, body.endpoint, limit)
    batch = Batch(
        id=new_id("batch_"),
        endpoint=body.endpoint,
        input_file_id=source.id,
        completion_window=body.completion_window,
        created_at=int(time.time()),
        metadata=body.metadata,
    )
    batch.request_counts["total"] = total
    await asyncio.to_thread(store.add_batch, batch, owner)
    record_ids(request, batch_id=batch.id)
    batch_runner(request).wake()
    return batch.to_api()


@router.get("/batches")
async def list_batches(request: Request, limit: int = 20) -> dict[str, Any]:
    """The key's batches, newest first."""
    batches = await asyncio.to_thread(
        batch_store(request).list_batches, key_id(request), max(1, min(limit, 100))
    )
    return {"object": "list", "data": [b.to_api() for b in batches], "has_more": False}


@router.get("/batches/{batch_id}")
async def get_batch(batch_id: str, request: Request) -> dict[str, Any]:
    """One batch: its status, counts and files."""
    return (
        await asyncio.to_thread(batch_store(request).get_batch, batch_id, key_id(request))
    ).to_api()


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(batch_id: str, request: Request) -> dict[str, Any]:
    """Stop a batch after the line in progress; what was answered stays in its output file."""
    batch = await asyncio.to_thread(batch_store(request).request_cancel, batch_id, key_id(request))
    batch_runner(request).cancel(batch_id)
    return batch.to_api()
