"""`terraqore batch FILE.jsonl` is short for `terraqore batch submit FILE.jsonl` (no server)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from terraqore.app.cli.app import app


def test_a_file_after_batch_is_submitted_and_the_verbs_stay(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = tmp_path / "nope.jsonl"
    r = runner.invoke(app, ["batch", str(missing), "--no-wait"])
    assert r.exit_code == 2 and "does not exist" in r.output  # submit's own check ran
    r = runner.invoke(app, ["batch", "--help"])
    assert r.exit_code == 0 and all(v in r.output for v in ("submit", "list", "results"))
    r = runner.invoke(app, ["batch", "submit", str(missing)])
    assert r.exit_code == 2 and "does not exist" in r.output
