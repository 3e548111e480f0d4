"""A lazy grammar for tool calls: the model writes freely until a call starts, then validly.

With `tools` given, a small model sometimes writes a call after a sentence, in a ```json
fence, or with a name that is not one of the tools. This grammar lets the answer be prose,
and from the moment a call begins constrains the rest: the name is one of the tools, the
arguments follow that tool's parameter schema, and after the call only a closing tag (and
more tagged calls) or a closing fence may follow. A call begins with the `<tool_call>` tag,
with an object opening with `{"name"`, or with any object that opens the answer (where the
template expects a call).

llama.cpp feeds the grammar the text from where the trigger matched to the end of the
output so far, and aborts the process if the grammar rejects it. So each trigger pattern
matches only at the end of the output, and only text that is a prefix of the start of a
valid call: the grammar always accepts what it is fed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from server.runtime.engine_types import Grammar
from server.runtime.json_grammar import NUMBER_BOUNDS, UNENFORCEABLE, new_converter

_WS = "[ \\t\\n]{0,20}"  # the same whitespace in the grammar and in the trigger patterns
TAG_OPEN = "<tool_call>"
_REGEX_SPECIAL = set("\\^$.|?*+()[]{}")


def _esc(text: str) -> str:
    """Escape a literal for an ECMAScript regex (std::regex rejects escapes it does not know)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def _optional_chain(atoms: list[str]) -> str:
    """A regex matching any prefix (the empty one too) of the concatenated atoms."""
    out = ""
    for atom in reversed(atoms):
        out = f"(?:{atom}{out})?"
    return out


def trigger_patterns(names: list[str]) -> tuple[str, ...]:
    """Where a call starts (the tag, `{"name"`, a brace opening the answer), and more of it.

    The opening runs up to the end of a tool's name, so a token that carries the start of
    the name with the quote still triggers, and only a real tool's name does.
    """
    encoded = [json.dumps(n)[1:] for n in names]  # as in a JSON string, closing quote included
    endings = {_esc(e[:k]) for e in encoded for k in range(1, len(e) + 1)}
    name_prefix = "(?:" + "|".join(sorted(endings, key=lambda e: (-len(e), e))) + ")"
    after_key = [_WS, ":", _WS, '"', name_prefix]
    key = _esc("{") + _WS + _esc('"name"')
    tagged = _esc(TAG_OPEN) + _optional_chain([_WS, key, *after_key])
    bare = key + _optional_chain(after_key)
    # An answer that opens with an object (in a fence or not) is where a call is expected:
    # from the brace on, even before `"name"` is written.
    first = _esc("{") + _optional_chain([_WS, *map(_esc, '"name"'), *after_key])
    opening = f"^[ \\t\\n]*(?:```(?:json)?[ \\t\\n]*)?({first})$"
    return (f"({tagged})$", f"({bare})$", opening)


def _relaxed(schema: Any) -> Any:
    """The schema without the keywords no grammar can enforce (the rest is still enforced)."""
    if isinstance(schema, list):
        return [_relaxed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    dropped = UNENFORCEABLE | (NUMBER_BOUNDS if schema.get("type") == "number" else set())
    return {k: _relaxed(v) for k, v in schema.items() if k not in dropped}


def _arguments_rule(converter: Any, schema: Any, name: str) -> str:
    """The rule for one tool's arguments: its parameter schema, relaxed where it must be.

    Tools are hints in Ollama's API, so a schema the grammar cannot express never fails the
    request: what cannot be enforced is dropped, and a schema that still does not convert
    leaves the arguments any JSON object.
    """
    schema = _relaxed(schema)
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        schema = {"type": "object"}
    try:
        trial = new_converter()
        trial.visit(trial.resolve_refs(schema, name), name)
    except Exception:  # BadRequest, or the converter's own asserts
        schema = {"type": "object"}
    return str(converter.visit(converter.resolve_refs(schema, name), name))


@lru_cache(maxsize=64)
def _compile(tools_json: str) -> Grammar | None:
    tools = json.loads(tools_json)
    converter = new_converter()
    alternatives = []
    names = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        name = function["name"]
        names.append(name)
        args = _arguments_rule(converter, function.get("parameters"), f"tool-{i}-arguments")
        literal = converter._format_literal(json.dumps(name))
        alternatives.append(
            f'{literal} tool-ws "," tool-ws "\\"arguments\\"" tool-ws ":" tool-ws {args}'
        )
    if not names:
        return None
    rules = {
        "root": 'tool-tagged (tool-ws tool-tagged)* | tool-call (tool-ws "```")?',
        "tool-tagged": f'"{TAG_OPEN}" tool-ws tool-call tool-ws "</tool_call>"',
        "tool-call": '"{" tool-ws "\\"name\\"" tool-ws ":" tool-ws ('
        + " | ".join(alternatives)
        + ') tool-ws "}"',
        "tool-ws": _WS,
    }
    for rule_name, rule in rules.items():
        converter._rules[rule_name] = rule
    return Grammar(
        gbnf=str(converter.format_grammar()),
        trigger_patterns=trigger_patterns(names),
        trigger_texts=(TAG_OPEN,),
    )


def tool_call_grammar(tools: list[dict[str, Any]] | None) -> Grammar | None:
    """The lazy grammar for a request's tools (None without tools)."""
    if not tools:
        return None
    return _compile(json.dumps(tools, sort_keys=True))
