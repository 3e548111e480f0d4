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
