"""`terraqore setup` against the real server: non-interactive and driven through its prompts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import ollama
import pytest
from typer.testing import CliRunner

from terraqore.app.cli import app
from terraqore.app.cli.setup import MODEL_SETS, ROLES
from tests.server_harness import RunningServer

runner = CliRunner()


@pytest.fixture()
def fresh_home(server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new TERRAQORE_HOME for the CLI, talking to the running test server."""
    home = tmp_path / "home"
    monkeypatch.setenv("TERRAQORE_HOME", str(home))
    monkeypatch.setenv("TERRAQORE_OLLAMA_HOST", server.host)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("TERRAQORE_CONFIG", raising=False)
    return home


def _config(home: Path) -> dict:
    with (home / "config.toml").open("rb") as f:
        return tomllib.load(f)


def test_yes_takes_the_recommendation_writes_the_config_and_can_run_again(
    fresh_home: Path, server: RunningServer
) -> None:
    r = runner.invoke(app, ["setup", "--yes", "--no-seed"])
    assert r.exit_code == 0, r.output
    assert "Recommended:" in r.output and "ok" in r.output and "dimensions" in r.output
    assert "sandbox: " in r.output  # which kind this machine gives generated code
    config = _config(fresh_home)
    chosen = MODEL_SETS[config["model_set"]]
    assert config["agent_bases"] == chosen.bases and config["embedding_model"] == chosen.embedding
    assert (fresh_home / "config.toml").stat().st_mode & 0o077 == 0  # may hold keys one day
    # every agent is registered on the set's bases
    c = ollama.Client(host=server.url)
    for role in ROLES:
        assert c.show(f"terraqore/{role}").details.parent_model == chosen.bases[role]
    # the config now feeds every settings class, and `config show` says so
    show = runner.invoke(app, ["config", "show"])
    assert show.exit_code == 0
    line = next(ln for ln in show.output.splitlines() if "TERRAQORE_EMBEDDING_MODEL" in ln)
    assert chosen.embedding in line and line.rstrip().endswith("file")
    # a second run changes nothing and keeps keys it does not own
    path = fresh_home / "config.toml"
    path.write_text('keep_alive = "10m"\n' + path.read_text())  # before the tables
    again = runner.invoke(app, ["setup", "--yes", "--no-seed"])
    assert again.exit_code == 0, again.output
    assert _config(fresh_home)["keep_alive"] == "10m"
    assert _config(fresh_home)["agent_bases"] == chosen.bases


def test_interactive_choice_is_asked_and_applied(fresh_home: Path, server: RunningServer) -> None:
    # choose the tiny set at the prompt, then decline the knowledge base
    r = runner.invoke(app, ["setup"], input="tiny\nn\n")
    assert r.exit_code == 0, r.output
    assert "Model set" in r.output and "Load the default knowledge base?" in r.output
    config = _config(fresh_home)
    assert config["model_set"] == "tiny"
    assert set(config["agent_bases"].values()) == {"qwen2.5-coder:0.5b"}
    c = ollama.Client(host=server.url)
    assert c.show("terraqore/coder").details.parent_model == "qwen2.5-coder:0.5b"


def test_an_unknown_model_set_is_a_clear_error(fresh_home: Path) -> None:
    r = runner.invoke(app, ["setup", "--model-set", "huge"])
    assert r.exit_code == 1 and "must be one of tiny, default, quality" in r.output


def test_a_malformed_config_file_is_one_clear_line(fresh_home: Path) -> None:
    fresh_home.mkdir(parents=True, exist_ok=True)
    (fresh_home / "config.toml").write_text("max_loaded_models = [\n")
    r = runner.invoke(app, ["config", "show"])
    assert r.exit_code != 0
    assert "config.toml is not valid TOML" in str(r.exception) + r.output
