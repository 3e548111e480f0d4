"""The subset of Go's text/template that Ollama's library templates use, for TEMPLATE.

Supported: text; `{{ .System }}`, `{{ .Prompt }}`, `{{ .Response }}`; `{{ range .Messages }}`
with `.Role` and `.Content` (and `$.System` inside); `if` / `else if` / `else` / `end`;
the functions `eq`, `ne`, `and`, `or`, `not`; string literals; `{{-` and `-}}` trimming;
`{{/* comments */}}`. Anything else is refused when the model is created, so a
template never renders a wrong prompt at run time.

Bounded: a `range` inside a `range` is refused at create time (it renders n^k text), and a
render stops with a 400 past `MAX_RENDER_CHARS` characters or `MAX_RENDER_SECONDS`, whatever
the template and the messages, so the renderer needs no caller to bound it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from server.errors import BadRequest

_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
_TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|\$\.[A-Za-z_]\w*|\.[A-Za-z_]\w*|\.|[A-Za-z_]\w*)')
_FIELDS = {"System", "Prompt", "Response", "Messages", "Role", "Content"}
_FUNCS = {"eq", "ne", "and", "or", "not"}
RESPONSE_MARK = "\x00RESPONSE\x00"
MAX_RANGE_DEPTH = 1
"""Ranges may not nest: Ollama's templates range once over the messages."""
MAX_RENDER_CHARS = 16 * 1024 * 1024
"""A prompt larger than the largest request body (16 MiB by default) is not a real chat."""
MAX_RENDER_SECONDS = 5.0
"""Work a template may do without writing (many `if`s per message) is bounded by time."""
_CHECK_EVERY = 256  # nodes between two clock reads


class TemplateUnsupported(BadRequest):
    """A TEMPLATE uses something outside the supported subset."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"TEMPLATE: {problem}. Supported: .System .Prompt .Response, range .Messages with "
            ".Role .Content, if/else/end with eq ne and or not. Leave TEMPLATE out to use the "
            "model's own chat template."
        )


class TemplateTooLarge(BadRequest):
    """A render went past its size or time bound."""


class RenderBudget:
    """What one render (or one chat's turns together) may produce and spend."""

    def __init__(
        self, max_chars: int = MAX_RENDER_CHARS, max_seconds: float = MAX_RENDER_SECONDS
    ) -> None:
        self.chars_left = max_chars
        self.max_chars = max_chars
        self.max_seconds = max_seconds
        self.deadline = time.monotonic() + max_seconds
        self.steps = 0

    def spend(self, chars: int) -> None:
        """Account for one node and the characters it wrote; raise past a bound."""
        self.chars_left -= chars
        if self.chars_left < 0:
            raise TemplateTooLarge(
                f"TEMPLATE renders more than {self.max_chars} characters for this request; "
                "shorten the messages or the template"
            )
        self.steps += 1
        if self.steps % _CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TemplateTooLarge(
                f"TEMPLATE took longer than {self.max_seconds:g}s to render for this request"
            )


@dataclass
class _Node:
    kind: str  # text | print | if | range
    text: str = ""
    expr: Any = None
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


def _parse_expr(source: str) -> Any:
    tokens: list[str] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if not m:
            raise TemplateUnsupported(f"cannot read {source[pos:].strip()!r}")
        tokens.append(m.group(1))
        pos = m.end()

    def operand(i: int) -> tuple[Any, int]:
        if i >= len(tokens):
            raise TemplateUnsupported(f"incomplete expression {source.strip()!r}")
        tok = tokens[i]
        if tok == "(":
            value, j = call(i + 1)
            if j >= len(tokens) or tokens[j] != ")":
                raise TemplateUnsupported(f"unbalanced parentheses in {source.strip()!r}")
            return value, j + 1
        if tok.startswith('"'):
            return ("str", bytes(tok[1:-1], "utf-8").decode("unicode_escape")), i + 1
        if tok.startswith("$.") or (tok.startswith(".") and tok != "."):
            name = tok.split(".", 1)[1]
            if name not in _FIELDS:
                raise TemplateUnsupported(f"unknown field {tok}")
            return ("field", tok.startswith("$"), name), i + 1
        if tok == ".":
            return ("dot",), i + 1
        raise TemplateUnsupported(f"{tok!r} is not supported")

    def call(i: int) -> tuple[Any, int]:
        if i < len(tokens) and tokens[i] in _FUNCS:
            fn, j = tokens[i], i + 1
            args = []
            while j < len(tokens) and tokens[j] != ")":
                arg, j = operand(j)
                args.append(arg)
            arity = {"not": (1, 1), "eq": (2, 9), "ne": (2, 2)}.get(fn, (1, 9))
            if not arity[0] <= len(args) <= arity[1]:
                raise TemplateUnsupported(f"wrong number of arguments to {fn}")
            return ("call", fn, args), j
        if i < len(tokens) and re.fullmatch(r"[A-Za-z_]\w*", tokens[i]):
            raise TemplateUnsupported(f"function or keyword {tokens[i]!r} is not supported")
        return operand(i)

    expr, end = call(0)
    if end != len(tokens):
        raise TemplateUnsupported(f"unexpected {' '.join(tokens[end:])!r}")
    return expr


def _parse(text: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node, list[_Node]]] = []
    current = root
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(text):
        chunk = text[pos : m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        if chunk:
            current.append(_Node("text", text=chunk))
        pos, trim_next = m.end(), bool(m.group(3))
        action = m.group(2).strip()
        if action.startswith("/*"):
            if not action.endswith("*/"):
                raise TemplateUnsupported("unterminated comment")
            continue
        word, _, rest = action.partition(" ")
        if word == "if":
            node = _Node("if", expr=_parse_expr(rest))
            current.append(node)
            stack.append((node, current))
            current = node.body
        elif word == "range":
            expr = _parse_expr(rest)
            if expr[:1] != ("field",) or expr[2] != "Messages":
                raise TemplateUnsupported("range is supported over .Messages only")
            if sum(1 for open_node, _ in stack if open_node.kind == "range") >= MAX_RANGE_DEPTH:
                raise TemplateUnsupported("range inside range is not supported (it renders n^2)")
            node = _Node("range", expr=expr)
            current.append(node)
            stack.append((node, current))
            current = node.body
        elif word == "else":
            if not stack or stack[-1][0].kind != "if" or current is stack[-1][0].orelse:
                raise TemplateUnsupported("else without if")
            node = stack[-1][0]
            current = node.orelse
            sub, _, cond = rest.partition(" ")
            if sub == "if":
                inner = _Node("if", text="elseif", expr=_parse_expr(cond))
                current.append(inner)
                stack.append((inner, current))
                current = inner.body
            elif rest:
                raise TemplateUnsupported(f"else {rest!r}")
        elif word == "end":
            if not stack:
                raise TemplateUnsupported("end without if or range")
            node, current = stack.pop()
            while node.text == "elseif":  # `else if` chains close with one end
                node, current = stack.pop()
        elif word in (
            "define",
            "template",
            "block",
            "with",
            "break",
            "continue",
        ) or word.startswith("$"):
            raise TemplateUnsupported(f"{word!r} is not supported")
        else:
            current.append(_Node("print", expr=_parse_expr(action)))
    if stack:
        raise TemplateUnsupported(f"{stack[-1][0].kind} without end")
    tail = text[pos:]
    if trim_next:
        tail = tail.lstrip()
    if tail:
        current.append(_Node("text", text=tail))
    return root


def _truthy(value: Any) -> bool:
    return bool(value)


class GoTemplate:
    """A parsed, validated template."""

    def __init__(self, text: str) -> None:
        if ".Tools" in text or ".ToolCalls" in text:
            raise TemplateUnsupported("tools in a Go TEMPLATE are not supported")
        self.text = text
        self.nodes = _parse(text)
        self.uses_messages = ".Messages" in text

    def _eval(self, expr: Any, root: dict[str, Any], dot: Any) -> Any:
        kind = expr[0]
        if kind == "str":
            return expr[1]
        if kind == "dot":
            return dot
        if kind == "field":
            scope = root if expr[1] or not isinstance(dot, dict) else dot
            return scope.get(expr[2], "")
        fn, args = expr[1], [self._eval(a, root, dot) for a in expr[2]]
        if fn == "eq":
            return any(args[0] == a for a in args[1:])
        if fn == "ne":
            return args[0] != args[1]
        if fn == "not":
            return not _truthy(args[0])
        if fn == "and":
            return next((a for a in args if not _truthy(a)), args[-1])
        return next((a for a in args if _truthy(a)), args[-1])

    def _run(
        self,
        nodes: list[_Node],
        root: dict[str, Any],
        dot: Any,
        out: list[str],
        budget: RenderBudget,
    ) -> None:
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
                budget.spend(len(node.text))
            elif node.kind == "print":
                out.append(str(self._eval(node.expr, root, dot)))
                budget.spend(len(out[-1]))
            elif node.kind == "if":
                budget.spend(0)
                branch = node.body if _truthy(self._eval(node.expr, root, dot)) else node.orelse
                self._run(branch, root, dot, out, budget)
            elif node.kind == "range":
                for item in self._eval(node.expr, root, dot) or []:
                    budget.spend(0)
                    self._run(node.body, root, item, out, budget)

    def render(self, values: dict[str, Any], budget: RenderBudget | None = None) -> str:
        """Render with `values` as the root (`.System`, `.Messages`, …), within `budget`.

        `TemplateTooLarge` (a 400) is raised past the budget's size or time.
        """
        out: list[str] = []
        self._run(self.nodes, values, values, out, budget or RenderBudget())
        return "".join(out)


def render_chat(
    template: GoTemplate, messages: list[dict[str, Any]], budget: RenderBudget | None = None
) -> str:
    """Render a chat the way Ollama does for Go templates.

    A template over `.Messages` renders once. A legacy `.System/.Prompt/.Response`
    template renders turn by turn, and the last turn is cut where `.Response` goes.
    """
    budget = budget or RenderBudget()  # one budget for every turn of the chat
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m["role"] == "system")
    if template.uses_messages:
        msgs = [{"Role": m["role"], "Content": m.get("content") or ""} for m in messages]
        values = {"System": system, "Messages": msgs, "Prompt": "", "Response": ""}
        return template.render(values, budget)
    turns: list[tuple[str, str | None]] = []
    for m in messages:
        if m["role"] == "user":
            turns.append((str(m.get("content") or ""), None))
        elif m["role"] == "assistant" and turns and turns[-1][1] is None:
            turns[-1] = (turns[-1][0], str(m.get("content") or ""))
    if not turns:
        turns = [("", None)]
    out = []
    for i, (prompt, response) in enumerate(turns):
        last = i == len(turns) - 1 and response is None
        text = template.render(
            {
                "System": system if i == 0 else "",
                "Prompt": prompt,
                "Response": RESPONSE_MARK if last else (response or ""),
                "Messages": [],
            },
            budget,
        )
        out.append(text.split(RESPONSE_MARK, 1)[0] if last else text)
    return "".join(out)
