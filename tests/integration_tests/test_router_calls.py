"""The router against real endpoints: the built-in server, and its own /v1 as an OpenAI API."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from terraqore.app.cli import app
from terraqore.client import usage
from terraqore.client.router import EndpointConfig, Router, RouterSettings
from tests.server_harness import TINY, RunningServer


@pytest.fixture()
def router(server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Router:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path))
    monkeypatch.setenv("TERRAQORE_OLLAMA_HOST", server.host)
    settings = RouterSettings(
        home=tmp_path,
        ollama_host=server.host,
        endpoints={
            # loopback, so usable offline; it speaks OpenAI's API and has a price
            "oai": EndpointConfig(
                url=f"{server.url}/v1", api="openai", price_input=2.0, price_output=4.0
            )
        },
        routes={"chat": [f"local:{TINY}", f"oai:{TINY}"]},
    )
    return Router(settings)


def test_each_route_answers_and_every_call_is_recorded_with_its_cost(router: Router) -> None:
    plan = router.plan("chat")
    assert [r.endpoint for r in plan.routes] == ["local", "oai"]
    for route in plan.routes:
        reply = router.chat_model(route, "chat", agent="tester", num_predict=8).invoke("Say hi")
        assert isinstance(reply.content, str) and reply.content
    rows = list(usage.records(router.settings.home))
    assert [r["endpoint"] for r in rows] == ["local", "oai"]
    local, remote = rows
    assert local["cost"] == 0 and local["prompt_tokens"] > 0 and local["output_tokens"] > 0
    expected = (remote["prompt_tokens"] * 2.0 + remote["output_tokens"] * 4.0) / 1e6
    assert remote["cost"] == pytest.approx(expected) and remote["cost"] > 0
    assert all(r["task"] == "chat" and r["agent"] == "tester" for r in rows)


def test_stats_show_cost_and_savings_by_task_agent_and_model(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich would wrap the model names at 80
    route = router.plan("chat").routes[1]
    router.chat_model(route, "chat", agent="tester", num_predict=4).invoke("Say hi")
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 0, result.output
    assert "App calls by task" in result.output and "App calls by agent" in result.output
    assert f"oai:{TINY}" in result.output and "saved $" in result.output
