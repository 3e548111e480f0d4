"""Fixtures the studio graph's offline tests share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import agents.structured
import nodes.retrieve
from tests.studio_fakes import Fakes


@pytest.fixture()
def fakes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Fakes]:
    """Install scripted agent models (and an empty lake, a fresh home); returns the installer."""
    monkeypatch.setattr(nodes.retrieve, "search_lake", lambda query, ctx: ([], []))
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))  # no config.toml routes

    def install(**answers: list[str]) -> Fakes:
        fake = Fakes(**answers)
        monkeypatch.setattr(agents.structured, "model_for", fake.model_for)
        return fake

    return install
