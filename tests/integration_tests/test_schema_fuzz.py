"""Fuzzing `format` schemas end to end (issue 14's schema fuzzer).

Generated schemas (large counts, deep nesting, big enums, recursive `$ref`, patterns with
big repetitions) go to `/api/generate` on the real server and the tiny model. Each gets a 200
or a 400; the server never answers 5xx, stays alive, and its peak memory stays under
`RSS_BOUND_MB`. Before the bounds, one `maxItems` of 20,000 killed the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.server_harness import TINY, RunningServer, start_server

RSS_BOUND_MB = 1500  # the tiny model and its context, with room; a grammar blow-up is gigabytes
COUNTS = st.one_of(st.integers(0, 50), st.sampled_from([999, 5000, 10_000, 20_000, 10**7, -3]))
PATTERNS = st.sampled_from(
    ["^a{0,%d}$", "^(ab|cd){1,%d}$", "^[a-z]{%d}$", "^x{%d,}$", "^(a(b(c)?)?){0,%d}$"]
).flatmap(lambda p: COUNTS.map(lambda n: p % abs(n)))
SCALARS = st.one_of(
    st.fixed_dictionaries({"type": st.just("integer")}, optional={"minimum": COUNTS}),
    st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={"minLength": COUNTS, "maxLength": COUNTS, "pattern": PATTERNS},
    ),
    st.fixed_dictionaries(
        {"enum": st.lists(st.text(max_size=20), min_size=1, max_size=3000, unique=True)}
    ),
    st.just({"type": "boolean"}),
)


def _extend(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("array"), "items": inner},
            optional={"minItems": COUNTS, "maxItems": COUNTS},
        ),
        st.builds(
            lambda props: {"type": "object", "properties": props, "required": sorted(props)[:2]},
            st.dictionaries(st.text("abcdef", min_size=1, max_size=4), inner, max_size=6),
        ),
        st.builds(lambda xs: {"anyOf": xs}, st.lists(inner, min_size=1, max_size=4)),
    )


RECURSIVE = st.just(
    {
        "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    }
)
SCHEMAS = st.one_of(st.recursive(SCALARS, _extend, max_leaves=30), RECURSIVE)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"TERRAQORE_MAX_NUM_PREDICT": "2", "TERRAQORE_MAX_NUM_CTX": "1024"}
    srv = start_server(tmp_path_factory.mktemp("schema-fuzz"), env)
    yield srv
    srv.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(schema=SCHEMAS)
def test_generated_schemas_are_refused_or_served(
    fuzz_server: RunningServer, schema: dict[str, Any]
) -> None:
    r = httpx.post(
        f"{fuzz_server.url}/api/generate",
        timeout=120,
        json={"model": TINY, "prompt": "JSON:", "format": schema, "stream": False},
    )
    event(f"status {r.status_code}")
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert "format" in r.json()["error"] or "grammar" in r.json()["error"], r.text
    assert fuzz_server.alive()


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "items": {"type": "integer"}, "maxItems": 100_000},
        {"type": "array", "items": {"type": "integer"}, "maxItems": 20_000},
        {"type": "array", "items": {"type": "integer"}, "minItems": 10_000_000},
        {"type": "string", "pattern": "^a{0,20000}$"},
    ],
)
def test_the_schemas_that_killed_or_stalled_the_server_are_400(
    fuzz_server: RunningServer, schema: dict[str, Any]
) -> None:
    r = httpx.post(
        f"{fuzz_server.url}/api/generate",
        timeout=60,
        json={"model": TINY, "prompt": "x", "format": schema, "stream": False},
    )
    assert r.status_code == 400 and "format schema" in r.json()["error"], r.text
    assert httpx.get(f"{fuzz_server.url}/healthz", timeout=5).status_code == 200


def test_a_large_legal_count_is_served(fuzz_server: RunningServer) -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "maxItems": 5000}
    r = httpx.post(
        f"{fuzz_server.url}/api/generate",
        timeout=120,
        json={"model": TINY, "prompt": "Numbers:", "format": schema, "stream": False},
    )
    assert r.status_code == 200, r.text


def test_memory_stayed_bounded(fuzz_server: RunningServer) -> None:
    assert fuzz_server.alive() and fuzz_server.peak_rss_mb() < RSS_BOUND_MB
