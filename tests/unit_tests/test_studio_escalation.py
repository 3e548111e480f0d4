"""The Coder's escalation along the task router's `code` chain, with fake chat models.

The routing table comes from the environment (as a user's `config.toml` would give it); the
agents' models are scripted fakes, keyed by the route's model name; the sandbox is real.
"""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from agents.structured import model_for
from graphs.context import AgentConfig
from graphs.studio import graph
from graphs.studio_context import Context
from terraqore.client.usage import UsageRecorder
from tests.studio_fakes import CLEAN, WRONG

SMALL, BIG = "local:terraqore/coder-small", "local:terraqore/coder"


@pytest.fixture()
def chain(monkeypatch: pytest.MonkeyPatch) -> Context:
    """A local chain: a small Coder first, the default Coder after it."""
    monkeypatch.setenv("TERRAQORE_ROUTES", json.dumps({"code": [SMALL, BIG]}))
    return Context(coder_candidates=3, coder=AgentConfig(model="terraqore/coder-small"))


def test_tests_still_failing_escalate_and_the_report_says_which_route_wrote_the_code(
    fakes, chain
) -> None:
    fake = fakes(**{"coder-small": [WRONG]})
    out = graph.invoke({"task": "add"}, context=chain)
    # No small candidate passes add(1, 2) == 3: nothing credible to fix, so straight up.
    assert fake.calls.count("coder-small") == 3 and fake.calls.count("coder") == 3
    assert out["coder_routes"] == [SMALL, BIG] and out["code_route"] == BIG
    [move] = out["escalations"]
    assert move["from"] == SMALL and move["to"] == BIG and "still failing" in move["reason"]
    assert out["validation"]["passed"] and "a + b" in out["files"]["solution.py"]
    assert f"escalated from {SMALL} to {BIG}" in out["report"]
    assert {c["route"] for c in out["candidates"]} == {SMALL, BIG}


def test_a_route_spends_its_fix_rounds_before_escalating(fakes, chain) -> None:
    three = CLEAN.replace("a + b", "3")  # makes add(1, 2) == 3 credible
    fake = fakes(**{"coder-small": [WRONG, three, WRONG, WRONG]})
    out = graph.invoke({"task": "add"}, context=replace(chain, fix_on="credible", max_fix_rounds=2))
    assert fake.calls.count("coder-small") == 5 and out["rounds"]["fix"] == 2
    assert len(out["escalations"]) == 1 and out["code_route"] == BIG


def test_an_unusable_answer_after_its_retry_escalates_within_the_turn(fakes, chain) -> None:
    fake = fakes(**{"coder-small": ["I would rather not write code today."]})
    out = graph.invoke({"task": "add"}, context=chain)
    assert fake.calls.count("coder-small") == 6  # each of the 3 versions, and its retry
    [move] = out["escalations"]
    assert "unusable" in move["reason"] and out["code_route"] == BIG
    assert out["validation"]["passed"]


def test_a_timeout_escalates(fakes, chain) -> None:
    fakes(**{"coder-small": [httpx.ReadTimeout("timed out")]})
    out = graph.invoke({"task": "add"}, context=chain)
    assert "ReadTimeout" in out["escalations"][0]["reason"] and out["code_route"] == BIG


def test_the_last_route_failing_leaves_a_note_not_a_crash(fakes, chain) -> None:
    fakes(**{"coder-small": ["no code"], "coder": ["no code either"]})
    out = graph.invoke({"task": "add"}, context=chain)
    assert out["files"] == {} and not out["validation"]["passed"]
    assert any("wrote nothing usable" in n for n in out["notes"])


def test_offline_the_chain_stops_at_the_last_local_model_and_says_so(fakes, monkeypatch) -> None:
    monkeypatch.setenv("TERRAQORE_ROUTES", json.dumps({"code": [BIG, "lab:big"]}))
    monkeypatch.setenv(
        "TERRAQORE_ENDPOINTS",
        json.dumps({"lab": {"url": "http://10.0.0.5:11434", "allowed": True}}),
    )
    fake = fakes(coder=[WRONG])
    out = graph.invoke({"task": "add"}, context=Context(coder_candidates=3, online=False))
    assert out["coder_routes"] == [BIG] and out["escalations"] == []
    assert out["coder_skipped"] == ["lab:big (online mode is off)"]
    assert "big" not in fake.calls and not out["validation"]["passed"]
    assert any(f"chain stops at {BIG}" in n for n in out["notes"])
    assert "skipped: lab:big (online mode is off)" in out["report"]


def test_online_an_allowed_remote_route_is_the_next_step(fakes, monkeypatch) -> None:
    monkeypatch.setenv("TERRAQORE_ROUTES", json.dumps({"code": [BIG, "lab:big"]}))
    monkeypatch.setenv(
        "TERRAQORE_ENDPOINTS",
        json.dumps({"lab": {"url": "http://10.0.0.5:11434", "allowed": True}}),
    )
    fake = fakes(coder=[WRONG], big=[CLEAN])
    # weak_below=0: retrieval never counts as weak, so no web search runs in this test.
    out = graph.invoke(
        {"task": "add"}, context=Context(coder_candidates=3, online=True, weak_below=0.0)
    )
    assert out["code_route"] == "lab:big" and out["validation"]["passed"]
    remote = [c for c in fake.configs if c.model == "big"]
    assert remote and all(c.endpoint == "lab" for c in remote)


def test_an_agent_model_on_a_route_records_its_calls_under_agent_and_task(monkeypatch, tmp_path):
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path))
    monkeypatch.setenv(
        "TERRAQORE_ENDPOINTS",
        json.dumps({"lab": {"url": "http://10.0.0.5:11434", "price_input": 1.0}}),
    )
    llm = model_for(AgentConfig(model="big", endpoint="lab", temperature=0.5), "coder")
    assert llm.base_url == "http://10.0.0.5:11434" and llm.temperature == 0.5
    [recorder] = [c for c in llm.callbacks if isinstance(c, UsageRecorder)]
    assert (recorder.task, recorder.agent, recorder.endpoint) == ("code", "coder", "lab")
    assert recorder.price.input == 1.0
