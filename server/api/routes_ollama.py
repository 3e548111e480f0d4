"""Ollama's REST API (`/api/*`): thin handlers over the inference service and the store."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from server import OLLAMA_COMPAT_VERSION
from server.api.deps import NDJSON, progress_reporter, report, service
from server.api.observability import record_usage
from server.api.streaming import collect, lines, ndjson, now_iso, open_stream
from server.errors import BadRequest
from server.modelfile import parameters_text
from server.models.manifest import ModelRecord, render_modelfile
from server.runtime.engine_types import GenerationStats
from server.runtime.inference import Final, InferenceService
from server.runtime.prompts import ChatJob
from server.wire import (
    ChatRequest,
    EmbedRequest,
    GenerateRequest,
    LegacyEmbeddingsRequest,
    ShowRequest,
)

router = APIRouter()


def _timings(final: Final) -> dict[str, Any]:
    s = final.stats
    return {
        "done": True,
        "done_reason": final.done_reason,
        "total_duration": final.total_duration_ns,
        "load_duration": final.load_duration_ns,
        "prompt_eval_count": s.prompt_eval_count,
        "prompt_eval_duration": s.prompt_eval_duration_ns,
        "eval_count": s.eval_count,
        "eval_duration": s.eval_duration_ns,
    }


def _error(message: str) -> dict[str, Any]:
    return {"error": message}


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def root() -> PlainTextResponse:
    """Liveness, as Ollama answers it."""
    return PlainTextResponse("Ollama is running")


@router.api_route("/api/version", methods=["GET", "HEAD"])
async def version() -> dict[str, str]:
    """The Ollama version whose API we implement."""
    return {"version": OLLAMA_COMPAT_VERSION}


def _summary(record: ModelRecord) -> dict[str, Any]:
    return {
        "name": record.name.display,
        "model": record.name.display,
        "modified_at": record.modified_at.isoformat(),
        "size": record.size,
        "digest": record.digest.removeprefix("sha256:"),
        "details": record.details,
    }


@router.get("/api/tags")
async def tags(request: Request) -> dict[str, Any]:
    """Registered models (the manifests are read off the event loop)."""
    records = await asyncio.to_thread(service(request).store.list)
    return {"models": [_summary(r) for r in records]}


@router.get("/api/ps")
async def ps(request: Request) -> dict[str, Any]:
    """Model names in use, each once; names that share a runner are each listed.

    A chat model that was also asked for embeddings has a second runner; like Ollama, which
    serves both from one, it is listed once, until the later of the two expires.
    """
    out: dict[str, dict[str, Any]] = {}
    # The chat runner's context length is the one to show: embedding runners come last.
    for alias, model in sorted(
        service(request).scheduler.loaded(), key=lambda pair: pair[1].key.load.embedding
    ):
        if (entry := out.get(alias.record.name.display)) is not None:
            entry["expires_at"] = max(entry["expires_at"], alias.expires_wall)
            continue
        entry = _summary(alias.record)
        entry.pop("modified_at")
        entry.update(
            expires_at=alias.expires_wall, size_vram=0, context_length=model.key.load.n_ctx
        )
        out[alias.record.name.display] = entry
    return {"models": [{**e, "expires_at": e["expires_at"].isoformat()} for e in out.values()]}


def _show(svc: InferenceService, name: str) -> dict[str, Any]:
    """Everything `/api/show` says about a model (reads the disk: runs on a worker thread)."""
    record, caps = svc.resolve_now(name)
    engine = svc.scheduler.engine(record)
    return {
        "license": record.license,
        "modelfile": render_modelfile(record),
        "parameters": parameters_text(record.parameters),
        "template": engine.chat_template(record),
        "system": record.system,
        "details": record.details,
        "model_info": engine.model_info(record),
        "capabilities": caps,
        "modified_at": record.modified_at.isoformat(),
    }


@router.post("/api/show")
async def show(body: ShowRequest, request: Request) -> dict[str, Any]:
    """Everything about one model."""
    name = body.model or body.name
    if not name:
        raise BadRequest("model is required")
    return await asyncio.to_thread(_show, service(request), name)


async def _respond(
    request: Request, job: ChatJob, stream: bool, text_chunk: Any, final_chunks: Any
) -> Response:
    events = await open_stream(service(request).run(job))
    progress = progress_reporter(request, job.model)
    if not stream:
        final = await collect(events)
        return JSONResponse(final_chunks(final, aggregate=True)[-1])
    return StreamingResponse(
        lines(
            events, text_chunk, lambda f: final_chunks(f, aggregate=False), ndjson, _error, progress
        ),
        media_type=NDJSON,
    )


@router.post("/api/generate")
async def generate(body: GenerateRequest, request: Request) -> Response:
    """Complete a prompt."""
    job = ChatJob(
        model=body.model,
        prompt=body.prompt,
        raw=body.raw,
        system=body.system,
        format=body.format,
        options=body.options,
        keep_alive=body.keep_alive,
        images=bool(body.images),
        think=body.think,
        suffix=body.suffix,
    )
    model = body.model

    def text_chunk(text: str) -> dict[str, Any]:
        return {"model": model, "created_at": now_iso(), "response": text, "done": False}

    def final_chunks(final: Final, aggregate: bool) -> list[dict[str, Any]]:
        report(request, model, final, body.prompt)
        body_text = final.content if aggregate else ""
        return [{"model": model, "created_at": now_iso(), "response": body_text, **_timings(final)}]

    return await _respond(request, job, body.stream, text_chunk, final_chunks)


def _template_message(msg: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"role": msg.role, "content": msg.content or ""}
    if msg.tool_calls:
        out["tool_calls"] = [
            {
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in msg.tool_calls
        ]
    if msg.tool_name:
        out["name"] = msg.tool_name
    return out


@router.post("/api/chat")
async def chat(body: ChatRequest, request: Request) -> Response:
    """Chat with a model, with optional tools and structured output."""
    job = ChatJob(
        model=body.model,
        messages=[_template_message(m) for m in body.messages],
        tools=[t.model_dump() for t in body.tools] if body.tools else None,
        format=body.format,
        options=body.options,
        keep_alive=body.keep_alive,
        images=any(m.images for m in body.messages),
        think=body.think,
    )
    model = body.model

    def message(content: str, calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            msg["tool_calls"] = calls
        return msg

    def text_chunk(text: str) -> dict[str, Any]:
        return {"model": model, "created_at": now_iso(), "message": message(text), "done": False}

    def final_chunks(final: Final, aggregate: bool) -> list[dict[str, Any]]:
        last_user = next((m.content for m in reversed(body.messages) if m.role == "user"), "")
        report(request, model, final, last_user)
        done = {
            "model": model,
            "created_at": now_iso(),
            "message": message(
                final.content if aggregate else "", final.tool_calls if aggregate else None
            ),
            **_timings(final),
        }
        if aggregate or not final.tool_calls:
            return [done]
        calls = {
            "model": model,
            "created_at": now_iso(),
            "message": message("", final.tool_calls),
            "done": False,
        }
        return [calls, done]

    return await _respond(request, job, body.stream, text_chunk, final_chunks)


@router.post("/api/embed")
async def embed(body: EmbedRequest, request: Request) -> dict[str, Any]:
    """Embed one text or many."""
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    result = await service(request).embed(
        body.model, texts, body.truncate, body.dimensions, body.options, body.keep_alive
    )
    record_usage(
        request,
        body.model,
        GenerationStats(prompt_eval_count=result.prompt_tokens),
        result.load_duration_ns,
    )
    return {
        "model": body.model,
        "embeddings": result.vectors,
        "total_duration": result.total_duration_ns,
        "load_duration": result.load_duration_ns,
        "prompt_eval_count": result.prompt_tokens,
    }


@router.post("/api/embeddings")
async def embeddings_legacy(body: LegacyEmbeddingsRequest, request: Request) -> dict[str, Any]:
    """The deprecated single-vector embedding route."""
    if not body.prompt:
        return {"embedding": []}
    result = await service(request).embed(
        body.model, [body.prompt], True, None, body.options, body.keep_alive
    )
    return {"embedding": result.vectors[0]}
