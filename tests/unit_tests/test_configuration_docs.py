"""docs/configuration.md is generated from the settings classes and must match them."""

from __future__ import annotations

from pathlib import Path

from terraqore.app.cli.config import SECTIONS, settings_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_page_matches_the_settings_classes():
    assert DOC.read_text(encoding="utf-8") == settings_reference(), (
        "docs/configuration.md is out of date: run "
        "`.venv/bin/terraqore config docs > docs/configuration.md`"
    )


def test_every_setting_is_documented_once_with_its_meaning():
    text = settings_reference()
    for _, cls, _ in SECTIONS:
        for name, info in cls.model_fields.items():
            assert text.count(f"| `TERRAQORE_{name.upper()}` |") == 1, name
            assert info.description, f"{cls.__name__}.{name} has no docstring"


def test_no_graph_setting_reads_a_variable_that_means_something_else(monkeypatch):
    """A graph Context field reads `TERRAQORE_<FIELD>`: it must not collide with a setting.

    `candidates` once did: `TERRAQORE_CANDIDATES` (retrieval's fusion depth, 50) set the number
    of Coder versions too. Only `online` is shared on purpose (one switch for the whole app).
    """
    from dataclasses import fields

    from graphs.qa_context import QAContext
    from graphs.studio_context import Context

    names = {name for _, cls, _ in SECTIONS for name in cls.model_fields}
    for context in (Context, QAContext):
        shared = {f.name for f in fields(context)} & names
        assert shared == {"online"}, (context.__name__, shared)
    monkeypatch.setenv("TERRAQORE_CANDIDATES", "40")
    monkeypatch.setenv("TERRAQORE_CODER_CANDIDATES", "2")
    assert Context().coder_candidates == 2


def test_config_show_names_the_sandbox_this_machine_gives(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from terraqore.app.cli.app import app
    from terraqore.codecheck.sandbox import ISOLATING, which

    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))
    kind, account = which()
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    if kind is None:
        assert "sandbox: NONE." in shown and "Tried:" in shown
    else:
        assert kind in ISOLATING  # never the unsandboxed kind unless asked for by name
        assert f"sandbox: {account}" in shown
    monkeypatch.setenv("TERRAQORE_SANDBOX", "audit-hook")
    shown = " ".join(CliRunner().invoke(app, ["config", "show"]).output.split())
    assert "sandbox: UNSANDBOXED" in shown
