"""The task router's chains, escalation and offline refusal; the usage log and its costs."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from terraqore.app.cli.stats import spend_by
from terraqore.client import usage
from terraqore.client.router import EndpointConfig, Route, Router, RouterSettings


def _router(tmp_path, online=False, **kw) -> Router:
    endpoints = {
        "lab": EndpointConfig(url="http://10.0.0.5:11434", allowed=True),
        "cloud": EndpointConfig(
            url="https://api.example.com/v1", api="openai", price_input=0.5, price_output=1.5
        ),
        "box": EndpointConfig(url="http://127.0.0.1:11500"),
    }
    routes = {"code": ["local:terraqore/coder", "box:qwen2.5-coder:1.5b", "lab:big", "cloud:gpt"]}
    settings = RouterSettings(
        home=tmp_path, online=online, endpoints=endpoints, routes=routes, **kw
    )
    return Router(settings)


def test_offline_the_chain_stops_at_the_last_local_model_and_says_so(tmp_path):
    plan = _router(tmp_path).plan("code")
    assert [str(r) for r in plan.routes] == ["local:terraqore/coder", "box:qwen2.5-coder:1.5b"]
    assert any("lab:big" in s and "online mode is off" in s for s in plan.skipped)
    assert "skipped" in plan.report()


def test_online_a_remote_endpoint_joins_only_when_allowed(tmp_path):
    plan = _router(tmp_path, online=True).plan("code")
    assert [r.endpoint for r in plan.routes] == ["local", "box", "lab"]
    assert any("cloud:gpt" in s and "not allowed" in s for s in plan.skipped)


def test_escalation_walks_the_chain_in_order(tmp_path):
    plan = _router(tmp_path).plan("code")
    first = plan.routes[0]
    second = plan.after(first)
    assert second == Route("box", "qwen2.5-coder:1.5b")
    assert plan.after(second) is None


def test_the_caller_chooses_the_first_model(tmp_path):
    plan = _router(tmp_path).plan("code", first="my/coder")
    assert plan.routes[0] == Route("local", "my/coder") and len(plan.routes) == 2


def test_task_types_without_routes_use_the_agents_models(tmp_path):
    router = _router(tmp_path)
    assert str(router.plan("answer").routes[0]) == "local:terraqore/answer"
    assert str(router.plan("review").routes[0]) == "local:terraqore/security"


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown task type"):
        _router(tmp_path).plan("dance")
    bad = Router(RouterSettings(home=tmp_path, routes={"chat": ["nocolon"]}))
    with pytest.raises(ValueError, match="endpoint:model"):
        bad.plan("chat")
    none = Router(RouterSettings(home=tmp_path, routes={"chat": ["ghost:m"]}))
    with pytest.raises(ValueError, match="no such endpoint"):
        none.plan("chat")


def test_prices_are_zero_locally_and_per_million_tokens_remotely(tmp_path):
    router = _router(tmp_path)
    assert router.price(Route("local", "x")).cost(10**6, 10**6) == 0
    assert router.price(Route("cloud", "gpt")).cost(2 * 10**6, 10**6) == pytest.approx(2.5)


def test_recorder_writes_tokens_seconds_and_cost(tmp_path):
    rec = usage.UsageRecorder(tmp_path, "code", "coder", "cloud", "gpt", usage.Price(0.5, 1.5))
    run = uuid.uuid4()
    rec.on_chat_model_start({}, [], run_id=run)
    msg = AIMessage(
        content="x",
        usage_metadata={"input_tokens": 1000, "output_tokens": 2000, "total_tokens": 3000},
    )
    rec.on_llm_end(LLMResult(generations=[[ChatGeneration(message=msg)]]), run_id=run)
    rec.on_llm_error(RuntimeError("boom"), run_id=uuid.uuid4())
    rows = list(usage.records(tmp_path))
    assert rows[0]["prompt_tokens"] == 1000 and rows[0]["output_tokens"] == 2000
    assert rows[0]["cost"] == pytest.approx((1000 * 0.5 + 2000 * 1.5) / 1e6)
    assert rows[0]["task"] == "code" and rows[0]["ok"] is True and rows[1]["ok"] is False


def test_spend_sums_and_savings_against_the_reference_price():
    rows = [
        {
            "task": "code",
            "agent": "coder",
            "endpoint": "local",
            "model": "m",
            "prompt_tokens": 10**6,
            "output_tokens": 0,
            "cost": 0.0,
        },
        {
            "task": "code",
            "agent": "coder",
            "endpoint": "cloud",
            "model": "g",
            "prompt_tokens": 0,
            "output_tokens": 10**6,
            "cost": 1.5,
            "ok": False,
        },
    ]
    by_task = spend_by(rows, "task", (0.15, 0.60))
    code = by_task["code"]
    assert code.calls == 2 and code.failed == 1 and code.cost == 1.5
    assert code.saved == pytest.approx(0.15 + 0.60 - 1.5)
    assert set(spend_by(rows, "model", (0, 0))) == {"local:m", "cloud:g"}


def test_stats_at_80_columns_never_cut_a_model_name(monkeypatch, tmp_path):
    import io

    from rich.console import Console

    from terraqore.app.cli import stats as stats_cli

    long_names = ["qwen2.5-coder:1.5b-instruct-q4_K_M", "terraqore/coder-escalated:latest"]
    entries = [
        {
            "model": m,
            "status": 200,
            "prompt_tokens": 123456789,
            "eval_tokens": 987654321,
            "duration_ms": 123456.0,
        }
        for m in [*long_names, "terraqore/coder:latest"]
    ]
    calls = [
        {
            "task": "code",
            "agent": "coder",
            "endpoint": "local",
            "model": m,
            "ok": True,
            "prompt_tokens": 123456789,
            "output_tokens": 987654321,
            "seconds": 98765.4,
            "cost": 0.0,
        }
        for m in long_names
    ]
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path))
    monkeypatch.setattr(stats_cli, "audit_entries", lambda logs_dir: entries)
    monkeypatch.setattr(stats_cli.usage, "records", lambda home: iter(calls))
    screen = io.StringIO()
    monkeypatch.setattr(stats_cli, "out", Console(width=80, file=screen, highlight=False))
    stats_cli.stats()
    text = screen.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in [*long_names, "terraqore/coder:latest", "coder-escalated"]:
        assert name in text
    for name in long_names:  # the app's table names a model with its endpoint
        assert f"local:{name}" in text
    assert "…" not in text  # nothing is cut: number columns fold instead
