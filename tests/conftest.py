from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server_harness import RunningServer, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The real built-in server with the real bundled models, in a fresh TERRAQORE_HOME."""
    srv = start_server(tmp_path_factory.mktemp("terraqore-home"))
    yield srv
    srv.stop()
