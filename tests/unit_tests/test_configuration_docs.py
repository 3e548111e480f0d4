"""docs/configuration.md is generated from the settings classes and must match them."""

from __future__ import annotations

from pathlib import Path

from terraqore.cli.config import SECTIONS, settings_reference

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
