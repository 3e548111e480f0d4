"""The `terraqore` CLI through typer's runner against the real server, and one real `run` session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import ollama
import pytest
from typer.testing import CliRunner

from server.models.catalog import CATALOG
from terraqore.app.cli import app
from tests.server_harness import TINY, RunningServer

runner = CliRunner()


@pytest.fixture()
def cli_env(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> RunningServer:
    monkeypatch.setenv("TERRAQORE_OLLAMA_HOST", server.host)
    monkeypatch.setenv("TERRAQORE_HOME", str(server.home))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    return server


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_list_show_ps_stop(cli_env: RunningServer) -> None:
    r = invoke("list")
    assert r.exit_code == 0 and TINY in r.output and "MB" in r.output
    r = invoke("show", TINY)
    assert r.exit_code == 0 and "Capabilities" in r.output and "completion" in r.output
    assert "8192" in r.output  # context length from the GGUF
    assert "stop" in invoke("show", TINY, "--parameters").output
    assert "im_start" in invoke("show", TINY, "--template").output
    assert "FROM" in invoke("show", TINY, "--modelfile").output
    assert invoke("run", TINY, "Say", "hi").exit_code == 0
    assert TINY in invoke("ps").output
    assert invoke("stop", TINY).exit_code == 0
    assert TINY not in invoke("ps").output


def test_create_from_modelfile_then_cp_and_rm(cli_env: RunningServer, tmp_path: Path) -> None:
    mf = tmp_path / "Modelfile"
    mf.write_text(f'FROM {TINY}\nSYSTEM """You are a test."""\nPARAMETER temperature 0.1\n')
    r = invoke("create", "test/cli", "-f", str(mf))
    assert r.exit_code == 0, r.output
    assert "You are a test." in invoke("show", "test/cli", "--system").output
    assert invoke("cp", "test/cli", "test/cli-copy").exit_code == 0
    assert "test/cli-copy" in invoke("list").output
    assert invoke("rm", "test/cli", "test/cli-copy").exit_code == 0
    assert "test/cli" not in invoke("list").output


def test_create_from_a_local_gguf_path(cli_env: RunningServer, tmp_path: Path) -> None:
    os.link(CATALOG[TINY].files[0].locate(), tmp_path / "tiny.gguf")
    (tmp_path / "Modelfile").write_text("FROM ./tiny.gguf\nPARAMETER num_ctx 1024\n")
    r = invoke("create", "test/local", "-f", str(tmp_path / "Modelfile"))
    assert r.exit_code == 0, r.output
    assert invoke("rm", "test/local").exit_code == 0


def test_errors_are_one_line_and_non_zero(cli_env: RunningServer, tmp_path: Path) -> None:
    bad = tmp_path / "Modelfile"
    bad.write_text(f"FROM {TINY}\nPARAMETER temperature 0.1\nPROMPT nope\n")
    r = invoke("create", "test/bad", "-f", str(bad))
    assert r.exit_code == 1 and "line 3" in r.output and len(r.output.strip().splitlines()) == 1
    r = invoke("pull", "ghost:1b")
    assert (
        r.exit_code == 1 and "online mode" in r.output and len(r.output.strip().splitlines()) == 1
    )
    r = invoke("show", "ghost:1b")
    assert r.exit_code == 1 and "not found" in r.output
    assert invoke("create", "x", "-f", str(tmp_path / "missing")).exit_code == 1


def test_rm_refuses_models_the_agents_use(cli_env: RunningServer) -> None:
    r = invoke("rm", "qwen2.5-coder:0.5b")
    assert r.exit_code == 1 and "terraqore/idea" in r.output and "--force" in r.output
    assert "qwen2.5-coder:0.5b" in invoke("list").output
    client = ollama.Client(host=cli_env.url)
    client.copy(TINY, "terraqore/not-an-agent")
    assert invoke("rm", "terraqore/not-an-agent").exit_code == 0  # no Modelfile uses it
    client.copy(TINY, "terraqore/planner")
    assert invoke("rm", "terraqore/planner").exit_code == 1
    assert invoke("rm", "terraqore/planner", "--force").exit_code == 0


def test_pull_from_path_and_prune(cli_env: RunningServer, tmp_path: Path) -> None:
    src = tmp_path / "pulled-tiny.gguf"
    os.link(CATALOG[TINY].files[0].locate(), src)
    r = invoke("pull", str(src))
    assert r.exit_code == 0 and "success" in r.output
    assert "pulled-tiny:latest" in invoke("list").output
    assert invoke("rm", "pulled-tiny").exit_code == 0
    r = invoke("prune", "--dry-run")
    assert r.exit_code == 0 and "unreferenced blob" in r.output


def test_models_sync_is_idempotent(cli_env: RunningServer) -> None:
    first = invoke("models", "sync")
    assert first.exit_code == 0, first.output
    rows = [line for line in first.output.splitlines() if line.startswith("terraqore/")]
    assert len(rows) == 10 and all(len(line.split()) == 2 for line in rows)
    second = invoke("models", "sync")
    assert [line for line in second.output.splitlines() if line.startswith("terraqore/")] == rows
    shown = ollama.Client(host=cli_env.url).show("terraqore/coder")
    assert shown.details and shown.details.parent_model == "qwen2.5-coder:1.5b"
    assert shown.parameters and "temperature" in shown.parameters


def test_run_interactive_session_in_a_real_subprocess(server: RunningServer) -> None:
    exe = shutil.which("terraqore", path=str(Path(sys.executable).parent)) or "terraqore"
    env = {**os.environ, "TERRAQORE_OLLAMA_HOST": server.host, "TERRAQORE_HOME": str(server.home)}
    proc = subprocess.run(
        [exe, "run", TINY],
        input="Say hello.\nName a colour.\n/bye\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    answers = [block for block in proc.stdout.split("\n\n") if block.strip()]
    assert len(answers) >= 2  # two answers (an answer may itself contain blank lines)
