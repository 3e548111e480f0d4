"""OpenAI-compatible API (`/v1/*`), translated onto the same inference service."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from server.api.deps import progress_reporter, report, service
from server.api.openai_wire import (
    FINGERPRINT,
    chat_completion,
    chat_job,
    completion_head,
    embedding_list,
    finish,
    oai_tool_calls,
    openai_error,
    options,
    usage,
)
from server.api.streaming import collect, lines, open_stream, sse
from server.errors import BadRequest, ModelNotFound
from server.models.manifest import ModelRecord
from server.runtime.inference import Final
from server.runtime.prompts import ChatJob
from server.wire import (
    OAIChatRequest,
    OAICompletionRequest,
    OAIEmbeddingRequest,
)

router = APIRouter(prefix="/v1")


@router.post("/chat/completions")
async def chat_completions(body: OAIChatRequest, request: Request) -> Response:
    """Chat completions, streamed as server-sent events or returned whole."""
    job = chat_job(body)
    events = await open_stream(service(request).run(job))
    head = completion_head(body.model)
    last_user = next(
        (str(m["content"]) for m in reversed(job.messages or []) if m["role"] == "user"), ""
    )
    if not body.stream:
        final = await collect(events)
        report(request, body.model, final, last_user)
        return JSONResponse(chat_completion(head, final))
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def chunk(delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        return {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }

    def on_text(text: str) -> dict[str, Any]:
        return chunk({"role": "assistant", "content": text}, None)

    def on_final(final: Final) -> list[dict[str, Any]]:
        report(request, body.model, final, last_user)
        out = []
        if final.tool_calls:
            out.append(chunk({"role": "assistant", "tool_calls": oai_tool_calls(final)}, None))
        out.append(chunk({}, finish(final)))
        if include_usage:
            out.append(
                {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage(final)}
            )
        return out

    return _sse_response(
        lines(
            events,
            on_text,
            on_final,
            sse,
            lambda m: openai_error(m, 500),
            progress_reporter(request, body.model),
        )
    )


def _sse_response(body: Any) -> StreamingResponse:
    async def with_done() -> Any:
        async for line in body:
            yield line
        yield "data: [DONE]\n\n"

    return StreamingResponse(with_done(), media_type="text/event-stream")


@router.post("/completions")
async def completions(body: OAICompletionRequest, request: Request) -> Response:
    """Legacy text completions."""
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if len(prompts) != 1:
        raise BadRequest("exactly one prompt is supported")
    if body.echo:
        raise BadRequest("echo is not supported")
    job = ChatJob(
        model=body.model,
        prompt=prompts[0],
        suffix=body.suffix,
        options=options(body, body.max_tokens),
    )
    events = await open_stream(service(request).run(job))
    head = {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.model,
        "system_fingerprint": FINGERPRINT,
    }

    def choice(text: str, finish: str | None) -> dict[str, Any]:
        return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}

    if not body.stream:
        final = await collect(events)
        report(request, body.model, final, prompts[0])
        return JSONResponse(
            {**head, "choices": [choice(final.content, finish(final))], "usage": usage(final)}
        )
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def on_final(final: Final) -> list[dict[str, Any]]:
        report(request, body.model, final, prompts[0])
        out = [{**head, "choices": [choice("", finish(final))]}]
        if include_usage:
            out.append({**head, "choices": [], "usage": usage(final)})
        return out

    return _sse_response(
        lines(
            events,
            lambda t: {**head, "choices": [choice(t, None)]},
            on_final,
            sse,
            lambda m: openai_error(m, 500),
            progress_reporter(request, body.model),
        )
    )


@router.post("/embeddings")
async def embeddings(body: OAIEmbeddingRequest, request: Request) -> dict[str, Any]:
    """Embeddings as float lists or base64 float32."""
    return await embedding_list(service(request), body)


def _model_entry(record: ModelRecord) -> dict[str, Any]:
    return {
        "id": record.name.display,
        "object": "model",
        "created": int(record.modified_at.timestamp()),
        "owned_by": record.name.namespace,
    }


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """Registered models."""
    records = await asyncio.to_thread(service(request).store.list)
    return {"object": "list", "data": [_model_entry(r) for r in records]}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    """One model."""
    store = service(request).store
    try:
        return _model_entry(await asyncio.to_thread(store.get, model_id))
    except ModelNotFound:
        raise ModelNotFound(model_id) from None
