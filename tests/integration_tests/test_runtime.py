"""The runtime with the real server and models: loads that do not block, shared runners,
the prefix cache, prompt-lookup drafts and the tool-call grammar."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server_harness import CHAT, TINY, RunningServer, start_server

BIG = "qwen2.5-coder:1.5b"


def _metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _generate(url: str, model: str, prompt: str, **options: object) -> dict:
    r = httpx.post(
        f"{url}/api/generate",
        json={"model": model, "prompt": prompt, "stream": False, "options": options},
        timeout=300,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_loading_a_model_does_not_hold_up_one_already_loaded(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home")
    try:
        _generate(srv.url, TINY, "")  # loaded
        done: dict[str, float] = {}

        def load_big() -> None:
            # A large context makes the load take long enough to overlap (KV buffers).
            _generate(srv.url, BIG, "", num_ctx=32768)
            done["big"] = time.monotonic()

        loader = threading.Thread(target=load_big)
        loader.start()
        time.sleep(0.2)
        answer = _generate(srv.url, TINY, "Say hi.", num_predict=4, temperature=0)
        done["tiny"] = time.monotonic()
        loader.join()
        assert answer["done"] and done["tiny"] < done["big"]
    finally:
        srv.stop()


def _create(url: str, name: str, base: str, system: str) -> None:
    r = httpx.post(
        f"{url}/api/create",
        json={"model": name, "from": base, "system": system, "stream": False},
        timeout=120,
    )
    assert r.status_code == 200, r.text


def _chat(url: str, model: str, question: str, **options: object) -> dict:
    r = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": question}], **options},
        timeout=300,
    )
    assert r.status_code == 200, r.text
    return r.json()


AGENT_RULES = " ".join(f"Rule {i}: check every step before you answer." for i in range(20))


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    srv = start_server(tmp_path_factory.mktemp("agents-home"))
    for role in ("idea", "planner", "validator"):
        _create(srv.url, f"test/{role}", TINY, f"You are the {role} agent. {AGENT_RULES}")
    yield srv
    srv.stop()


def test_names_from_one_base_share_one_runner(agents: RunningServer) -> None:
    loads = _metric(agents.url, "terraqore_model_loads_total")
    for role in ("idea", "planner"):
        _chat(agents.url, f"test/{role}", "Say OK.", max_tokens=2, temperature=0)
    names = {m["name"] for m in httpx.get(f"{agents.url}/api/ps").json()["models"]}
    assert {"test/idea:latest", "test/planner:latest"} <= names
    assert _metric(agents.url, "terraqore_model_loads_total") - loads <= 1
    assert _metric(agents.url, "terraqore_loaded_runners") == 1


def test_an_agents_prompt_prefix_comes_back_after_another_agents_turn(
    agents: RunningServer,
) -> None:
    def reused() -> float:
        return sum(
            _metric(agents.url, "terraqore_prefix_cache_lookups_total", result=kind)
            for kind in ("restored", "live")
        )

    before = reused()
    first = _chat(agents.url, "test/idea", "Name one colour.", max_tokens=3, temperature=0)
    _chat(agents.url, "test/validator", "Name one animal.", max_tokens=3, temperature=0)
    again = _chat(agents.url, "test/idea", "Name one fruit.", max_tokens=3, temperature=0)
    # The idea agent's system prompt was not evaluated again after the validator's turn:
    # batched, its cells are still in the context (the validator took another sequence);
    # unbatched, the validator replaced them there and the prefix cache brought them back.
    assert reused() - before >= 1
    cached = again["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached >= 100 and cached >= first["usage"]["prompt_tokens"] - 20
    assert _metric(agents.url, "terraqore_prefix_cache_bytes") > 0


def test_prompt_lookup_drafts_are_taken_from_the_prompt(server: RunningServer) -> None:
    """The mechanism: with drafts on, tokens are accepted without a decode step of their own.

    (That greedy output stays the same is asserted by bench/speculative.py on its prompts:
    a batched decode can round differently from a single-token one, so at a near tie a small
    model may pick the other token.)"""
    text = "\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(12))
    prompt = f"Copy this code exactly, then stop:\n\n{text}\n"
    before = _metric(server.url, "terraqore_draft_tokens_total", model=TINY)
    plain = _generate(server.url, TINY, prompt, num_predict=120, temperature=0)
    middle = _metric(server.url, "terraqore_draft_tokens_total", model=TINY)
    drafted = _generate(
        server.url, TINY, prompt, num_predict=120, temperature=0, prompt_lookup_tokens=10
    )
    after = _metric(server.url, "terraqore_draft_tokens_total", model=TINY)
    assert middle == before and after - middle > drafted["eval_count"] / 4
    # Up to the first near tie, the drafted answer is the plain one.
    assert drafted["response"][:20] == plain["response"][:20]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_a_tool_call_after_a_sentence_comes_back_as_a_tool_call(server: RunningServer) -> None:
    system = (
        "Before any tool call, first write one short sentence saying what you will do. "
        "Then write the call as a JSON object in a ```json block."
    )
    body = {
        "model": CHAT,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "What is the weather in Lisbon right now?"},
        ],
        "tools": [WEATHER],
        "stream": False,
        "options": {"temperature": 0, "num_predict": 80},
    }
    r = httpx.post(f"{server.url}/api/chat", json=body, timeout=300)
    assert r.status_code == 200, r.text
    calls = r.json()["message"].get("tool_calls") or []
    assert len(calls) == 1 and calls[0]["function"]["name"] == "get_weather"
    assert isinstance(calls[0]["function"]["arguments"].get("city"), str)
    assert "```" not in r.json()["message"]["content"] and "{" not in r.json()["message"]["content"]


def test_a_streamed_tool_call_is_never_streamed_as_text(server: RunningServer) -> None:
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "What is the weather in Oslo?"}],
        "tools": [WEATHER],
        "options": {"temperature": 0, "num_predict": 80},
    }
    texts, calls = [], []
    with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=300) as r:
        for line in r.iter_lines():
            message = json.loads(line).get("message", {})
            texts.append(message.get("content", ""))
            calls += message.get("tool_calls") or []
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    assert "get_weather" not in "".join(texts)
