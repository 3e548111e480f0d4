"""Property-based contract test: Ollama's own OpenAPI spec against the running server.

Schemathesis generates requests from the vendored spec (server/api/contract/ollama-openapi.yaml)
for every route, `/api/push` included, sent with an API key to a server that requires one.
Half of the generated bodies are pointed at the real tiny model, so the inference paths are
fuzzed too, not only the 404s. The server must never answer 5xx, every documented response must
match its schema, and the server's memory stays under a stated bound. The spec is part of the
repository: if it is missing the tests fail, they never skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import openapi
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.server_harness import TINY, RunningServer, start_server

SPEC = Path(__file__).resolve().parents[2] / "server" / "api" / "contract" / "ollama-openapi.yaml"
KEY = "fuzz-key-0123456789"


GROWTH: list[tuple[float, float, str]] = []
"""(rise of the server's peak memory in MiB, the peak after, the request) for every request."""


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # Capped generation keeps hundreds of real inferences within minutes.
    env = {
        "TERRAQORE_MAX_NUM_PREDICT": "8",
        "TERRAQORE_MAX_NUM_CTX": "2048",
        "TERRAQORE_API_KEYS": KEY,
        "TERRAQORE_REGISTER_INSTALLED": "0",
    }
    home = tmp_path_factory.mktemp("fuzz-home")
    # Only the tiny model is in this home. Hypothesis also draws strings from the project's
    # own source, so a generated body can name any installed model: in CI one asked the
    # 1.5B for an embedding. The bound below is about what a request makes the server build,
    # not about which model it names; the budget tests cover the large ones.
    register = [sys.executable, "-m", "server.models.catalog", TINY]
    subprocess.run(register, env={**os.environ, "TERRAQORE_HOME": str(home)}, check=True)
    srv = start_server(home, env)
    GROWTH.append((srv.peak_rss_mb(), srv.peak_rss_mb(), "the server's start"))
    # Wrapped here, not inside the property: Hypothesis seeds the derandomized examples from
    # the property's source, so the requests stay the same ones whether traced or not.
    call = schemathesis.Case.call_and_validate
    patch = pytest.MonkeyPatch()

    def traced(case: schemathesis.Case, *args: Any, **kwargs: Any) -> Any:
        before = srv.peak_rss_mb()
        try:
            return call(case, *args, **kwargs)
        finally:
            after = srv.peak_rss_mb()
            GROWTH.append((after - before, after, f"{case.method} {case.path} {case.body!r:.300}"))

    patch.setattr(schemathesis.Case, "call_and_validate", traced)
    yield srv
    patch.undo()
    srv.stop()


def _operations() -> list[schemathesis.APIOperation]:
    # No existence check: a missing spec raises here, at collection, and fails the run.
    schema = openapi.from_path(str(SPEC))
    return [r.ok() for r in schema.get_all_operations()]


@pytest.mark.parametrize(
    "operation", _operations(), ids=lambda op: f"{op.method.upper()} {op.path}"
)
def test_spec_conformance(fuzz_server: RunningServer, operation: schemathesis.APIOperation) -> None:
    @settings(
        max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy(), real_model=st.booleans())
    def run(case: schemathesis.Case, real_model: bool) -> None:
        if real_model and isinstance(case.body, dict) and "model" in case.body:
            case.body["model"] = TINY
        case.call_and_validate(
            base_url=fuzz_server.url,
            headers={"Authorization": f"Bearer {KEY}"},
            checks=[not_a_server_error, response_schema_conformance],
            timeout=120,
        )
        assert fuzz_server.alive()

    run()


def test_every_spec_route_is_fuzzed() -> None:
    assert SPEC.is_file(), f"the vendored contract is missing: {SPEC}"
    assert (SPEC.parent / "ollama-openapi.LICENSE").is_file()
    paths = {(op.method.upper(), op.path) for op in _operations()}
    assert len(paths) == 12
    assert {("POST", "/api/create"), ("DELETE", "/api/delete"), ("POST", "/api/push")} <= paths


RSS_BOUND_MB = 1000
"""The tiny model (the only one in the fuzz home) and its contexts fit well under this (499 MB
with four sequences, 506 with six); four copies of its embedding runner, 1,098 MB; a request that
made the server build something huge (a render, a padded batch) would not."""


def test_the_fuzzed_server_stayed_alive_and_its_memory_bounded(fuzz_server: RunningServer) -> None:
    # Runs after the conformance tests (file order), on the same server.
    assert fuzz_server.alive()
    worst = "\n".join(f"+{d:.0f} MiB to {p:.0f}: {r}" for d, p, r in sorted(GROWTH)[-5:])
    assert fuzz_server.peak_rss_mb() < RSS_BOUND_MB, (
        f"peak RSS {fuzz_server.peak_rss_mb():.0f} MB; the requests that raised it most:\n{worst}"
    )
