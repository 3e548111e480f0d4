"""OpenAI-compatible API (`/v1/*`), translated onto the same inference service."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from server.api.deps import progress_reporter, report, service
from server.api.streaming import collect, lines, open_stream, sse
from server.api.wire_types import (
    OAIChatRequest,
    OAICompletionRequest,
    OAIEmbeddingRequest,
    OAIMessage,
)
from server.errors import BadRequest, ModelNotFound
from server.models.manifest import ModelRecord
from server.runtime.inference import Final
from server.runtime.prompts import ChatJob

router = APIRouter(prefix="/v1")
_FINGERPRINT = "fp_terraqore"


def openai_error(message: str, status: int) -> dict[str, Any]:
    """An error body in OpenAI's shape."""
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error"}
    return {
        "error": {
            "message": message,
            "type": kind.get(status, "api_error"),
            "param": None,
            "code": None,
        }
    }


def _options(body: OAIChatRequest | OAICompletionRequest, max_tokens: int | None) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "temperature": body.temperature,
        "top_p": body.top_p,
        "seed": body.seed,
        "stop": body.stop,
        "presence_penalty": body.presence_penalty,
        "frequency_penalty": body.frequency_penalty,
        "num_predict": max_tokens,
    }
    return {k: v for k, v in opts.items() if v is not None}


def _usage(final: Final) -> dict[str, Any]:
    p, c = final.stats.prompt_eval_count, final.stats.eval_count
    return {
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        # OpenAI's field for prompt tokens served from a cache (here: reused KV state).
        "prompt_tokens_details": {"cached_tokens": final.stats.cached_prompt_tokens},
    }


def _finish(final: Final) -> str:
    if final.tool_calls:
        return "tool_calls"
    return "length" if final.done_reason == "length" else "stop"


def _content_text(msg: OAIMessage) -> tuple[str, bool]:
    if msg.content is None or isinstance(msg.content, str):
        return msg.content or "", False
    texts, image = [], False
    for part in msg.content:
        if part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") in ("image_url", "input_image"):
            image = True
    return "\n".join(texts), image


def _messages(body: OAIChatRequest) -> tuple[list[dict[str, Any]], bool]:
    out, images = [], False
    for msg in body.messages:
        text, has_image = _content_text(msg)
        images = images or has_image
        role = "system" if msg.role == "developer" else msg.role
        item: dict[str, Any] = {"role": role, "content": text}
        if msg.tool_calls:
            calls = []
            for call in msg.tool_calls:
                fn = call.get("function") or {}
                args = fn.get("arguments") or "{}"
                try:
                    parsed = json.loads(args) if isinstance(args, str) else args
                except json.JSONDecodeError as exc:
                    raise BadRequest(f"tool call arguments are not valid JSON: {exc}") from exc
                calls.append(
                    {
                        "type": "function",
                        "function": {"name": fn.get("name", ""), "arguments": parsed},
                    }
                )
            item["tool_calls"] = calls
        if msg.name:
            item["name"] = msg.name
        out.append(item)
    return out, images


def _format(response_format: dict[str, Any] | None) -> str | dict[str, Any] | None:
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise BadRequest("response_format.json_schema.schema must be an object")
        return schema
    raise BadRequest(f"unsupported response_format type {kind!r}")


def _oai_tool_calls(final: Final) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "index": i,
            "type": "function",
            "function": {
                "name": c["function"]["name"],
                "arguments": json.dumps(c["function"]["arguments"], ensure_ascii=False),
            },
        }
        for i, c in enumerate(final.tool_calls)
    ]


@router.post("/chat/completions")
async def chat_completions(body: OAIChatRequest, request: Request) -> Response:
    """Chat completions, streamed as server-sent events or returned whole."""
    messages, images = _messages(body)
    tools = (
        None
        if body.tool_choice == "none" or not body.tools
        else [t.model_dump() for t in body.tools]
    )
    job = ChatJob(
        model=body.model,
        messages=messages,
        tools=tools,
        format=_format(body.response_format),
        options=_options(body, body.max_completion_tokens or body.max_tokens),
        images=images,
    )
    events = await open_stream(service(request).run(job))
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    head = {"id": cid, "created": created, "model": body.model, "system_fingerprint": _FINGERPRINT}
    last_user = next((str(m["content"]) for m in reversed(messages) if m["role"] == "user"), "")
    if not body.stream:
        final = await collect(events)
        report(request, body.model, final, last_user)
        calls = _oai_tool_calls(final)
        message: dict[str, Any] = {"role": "assistant", "content": None if calls else final.content}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse(
            {
                **head,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": _finish(final)}],
                "usage": _usage(final),
            }
        )
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def on_text(text: str) -> dict[str, Any]:
        return chunk({"role": "assistant", "content": text}, None)

    def on_final(final: Final) -> list[dict[str, Any]]:
        report(request, body.model, final, last_user)
        out = []
        if final.tool_calls:
            out.append(chunk({"role": "assistant", "tool_calls": _oai_tool_calls(final)}, None))
        out.append(chunk({}, _finish(final)))
        if include_usage:
            out.append(
                {**head, "object": "chat.completion.chunk", "choices": [], "usage": _usage(final)}
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
        options=_options(body, body.max_tokens),
    )
    events = await open_stream(service(request).run(job))
    head = {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.model,
        "system_fingerprint": _FINGERPRINT,
    }

    def choice(text: str, finish: str | None) -> dict[str, Any]:
        return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}

    if not body.stream:
        final = await collect(events)
        report(request, body.model, final, prompts[0])
        return JSONResponse(
            {**head, "choices": [choice(final.content, _finish(final))], "usage": _usage(final)}
        )
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def on_final(final: Final) -> list[dict[str, Any]]:
        report(request, body.model, final, prompts[0])
        out = [{**head, "choices": [choice("", _finish(final))]}]
        if include_usage:
            out.append({**head, "choices": [], "usage": _usage(final)})
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
    if isinstance(body.input, str):
        texts = [body.input]
    elif all(isinstance(x, str) for x in body.input):
        texts = [str(x) for x in body.input]
    else:
        raise BadRequest("token arrays are not supported as input; send text")
    if not texts:
        raise BadRequest("input must not be empty")
    result = await service(request).embed(body.model, texts, True, body.dimensions)
    data = []
    for i, vec in enumerate(result.vectors):
        value: Any = vec
        if body.encoding_format == "base64":
            value = base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "embedding": value, "index": i})
    usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
    return {"object": "list", "data": data, "model": body.model, "usage": usage}


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
