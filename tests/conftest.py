from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import agents.structured
import nodes.retrieve
from tests.server_harness import RunningServer, start_server
from tests.studio_fakes import Fakes

# Every server the tests start (they inherit this) hard-links the assembled catalog models
# (about 1.9 GB) from one shared folder instead of assembling them again in its own home.
os.environ.setdefault(
    "TERRAQORE_BLOB_CACHE", str(Path(tempfile.gettempdir()) / "terraqore-test-blob-cache")
)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The real built-in server with the real bundled models, in a fresh TERRAQORE_HOME."""
    srv = start_server(tmp_path_factory.mktemp("terraqore-home"))
    yield srv
    srv.stop()


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
