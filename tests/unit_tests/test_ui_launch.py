"""`terraqore ui` and its launcher without a model or a browser: addresses, refusals, reuse."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import terraqore.app.cli.ui
import terraqore.app.ui.launch
import terraqore.client.server_process
from terraqore.app.cli import app
from terraqore.app.ui.launch import (
    OFFLINE_ENV,
    PageStartError,
    dev_environment,
    page_url,
    start_page,
)

runner = CliRunner()


def test_page_url_brackets_ipv6_and_ends_with_the_pages_prefix() -> None:
    assert page_url("127.0.0.1", 2024) == "http://127.0.0.1:2024/terraqore/"
    assert page_url("::1", 9) == "http://[::1]:9/terraqore/"


def test_langgraph_dev_runs_offline_on_our_model_server_with_our_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("TERRAQORE_ORIGINS", "https://intranet.example")
    env = dev_environment("http://127.0.0.1:11508")
    assert {k: env[k] for k in OFFLINE_ENV} == OFFLINE_ENV
    assert env["TERRAQORE_OLLAMA_HOST"] == "http://127.0.0.1:11508"
    cors = json.loads(env["CORS_CONFIG"])
    assert cors["allow_origins"] == []  # left out, langgraph-api would fill in "*"
    assert (
        "intranet" in cors["allow_origin_regex"] and "x-pagination-next" in cors["expose_headers"]
    )


def test_a_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PageStartError, match="no LangGraph config"):
        start_page(tmp_path / "nope.json", "127.0.0.1", 1, "http://127.0.0.1:2")


def test_a_dev_server_that_exits_reports_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path))
    config = tmp_path / "langgraph.json"
    config.write_text("{}")

    real = subprocess.Popen

    def exits(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        kwargs["stdout"].write(b"boom: no graphs\n")
        kwargs["stdout"].flush()
        return real(["false"])

    monkeypatch.setattr(terraqore.app.ui.launch.subprocess, "Popen", exits)
    with pytest.raises(PageStartError, match="boom: no graphs"):
        start_page(config, "127.0.0.1", 1, "http://127.0.0.1:2", timeout=10)


def test_serving_beyond_loopback_needs_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path))  # no config.toml with keys
    monkeypatch.delenv("TERRAQORE_API_KEYS", raising=False)
    result = runner.invoke(app, ["ui", "--host", "0.0.0.0", "--no-browser"])
    assert result.exit_code != 0 and "TERRAQORE_API_KEYS" in result.output


class _Server:
    base_url = "http://127.0.0.1:11508"
    started_here = False
    process = None


def test_a_page_that_already_answers_is_reused_and_its_address_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path))
    # Patched where the verb looks them up (`terraqore.app.cli.ui` imports them by name).
    monkeypatch.setattr(terraqore.app.cli.ui, "ensure_server", lambda settings: _Server())
    monkeypatch.setattr(terraqore.app.cli.ui, "page_answers", lambda url, *a, **k: True)

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a page that answers is not started again")

    monkeypatch.setattr(terraqore.app.cli.ui, "start_page", never)
    opened: list[str] = []
    monkeypatch.setattr(terraqore.app.cli.ui.webbrowser, "open", opened.append)
    monkeypatch.setenv("DISPLAY", ":0")
    result = runner.invoke(app, ["ui", "--port", "2508"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:2508/terraqore/" in result.output
    assert opened == ["http://127.0.0.1:2508/terraqore/"]
