"""OpenAI's wire format onto the inference service's jobs, and back.

Shared by the `/v1` routes and the batch runner, so a batch line is answered as the route would.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import numpy as np

from server.errors import BadRequest
from server.runtime.inference import Final, InferenceService
from server.runtime.prompts import ChatJob
from server.wire import (
    OAIChatRequest,
    OAICompletionRequest,
    OAIEmbeddingRequest,
    OAIMessage,
)

FINGERPRINT = "fp_terraqore"


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


def options(body: OAIChatRequest | OAICompletionRequest, max_tokens: int | None) -> dict[str, Any]:
    """The Ollama options of a request (unset ones left to the model)."""
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


def usage(final: Final) -> dict[str, Any]:
    """OpenAI's `usage` object of a finished generation."""
    p, c = final.stats.prompt_eval_count, final.stats.eval_count
    return {
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        # OpenAI's field for prompt tokens served from a cache (here: reused KV state).
        "prompt_tokens_details": {"cached_tokens": final.stats.cached_prompt_tokens},
    }


def finish(final: Final) -> str:
    """OpenAI's `finish_reason`."""
    if final.tool_calls:
        return "tool_calls"
    return "length" if final.done_reason == "length" else "stop"


def content_text(msg: OAIMessage) -> tuple[str, bool]:
    """A message's text, and whether it carried an image."""
    if msg.content is None or isinstance(msg.content, str):
        return msg.content or "", False
    texts, image = [], False
    for part in msg.content:
        if part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") in ("image_url", "input_image"):
            image = True
    return "\n".join(texts), image


def messages(body: OAIChatRequest) -> tuple[list[dict[str, Any]], bool]:
    """The request's messages in Ollama's form, and whether any carried an image."""
    out, images = [], False
    for msg in body.messages:
        text, has_image = content_text(msg)
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


def output_format(response_format: dict[str, Any] | None) -> str | dict[str, Any] | None:
    """Ollama's `format` for OpenAI's `response_format`."""
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


def oai_tool_calls(final: Final) -> list[dict[str, Any]]:
    """The generation's tool calls in OpenAI's form (arguments as JSON text)."""
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


def chat_job(body: OAIChatRequest) -> ChatJob:
    """The inference job of a chat completion request."""
    msgs, images = messages(body)
    tools = (
        None
        if body.tool_choice == "none" or not body.tools
        else [t.model_dump() for t in body.tools]
    )
    return ChatJob(
        model=body.model,
        messages=msgs,
        tools=tools,
        format=output_format(body.response_format),
        options=options(body, body.max_completion_tokens or body.max_tokens),
        images=images,
    )


def completion_head(model: str) -> dict[str, Any]:
    """The fields every chat completion object or chunk starts with."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    return {"id": cid, "created": created, "model": model, "system_fingerprint": FINGERPRINT}


def chat_completion(head: dict[str, Any], final: Final) -> dict[str, Any]:
    """A finished generation as a `chat.completion` object."""
    calls = oai_tool_calls(final)
    message: dict[str, Any] = {"role": "assistant", "content": None if calls else final.content}
    if calls:
        message["tool_calls"] = calls
    return {
        **head,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish(final)}],
        "usage": usage(final),
    }


async def embedding_list(svc: InferenceService, body: OAIEmbeddingRequest) -> dict[str, Any]:
    """Embed a request's input; the `list` object of embeddings (floats or base64 float32)."""
    if isinstance(body.input, str):
        texts = [body.input]
    elif all(isinstance(x, str) for x in body.input):
        texts = [str(x) for x in body.input]
    else:
        raise BadRequest("token arrays are not supported as input; send text")
    if not texts:
        raise BadRequest("input must not be empty")
    result = await svc.embed(body.model, texts, True, body.dimensions)
    data = []
    for i, vec in enumerate(result.vectors):
        value: Any = vec
        if body.encoding_format == "base64":
            value = base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "embedding": value, "index": i})
    usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
    return {"object": "list", "data": data, "model": body.model, "usage": usage}
