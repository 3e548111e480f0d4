"""The app starts the built-in server on first use, reuses a running one, and stops only its own."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from terraqore.client.models import chat_model, embeddings
from terraqore.client.server_process import ServerStartError, ensure_server, is_alive
from terraqore.client.settings import Settings
from tests.server_harness import TINY, RunningServer, free_port


def test_reuses_a_running_server(server: RunningServer) -> None:
    settings = Settings(home=server.home, ollama_host=server.host)
    handle = ensure_server(settings)
    assert not handle.started_here and handle.base_url == server.url
    handle.stop()  # stopping a reused server must not touch it
    assert server.alive() and is_alive(server.url)


def test_starts_one_when_none_answers_and_stops_only_that(tmp_path) -> None:
    port = free_port()
    settings = Settings(home=tmp_path / "home", ollama_host=f"127.0.0.1:{port}")
    handle = ensure_server(settings)
    try:
        assert handle.started_here and is_alive(handle.base_url)
        again = ensure_server(settings)
        assert again is handle  # one server per address, shared
        llm = chat_model(TINY, settings, num_predict=4, temperature=0)
        assert llm.num_ctx == settings.num_ctx and llm.base_url == handle.base_url
        assert llm.invoke("hi").content
        assert len(embeddings(settings=settings).embed_query("hello")) == 384
    finally:
        handle.stop()
    assert not is_alive(handle.base_url)


def test_start_failure_reports_log_tail(tmp_path) -> None:
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").write_text("not a directory")  # the server cannot create its store
    settings = Settings(home=home, ollama_host=f"127.0.0.1:{port}", server_start_timeout=60)
    with pytest.raises(ServerStartError) as info:
        ensure_server(settings)
    assert "Log tail" in str(info.value) and "exited" in str(info.value)


def test_restarts_when_the_started_server_died(tmp_path) -> None:
    port = free_port()
    settings = Settings(home=tmp_path / "home", ollama_host=f"127.0.0.1:{port}")
    first = ensure_server(settings)
    assert first.process is not None
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    second = ensure_server(settings)
    try:
        assert second is not first and httpx.get(f"{second.base_url}/api/tags").status_code == 200
    finally:
        second.stop()
