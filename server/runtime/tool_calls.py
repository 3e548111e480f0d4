"""Tool calls in model output.

Small models emit tool calls as JSON in the message text: Qwen inside
`<tool_call>…</tool_call>`, others as a bare object, sometimes in a ```json fence, and
sometimes after a sentence. llama.cpp's chat handlers do not turn these into structured
calls, so the server parses them itself (as Ollama does) and returns them as `tool_calls`.
The tool grammar (`tool_grammar.py`) makes sure what starts as a call ends as a valid one.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)
_FENCE_OPEN = re.compile(r"```(?:json)?\s*$")
_OBJECT_CALL = re.compile(r'\{\s*"name"\s*:')
# How a call can begin, without whitespace: text that could still grow into one of these
# (or already starts with one) is held back from the stream.
_OPENERS = ("<tool_call>", '{"name"', '```json{"name"', '```{"name"', "[{", "```json[{")
_STARTS = re.compile(r"[<{`\[]")


def _could_open(text: str) -> bool:
    compact = re.sub(r"\s+", "", text[:64])
    return any(o.startswith(compact) or compact.startswith(o) for o in _OPENERS)


def call_start(text: str, start: int = 0) -> int:
    """Where a tool call may begin in `text` at or after `start`; `len(text)` if nowhere.

    Text before it can be streamed; text from it on is held back until it is clearly not
    a call (or, at the end, parsed as one).
    """
    for match in _STARTS.finditer(text, start):
        if _could_open(text[match.start() :]):
            return match.start()
    return len(text)


def _as_call(obj: Any, names: set[str]) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(name, str) or not isinstance(args, dict):
        return None
    if names and name not in names:
        return None
    return {"function": {"name": name, "arguments": args}}


def _calls_from_json(text: str, names: set[str]) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    items = data if isinstance(data, list) else [data]
    calls = [_as_call(item, names) for item in items]
    return [c for c in calls if c is not None] if all(calls) else []


def _call_after_prose(text: str, names: set[str]) -> tuple[str, list[dict[str, Any]]]:
    """A call object that ends the text (a closing fence aside), with the prose before it."""
    decoder = json.JSONDecoder()
    for match in reversed(list(_OBJECT_CALL.finditer(text))):
        try:
            obj, end = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        call = _as_call(obj, names)
        if call is not None and text[end:].strip() in ("", "```"):
            prose = _FENCE_OPEN.sub("", text[: match.start()].rstrip()).strip()
            return prose, [call]
    return text, []


def parse_tool_calls(text: str, tool_names: set[str]) -> tuple[str, list[dict[str, Any]]]:
    """Split model output into (remaining content, tool calls in Ollama's shape)."""
    tagged = list(_TAGGED.finditer(text))
    if tagged:
        calls = []
        for match in tagged:
            calls.extend(_calls_from_json(match.group(1), tool_names))
        if calls:
            return _TAGGED.sub("", text).strip(), calls
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    calls = _calls_from_json(fenced.group(1) if fenced else stripped, tool_names)
    if calls:
        return "", calls
    return _call_after_prose(text, tool_names)
