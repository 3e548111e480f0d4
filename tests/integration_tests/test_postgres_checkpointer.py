"""The studio graph's threads on a real PostgreSQL (pgserver's binaries, started by the test):
the path from one machine to LangGraph's server with Postgres persistence (docs/scaling.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.types import Command

from graphs.studio import build_graph
from graphs.studio_context import Context


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server in a temporary folder; its connection URI."""
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def test_an_interrupted_thread_resumes_from_postgres_in_a_new_connection(
    postgres: str, fakes, tmp_path: Path
) -> None:
    fake = fakes()
    config = {"configurable": {"thread_id": "pg-1"}}
    ctx = Context(approve_plan=True)
    with PostgresSaver.from_conn_string(postgres) as saver:
        saver.setup()
        first = build_graph(saver).invoke({"task": "add"}, config, context=ctx)
        assert "__interrupt__" in first and "coder" not in fake.calls
    # Another connection (as another server process would open) finds the thread and resumes.
    with PostgresSaver.from_conn_string(postgres) as saver:
        app = build_graph(saver)
        assert app.get_state(config).next == ("approve_plan",)
        done = app.invoke(Command(resume=True), config, context=ctx)
        assert done["validation"]["passed"] and done["files"]
        history = list(app.get_state_history(config))
        assert len(history) > 5  # every step was checkpointed in PostgreSQL
