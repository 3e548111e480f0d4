from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_harness import RunningServer, start_server

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
