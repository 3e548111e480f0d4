"""Schemas are bounded before they compile, and arrays compile to GBNF's own repetition.

A `maxItems` of 20,000 used to compile to 20,000 nested optionals, which overflowed
llama.cpp's parser stack and killed the server (issue 14, finding 1). The bounds refuse what
is too big with a 400 before llama.cpp or the converter sees it; what is accepted is checked
here against llama.cpp's own grammar sampler (the tiny model's vocabulary only).
"""

from __future__ import annotations

import json

import pytest

from server.errors import BadRequest
from server.runtime.json_grammar import (
    MAX_NESTING,
    MAX_REPEAT,
    check_schema_bounds,
    grammar_for,
    grammar_nesting,
)
from server.runtime.llama_model import ServerLlama
from tests.grammar_probe import feed, vocab_only


@pytest.fixture(scope="module")
def vocab() -> ServerLlama:
    return vocab_only()


def _array(**bounds: int) -> dict[str, object]:
    return {"type": "array", "items": {"type": "integer"}, **bounds}


@pytest.mark.parametrize(
    ("bounds", "text", "may_end"),
    [
        ({"minItems": 2, "maxItems": 3}, "[1, 2]", True),
        ({"minItems": 2, "maxItems": 3}, "[1", False),
        ({"maxItems": 2}, "[]", True),
        ({"minItems": 1}, "[4, 5, 6, 7, 8]", True),
        ({"maxItems": 0}, "[]", True),
    ],
)
def test_arrays_hold_their_bounds(vocab, bounds, text, may_end) -> None:
    grammar = grammar_for(_array(**bounds))
    assert grammar is not None
    end, refused = feed(vocab, grammar, text)
    assert refused is None and end == may_end


@pytest.mark.parametrize(
    ("bounds", "text", "refused"),
    [
        ({"minItems": 2, "maxItems": 3}, "[1]", "]"),
        ({"minItems": 2, "maxItems": 3}, "[1, 2, 3,", ","),
        ({"maxItems": 0}, "[1", "1"),
    ],
)
def test_arrays_refuse_what_breaks_their_bounds(vocab, bounds, text, refused) -> None:
    grammar = grammar_for(_array(**bounds))
    assert grammar is not None
    _, first_refused = feed(vocab, grammar, text)
    assert first_refused is not None and first_refused.strip() == refused


def test_the_largest_count_compiles_to_a_grammar_llama_cpp_takes(vocab) -> None:
    grammar = grammar_for(_array(maxItems=MAX_REPEAT))
    assert grammar is not None and len(grammar.gbnf) < 1000
    assert feed(vocab, grammar, "[" + ", ".join(["7"] * 50) + "]")[1] is None


@pytest.mark.parametrize(
    "schema",
    [
        _array(maxItems=100_000),
        _array(minItems=10_000_000),
        {"type": "string", "maxLength": MAX_REPEAT + 1},
        {"type": "string", "pattern": "^a{0,20000}$"},
        {"type": "array", "items": {"type": "integer"}, "maxItems": -1},
        {"type": "array", "items": {"type": "integer"}, "maxItems": "9"},
        {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 2},
    ],
)
def test_counts_out_of_bounds_are_400(schema) -> None:
    with pytest.raises(BadRequest, match="format schema"):
        grammar_for(schema)


def test_deep_or_huge_schemas_are_400_before_they_are_walked() -> None:
    deep: dict[str, object] = {"type": "string"}
    for _ in range(200):
        deep = {"type": "array", "items": deep}
    with pytest.raises(BadRequest, match="too large"):
        check_schema_bounds(deep)
    wide = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(6000)}}
    with pytest.raises(BadRequest, match="too large"):
        grammar_for(wide)


def test_patterns_that_nest_too_deep_are_400_and_small_ones_compile() -> None:
    with pytest.raises(BadRequest, match="too deeply nested"):
        grammar_for({"type": "string", "pattern": f"^a{{0,{MAX_NESTING * 2}}}$"})
    assert grammar_for({"type": "string", "pattern": "^a{0,50}$"}) is not None


def test_nesting_ignores_parentheses_inside_literals_and_classes() -> None:
    assert grammar_nesting('root ::= "((((" [()] ( "x" ( "y" )? )') == 2
    assert grammar_nesting(r'root ::= "\"(" ( [^"\\] )') == 1


def test_a_schema_is_compiled_once() -> None:
    schema = json.loads('{"type": "array", "items": {"type": "string"}, "maxItems": 4}')
    assert grammar_for(schema) is grammar_for(dict(schema))
