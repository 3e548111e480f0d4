"""Talk Ollama's API to an OpenAI-compatible fallback.

The app's clients speak Ollama (`/api/chat`, `/api/generate`, `/api/embed`, `/api/show`).
When the fallback endpoint is OpenAI-compatible, each request is translated to `/v1`
and each answer translated back, streams included (SSE in, NDJSON out).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx


class Untranslatable(httpx.TransportError):
    """A call with no OpenAI-compatible equivalent (model management, say)."""


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body:  # /api/generate
        msgs = [{"role": "system", "content": body["system"]}] if body.get("system") else []
        return [*msgs, {"role": "user", "content": body.get("prompt") or ""}]
    out = []
    for m in body["messages"]:
        item: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
        if m.get("tool_calls"):
            item["tool_calls"] = [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": c["function"]["name"],
                        "arguments": json.dumps(c["function"].get("arguments") or {}),
                    },
                }
                for i, c in enumerate(m["tool_calls"])
            ]
        out.append(item)
    return out


def to_openai(
    request: httpx.Request, base: str, model: str | None
) -> tuple[httpx.Request, str, bool]:
    """The `/v1` request for an Ollama request: (request, kind, streamed)."""
    path = request.url.path
    body = json.loads(request.content or b"{}")
    name = model or body.get("model", "")
    headers = {
        k: v for k, v in request.headers.items() if k.lower() in ("authorization", "user-agent")
    }
    if path == "/api/show":
        return httpx.Request("GET", f"{base}/models/{name}", headers=headers), "show", False
    if path == "/api/embed":
        payload: dict[str, Any] = {"model": name, "input": body.get("input", "")}
        return (
            httpx.Request("POST", f"{base}/embeddings", json=payload, headers=headers),
            "embed",
            False,
        )
    if path not in ("/api/chat", "/api/generate"):
        raise Untranslatable(f"{path} has no OpenAI-compatible equivalent", request=request)
    opts = body.get("options") or {}
    stream = bool(body.get("stream", True))
    payload = {"model": name, "messages": _messages(body), "stream": stream}
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("seed", "seed"),
        ("stop", "stop"),
        ("num_predict", "max_tokens"),
        ("presence_penalty", "presence_penalty"),
        ("frequency_penalty", "frequency_penalty"),
    ):
        if opts.get(ours) is not None and not (ours == "num_predict" and opts[ours] < 0):
            payload[theirs] = opts[ours]
    fmt = body.get("format")
    if fmt == "json":
        payload["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, dict):
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fmt},
        }
    if body.get("tools"):
        payload["tools"] = body["tools"]
    if stream:
        payload["stream_options"] = {"include_usage": True}
    kind = "chat" if path == "/api/chat" else "generate"
    return (
        httpx.Request("POST", f"{base}/chat/completions", json=payload, headers=headers),
        kind,
        stream,
    )


def _calls(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls = []
    for c in raw:
        fn = c.get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except json.JSONDecodeError:
            args = {}
        calls.append({"function": {"name": fn.get("name", ""), "arguments": args}})
    return calls


def _final(
    kind: str,
    model: str,
    content: str,
    calls: list[dict[str, Any]],
    finish: str | None,
    usage: dict[str, Any] | None,
    whole: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": model,
        "created_at": _now(),
        "done": True,
        "done_reason": "length" if finish == "length" else "stop",
        "prompt_eval_count": (usage or {}).get("prompt_tokens", 0),
        "eval_count": (usage or {}).get("completion_tokens", 0),
        "total_duration": 0,
        "load_duration": 0,
        "prompt_eval_duration": 0,
        "eval_duration": 0,
    }
    text = content if whole else ""
    if kind == "chat":
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls and whole:
            message["tool_calls"] = calls
        out["message"] = message
    else:
        out["response"] = text
    return out


def _chunk(
    kind: str, model: str, text: str, calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    if kind == "chat":
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = calls
        return {"model": model, "created_at": _now(), "message": message, "done": False}
    return {"model": model, "created_at": _now(), "response": text, "done": False}


def translate_body(kind: str, model: str, data: dict[str, Any]) -> dict[str, Any]:
    """An Ollama answer from a whole (not streamed) OpenAI answer."""
    if kind == "show":
        return {
            "modelfile": "",
            "parameters": "",
            "template": "",
            "model_info": {},
            "details": {"format": "", "family": ""},
            "capabilities": ["completion"],
        }
    if kind == "embed":
        return {
            "model": model,
            "embeddings": [d["embedding"] for d in data.get("data", [])],
            "prompt_eval_count": (data.get("usage") or {}).get("prompt_tokens", 0),
        }
    choice = (data.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    return _final(
        kind,
        model,
        message.get("content") or "",
        _calls(message.get("tool_calls") or []),
        choice.get("finish_reason"),
        data.get("usage"),
        whole=True,
    )


class SseToNdjson:
    """Turns an OpenAI SSE stream into Ollama NDJSON lines."""

    def __init__(self, kind: str, model: str) -> None:
        self.kind, self.model = kind, model
        self.buffer = b""
        self.calls: dict[int, dict[str, str]] = {}
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        """NDJSON lines for the SSE bytes received so far."""
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            text = line.decode("utf-8", "replace").strip()
            if not text.startswith("data:"):
                continue
            payload = text[5:].strip()
            if payload == "[DONE]":
                yield from self._end()
                continue
            event = json.loads(payload)
            if "error" in event:
                yield (json.dumps({"error": str(event["error"])}) + "\n").encode()
                continue
            self.usage = event.get("usage") or self.usage
            for choice in event.get("choices") or []:
                delta = choice.get("delta") or {}
                self.finish = choice.get("finish_reason") or self.finish
                for c in delta.get("tool_calls") or []:
                    slot = self.calls.setdefault(
                        int(c.get("index", 0)), {"name": "", "arguments": ""}
                    )
                    fn = c.get("function") or {}
                    slot["name"] += fn.get("name") or ""
                    slot["arguments"] += fn.get("arguments") or ""
                if delta.get("content"):
                    yield (
                        json.dumps(_chunk(self.kind, self.model, delta["content"])) + "\n"
                    ).encode()

    def _end(self) -> Iterator[bytes]:
        calls = _calls([{"function": c} for _, c in sorted(self.calls.items())])
        if calls:
            yield (json.dumps(_chunk(self.kind, self.model, "", calls)) + "\n").encode()
        final = _final(self.kind, self.model, "", [], self.finish, self.usage, whole=False)
        yield (json.dumps(final) + "\n").encode()


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, upstream: httpx.Response, kind: str, model: str) -> None:
        self.upstream, self.bridge = upstream, SseToNdjson(kind, model)

    def __iter__(self) -> Iterator[bytes]:
        for data in self.upstream.stream:  # type: ignore[union-attr]
            yield from self.bridge.feed(data)

    def close(self) -> None:
        self.upstream.close()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, upstream: httpx.Response, kind: str, model: str) -> None:
        self.upstream, self.bridge = upstream, SseToNdjson(kind, model)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for data in self.upstream.stream:  # type: ignore[union-attr]
            for line in self.bridge.feed(data):
                yield line

    async def aclose(self) -> None:
        await self.upstream.aclose()


def _error(upstream_body: bytes, status: int) -> httpx.Response:
    try:
        err = json.loads(upstream_body).get("error")
        message = err.get("message") if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        message = upstream_body.decode("utf-8", "replace")[:500]
    return httpx.Response(status, json={"error": f"fallback: {message}"})


def from_openai(upstream: httpx.Response, kind: str, stream: bool, model: str) -> httpx.Response:
    """The Ollama response for an OpenAI response (sync transports)."""
    if upstream.status_code >= 400:
        return _error(upstream.read(), upstream.status_code)
    if stream:
        return httpx.Response(
            200,
            headers={"content-type": "application/x-ndjson"},
            stream=_SyncStream(upstream, kind, model),
        )
    return httpx.Response(200, json=translate_body(kind, model, json.loads(upstream.read())))


async def afrom_openai(
    upstream: httpx.Response, kind: str, stream: bool, model: str
) -> httpx.Response:
    """The Ollama response for an OpenAI response (async transports)."""
    if upstream.status_code >= 400:
        return _error(await upstream.aread(), upstream.status_code)
    if stream:
        return httpx.Response(
            200,
            headers={"content-type": "application/x-ndjson"},
            stream=_AsyncStream(upstream, kind, model),
        )
    return httpx.Response(200, json=translate_body(kind, model, json.loads(await upstream.aread())))
