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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.errors import BadRequest
from server.models.modelfile import parse_modelfile
from terraqore.agent_models import create_arguments
from tests.server_harness import RunningServer, start_server
from tests.template_strategies import modelfile_text

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


def _json_args(args: dict) -> dict:
    body = {k: v for k, v in args.items() if k != "from_"}
    if "from_" in args:
        body["from"] = args["from_"]
    return body


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(text=modelfile_text(), messages=SMALL_CHATS, use=st.booleans())
def test_generated_modelfiles_are_refused_or_serve(
    fuzz_server: RunningServer, text: str, messages: list[dict], use: bool
) -> None:
    try:
        mf = parse_modelfile(text)
    except BadRequest:
        return  # the CLI stops here with a 400-style error; parsing has its own fuzzer
    body = {
        "model": "fuzz/t",
        "stream": False,
        **_json_args(create_arguments(mf, Path("."), fuzz_server.url)),
    }
    created = httpx.post(f"{fuzz_server.url}/api/create", json=body, timeout=120)
    assert created.status_code in (200, 400), created.text
    if created.status_code == 200 and use:
        chat = {
            "model": "fuzz/t",
            "messages": messages or [{"role": "user", "content": "hi"}],
            "stream": False,
        }
        answered = httpx.post(f"{fuzz_server.url}/api/chat", json=chat, timeout=120)
        assert answered.status_code in (200, 400), answered.text
    assert fuzz_server.alive()


def test_memory_stayed_bounded(fuzz_server: RunningServer) -> None:
    assert fuzz_server.alive()
    assert fuzz_server.peak_rss_mb() < RSS_BOUND_MB, f"peak RSS {fuzz_server.peak_rss_mb():.0f} MB"
