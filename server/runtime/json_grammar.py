"""JSON schema → llama.cpp grammar, so that constrained output always validates.

llama-cpp-python's converter does the heavy lifting. We add what it leaves out and
what a schema-valid answer needs: integer `minimum`/`maximum` (and the exclusive
forms) are compiled into the grammar, and keywords no grammar can enforce are
refused up front with a clear error rather than silently ignored.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

import llama_cpp.llama_grammar as lg

from server.errors import BadRequest
from server.runtime.engine_types import Grammar

# Keywords a context-free grammar cannot (or llama.cpp's converter does not) enforce.
# (Bounds on numbers are refused too, but only where they apply: see `_Converter.visit`.)
UNENFORCEABLE = {
    "multipleOf",
    "uniqueItems",
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "contains",
    "minContains",
    "maxContains",
    "minProperties",
    "maxProperties",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
}
NUMBER_BOUNDS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
MAX_REPEAT = 10_000
"""Largest count a schema may give (`minItems`, `maxItems`, `minLength`, `maxLength`, a
pattern's `{m,n}`): a bigger one is refused (400), never compiled."""
MAX_NESTING = 256
"""Deepest nesting of groups in a compiled grammar. llama.cpp's parser recurses once per
level: past about 1,500 it refuses, and far past it overflows its stack and kills the process
(a pattern's `a{0,20000}` compiles to 20,000 nested optionals)."""
MAX_SCHEMA_NODES = 5_000
"""Objects and arrays in a schema at most (a schema is bounded before it is walked)."""
MAX_SCHEMA_DEPTH = 64
"""Deepest nesting of a schema's JSON."""
MAX_GRAMMAR_BYTES = 256 * 1024
"""Largest compiled grammar text."""
_COUNTS = ("minItems", "maxItems", "minLength", "maxLength")
_QUANTIFIER = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_MAX_DIGITS = 15  # bounds are applied within ±(10^15 - 1): JSON numbers stay exact in doubles
_LIMIT = 10**_MAX_DIGITS - 1


def _digit_class(lo: str, hi: str) -> str:
    return f'"{lo}"' if lo == hi else f"[{lo}-{hi}]"


def _same_width(lo: str, hi: str) -> list[str]:
    """GBNF sequences for the digit strings of equal width between lo and hi (zeros kept)."""
    if len(lo) == 1:
        return [_digit_class(lo, hi)]
    if lo[0] == hi[0]:
        return [f'"{lo[0]}" {tail}' for tail in _same_width(lo[1:], hi[1:])]
    width = len(lo) - 1
    out: list[str] = []
    first, last = int(lo[0]), int(hi[0])
    if lo[1:] != "0" * width:
        out += [f'"{lo[0]}" {tail}' for tail in _same_width(lo[1:], "9" * width)]
        first += 1
    if hi[1:] != "9" * width:
        last -= 1
    if first <= last:
        out.append(" ".join([_digit_class(str(first), str(last)), *["[0-9]"] * width]))
    if hi[1:] != "9" * width:
        out += [f'"{hi[0]}" {tail}' for tail in _same_width("0" * width, hi[1:])]
    return out


def _range_patterns(lo: int, hi: int) -> list[str]:
    """GBNF sequences matching exactly the decimal integers in [lo, hi], for 0 <= lo <= hi."""
    out: list[str] = []
    for width in range(len(str(lo)), len(str(hi)) + 1):
        sub_lo = max(lo, 10 ** (width - 1) if width > 1 else 0)
        sub_hi = min(hi, 10**width - 1)
        if sub_lo <= sub_hi:
            out += _same_width(str(sub_lo), str(sub_hi))
    return out


def integer_range_rule(lo: int | None, hi: int | None) -> str:
    """A GBNF alternative matching the integers in [lo, hi] (open ends bounded at ±10^15)."""
    lo = -_LIMIT if lo is None else max(lo, -_LIMIT)
    hi = _LIMIT if hi is None else min(hi, _LIMIT)
    if lo > hi:
        raise BadRequest(f"integer range [{lo}, {hi}] in the format schema is empty")
    alts: list[str] = []
    if lo < 0:
        neg_hi, neg_lo = -lo, max(1, -hi) if hi < 0 else 1
        alts += [f'"-" {p}' for p in _range_patterns(neg_lo, neg_hi)]
    if hi >= 0:
        alts += _range_patterns(max(lo, 0), hi)
    return "(" + " | ".join(f"({a})" for a in alts) + ") space"


# JSON forbids raw control characters in strings; llama-cpp-python's `char` rule allows them.
_JSON_CHAR = lg.BuiltinRule(
    r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" '
    r"[0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])",
    [],
)


class _Converter(lg.SchemaConverter):
    def _add_primitive(self, name: str, rule: Any) -> str:
        return str(super()._add_primitive(name, _JSON_CHAR if name == "char" else rule))

    def visit(self, schema: dict[str, Any], name: str) -> str:
        if isinstance(schema, dict):
            bad = sorted(UNENFORCEABLE & schema.keys())
            if bad:
                raise BadRequest(
                    f"format schema uses {', '.join(bad)}, which constrained decoding cannot "
                    "enforce; remove it or validate that part yourself"
                )
            kind = schema.get("type")
            if (
                kind == "string"
                and ({"minLength", "maxLength"} & schema.keys())
                and not {"pattern", "format", "enum", "const"} & schema.keys()
            ):
                # GBNF's {m,n}: the converter's nested optionals exceed llama.cpp's limits
                # for long strings (and a rejected grammar must never reach a sampler).
                min_len, max_len = int(schema.get("minLength", 0)), schema.get("maxLength")
                if max_len is not None and int(max_len) < min_len:
                    raise BadRequest(
                        f"format schema: maxLength {max_len} is below minLength {min_len}"
                    )
                char = self._add_primitive("char", _JSON_CHAR)
                upper = "" if max_len is None else str(int(max_len))
                rule = f'"\\"" {char}{{{min_len},{upper}}} "\\"" space'
                rule_name = name + "-" if name in lg.RESERVED_NAMES else name or "root"
                return str(self._add_rule(rule_name, rule))  # type: ignore[no-untyped-call]
            if kind == "array" and isinstance(schema.get("items"), dict):
                return self._array(schema, name)
            bounds = NUMBER_BOUNDS & schema.keys()
            if kind == "number" and bounds:
                raise BadRequest(
                    "format schema bounds a number (minimum/maximum), which constrained decoding "
                    "cannot enforce; use an integer or an enum"
                )
            if kind == "integer" and bounds:
                lo, hi = schema.get("minimum"), schema.get("maximum")
                if "exclusiveMinimum" in schema:
                    lo = max(lo if lo is not None else -_LIMIT, int(schema["exclusiveMinimum"]) + 1)
                if "exclusiveMaximum" in schema:
                    hi = min(hi if hi is not None else _LIMIT, int(schema["exclusiveMaximum"]) - 1)
                lo = None if lo is None else math.ceil(lo)
                hi = None if hi is None else math.floor(hi)
                rule_name = name + "-" if name in lg.RESERVED_NAMES else name or "root"
                rule = integer_range_rule(lo, hi)
                return str(self._add_rule(rule_name, rule))  # type: ignore[no-untyped-call]
        return str(super().visit(schema, name))  # type: ignore[no-untyped-call]

    def _array(self, schema: dict[str, Any], name: str) -> str:
        """An array as GBNF's own `{m,n}` (the converter nests one optional per item)."""
        item = self.visit(schema["items"], f"{name}{'-' if name else ''}item")
        low, high = int(schema.get("minItems", 0)), schema.get("maxItems")
        if high is not None and int(high) < low:
            raise BadRequest(f"format schema: maxItems {high} is below minItems {low}")
        more = f'( "," space {item} )'
        if high is not None and int(high) == 0:
            body = ""
        elif low == 0:
            upper = "*" if high is None else f"{{0,{int(high) - 1}}}"
            body = f"( {item} {more}{upper} )?"
        else:
            upper = "" if high is None else str(int(high) - 1)
            body = f"{item} {more}{{{low - 1},{upper}}}"
        rule_name = name + "-" if name in lg.RESERVED_NAMES else name or "root"
        return str(self._add_rule(rule_name, f'"[" space {body} "]" space'))  # type: ignore[no-untyped-call]


def check_schema_bounds(schema: Any) -> None:
    """Refuse (400) a schema too big, too deep or with too large a count, before compiling it."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        nodes += 1
        if nodes > MAX_SCHEMA_NODES or depth > MAX_SCHEMA_DEPTH:
            raise BadRequest(
                f"format schema is too large (at most {MAX_SCHEMA_NODES} objects and arrays, "
                f"nested at most {MAX_SCHEMA_DEPTH} deep)"
            )
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children)
        if not isinstance(node, dict):
            continue
        counts = [(key, node[key]) for key in _COUNTS if key in node]
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            counts += [
                ("pattern", int(n)) for m in _QUANTIFIER.finditer(pattern) for n in m.groups() if n
            ]
        for key, value in counts:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise BadRequest(f"format schema: {key} must be a non-negative integer")
            if value > MAX_REPEAT:
                raise BadRequest(
                    f"format schema: {key} {value} is above {MAX_REPEAT}, the largest count "
                    "constrained decoding accepts; lower it, or omit it and check the size yourself"
                )


def grammar_nesting(gbnf: str) -> int:
    """Deepest nesting of parentheses in GBNF text, outside literals and character classes."""
    depth = deepest = 0
    quote: str | None = None
    escaped = False
    for ch in gbnf:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in '"[':
            quote = "]" if ch == "[" else ch
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    return deepest


def new_converter() -> Any:
    """llama-cpp-python's schema converter with our additions (bounds, lengths, refusals)."""
    return _Converter(  # type: ignore[no-untyped-call]
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """The GBNF grammar for a JSON schema, or `BadRequest` naming what cannot be enforced."""
    check_schema_bounds(schema)
    converter = new_converter()
    try:
        resolved = converter.resolve_refs(schema, "stdin")
        converter.visit(resolved, "")
        gbnf = str(converter.format_grammar())
    except BadRequest:
        raise
    except Exception as exc:  # the converter asserts and raises on what it cannot parse
        raise BadRequest(f"invalid format schema: {exc or type(exc).__name__}") from exc
    if len(gbnf) > MAX_GRAMMAR_BYTES or grammar_nesting(gbnf) > MAX_NESTING:
        raise BadRequest(
            "format schema compiles to a grammar too large or too deeply nested for llama.cpp "
            "(a pattern's {m,n} nests one level per optional repeat); simplify it"
        )
    return gbnf


@lru_cache(maxsize=64)
def _compile(kind: str, text: str) -> Grammar:
    if kind == "json":
        return Grammar(lg.JSON_GBNF)
    return Grammar(schema_to_gbnf(json.loads(text)))


def grammar_for(fmt: str | dict[str, Any] | None) -> Grammar | None:
    """A grammar for Ollama's `format`: `"json"`, a JSON schema object, or nothing."""
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return _compile("json", "")
    if isinstance(fmt, dict):
        try:
            return _compile("schema", json.dumps(fmt, sort_keys=True))
        except BadRequest:
            raise
        except Exception as exc:
            raise BadRequest(f"invalid format schema: {exc}") from exc
    raise BadRequest(f'invalid format {fmt!r}: use "json" or a JSON schema object')
