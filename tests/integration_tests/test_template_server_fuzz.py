"""Fuzzing Modelfiles and TEMPLATEs end to end (issue 14's fuzzers, server half).

Generated Modelfiles are parsed as the CLI parses them and created through `/api/create`;
each is refused with a 400, or gives a model that answers a chat (a 200, or a 400 when its
template renders past the bounds), on the real server and the tiny model. The server never
answers 5xx, stays alive, and its peak memory stays under `RSS_BOUND_MB`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from server.errors import BadRequest
from server.modelfile import parse_modelfile
from terraqore.client.agent_models import create_arguments
from tests.server_harness import TINY, RunningServer, start_server
from tests.template_strategies import modelfile_text, template_body

RSS_BOUND_MB = 1500  # the tiny model and its context, with room; a render blow-up is gigabytes
# Chats small enough for the tiny model's context: the template, not the chat, is under test.
SMALL_CHATS = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text(max_size=200)}
    ),
    max_size=12,
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"TERRAQORE_MAX_NUM_PREDICT": "2", "TERRAQORE_MAX_NUM_CTX": "2048"}
    srv = start_server(tmp_path_factory.mktemp("template-fuzz"), env)
    yield srv
    srv.stop()


PARAMETERS = st.dictionaries(
    st.sampled_from(["temperature", "num_ctx", "seed", "top_k", "stop"]),
    st.sampled_from([0.2, 1024, 7, 40, "<|im_end|>", -1, "hot"]),
    max_size=3,
)
CREATES = st.one_of(
    # A Modelfile, parsed as the CLI parses it.
    modelfile_text(),
    # Or the JSON create request itself, always with a template.
    st.fixed_dictionaries(
        {"template": template_body(), "parameters": PARAMETERS},
        optional={"system": st.text(max_size=200)},
    ),
)


def _create_body(spec: str | dict) -> dict | None:
    """The `/api/create` body for a generated spec; None when the Modelfile does not parse."""
    if isinstance(spec, dict):
        return {"model": "fuzz/t", "from": TINY, "stream": False, **spec}
    try:
        mf = parse_modelfile(spec)
    except BadRequest:
        return None  # the CLI stops here with the line's error; parsing has its own fuzzer
    args = create_arguments(mf, Path("."), "http://unused")
    if "from_" in args:
        args["from"] = args.pop("from_")
    return {"model": "fuzz/t", "stream": False, **args}


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(spec=CREATES, messages=SMALL_CHATS)
def test_generated_models_are_refused_or_serve(
    fuzz_server: RunningServer, spec: str | dict, messages: list[dict]
) -> None:
    body = _create_body(spec)
    if body is None:
        event("Modelfile refused by the parser")
        return
    created = httpx.post(f"{fuzz_server.url}/api/create", json=body, timeout=120)
    assert created.status_code in (200, 400), created.text
    if created.status_code == 200:
        chat = {"model": "fuzz/t", "messages": messages or [{"role": "user", "content": "hi"}]}
        answered = httpx.post(
            f"{fuzz_server.url}/api/chat", json={**chat, "stream": False}, timeout=120
        )
        assert answered.status_code in (200, 400), answered.text
        event(f"created, chat answered {answered.status_code}")
    else:
        event("refused at create")
    assert fuzz_server.alive()


def test_memory_stayed_bounded(fuzz_server: RunningServer) -> None:
    assert fuzz_server.alive()
    assert fuzz_server.peak_rss_mb() < RSS_BOUND_MB, f"peak RSS {fuzz_server.peak_rss_mb():.0f} MB"
