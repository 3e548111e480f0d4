"""Tool calls in model output.

Small models emit tool calls as JSON in the message text: Qwen inside
`<tool_call>…</tool_call>`, others as a bare object, sometimes in a ```json fence.
llama.cpp's chat handlers do not turn these into structured calls, so the server
parses them itself (as Ollama does) and returns them as `tool_calls`.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)
_OPENERS = ("<tool_call>", "{", "[", "```")


def may_be_tool_call(text: str) -> bool:
    """Whether streamed output so far could still turn out to be a tool call.

    Used to hold back streamed text while a call may be forming, and to stream plain
    prose as soon as it clearly is not one.
    """
    head = text.lstrip()
    if not head:
        return True
    return any(head.startswith(o) or o.startswith(head) for o in _OPENERS)


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
    return text, []
