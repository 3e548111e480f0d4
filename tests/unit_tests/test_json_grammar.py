from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.errors import BadRequest
from server.runtime.json_grammar import (
    _range_patterns,
    grammar_for,
    integer_range_rule,
    schema_to_gbnf,
)


def _regex(alternatives: list[str]) -> re.Pattern[str]:
    parts = []
    for alt in alternatives:
        parts.append(
            "".join(re.escape(t[1:-1]) if t.startswith('"') else t for t in alt.split(" "))
        )
    return re.compile("^(?:" + "|".join(parts) + ")$")


@settings(max_examples=300, deadline=None)
@given(lo=st.integers(0, 10**7), span=st.integers(0, 10**7), probe=st.integers(0, 3 * 10**7))
def test_range_patterns_match_exactly_the_range(lo: int, span: int, probe: int) -> None:
    hi = lo + span
    rx = _regex(_range_patterns(lo, hi))
    for n in (probe, lo, hi, lo - 1, hi + 1):
        if n >= 0:
            assert bool(rx.match(str(n))) == (lo <= n <= hi)
    assert not rx.match("0" + str(hi)) or hi == 0  # no leading zeros


def test_negative_ranges() -> None:
    rule = integer_range_rule(-12, 3)
    assert '"-"' in rule and rule.endswith("space")
    with pytest.raises(BadRequest):
        integer_range_rule(5, 1)


def test_json_strings_exclude_control_characters() -> None:
    gbnf = schema_to_gbnf({"type": "object", "properties": {"s": {"type": "string"}}})
    assert "\\x00-\\x1F" in gbnf


@pytest.mark.parametrize("keyword", [{"multipleOf": 2}, {"uniqueItems": True}, {"not": {}}])
def test_unenforceable_keywords_are_refused(keyword) -> None:
    with pytest.raises(BadRequest, match="cannot"):
        grammar_for({"type": "object", "properties": {"x": {"type": "array", **keyword}}})


def test_number_bounds_refused_integer_bounds_compiled() -> None:
    with pytest.raises(BadRequest, match="number"):
        grammar_for({"type": "number", "minimum": 0})
    gbnf = schema_to_gbnf(
        {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 5}}}
    )
    assert "[1-5]" in gbnf


@pytest.mark.parametrize("fmt", ["xml", 3, [1]])
def test_bad_format_values(fmt) -> None:
    with pytest.raises(BadRequest):
        grammar_for(fmt)  # type: ignore[arg-type]


def test_unanchored_pattern_is_400_not_500() -> None:
    with pytest.raises(BadRequest):
        grammar_for({"type": "string", "pattern": "abc"})


def test_string_lengths_use_bounded_repetition() -> None:
    gbnf = schema_to_gbnf(
        {
            "type": "object",
            "properties": {"s": {"type": "string", "minLength": 2, "maxLength": 1200}},
        }
    )
    assert "char{2,1200}" in gbnf and "(char (char" not in gbnf
    with pytest.raises(BadRequest, match="below minLength"):
        schema_to_gbnf({"type": "string", "minLength": 5, "maxLength": 2})
