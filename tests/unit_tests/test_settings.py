from __future__ import annotations

from pathlib import Path

from terraqore.client.settings import Settings


def test_host_precedence(monkeypatch) -> None:
    monkeypatch.delenv("TERRAQORE_OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert Settings().base_url == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:9000")
    assert Settings().base_url == "http://0.0.0.0:9000"
    monkeypatch.setenv("TERRAQORE_OLLAMA_HOST", "127.0.0.1:9100")
    assert Settings().base_url == "http://127.0.0.1:9100"
    # What the caller passes wins over the environment.
    assert Settings(ollama_host="127.0.0.1:9200").base_url == "http://127.0.0.1:9200"


def test_home_and_online_defaults(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("TERRAQORE_HOME", raising=False)
    monkeypatch.delenv("TERRAQORE_ONLINE", raising=False)
    s = Settings()
    assert s.home == Path("~/.terraqore").expanduser() and s.online is False
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path))
    monkeypatch.setenv("TERRAQORE_ONLINE", "1")
    s = Settings()
    assert s.home == tmp_path and s.online is True
