"""Fixtures the studio graph's offline tests share."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import agents.structured
import nodes.retrieve
from tests.studio_fakes import Fakes


@pytest.fixture()
def fakes(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Fakes]:
    """Install scripted agent models (and an empty lake); returns the installer."""
    monkeypatch.setattr(nodes.retrieve, "search_lake", lambda query, ctx: ([], []))

    def install(**answers: list[str]) -> Fakes:
        fake = Fakes(**answers)
        monkeypatch.setattr(agents.structured, "model_for", fake.model_for)
        return fake

    return install
