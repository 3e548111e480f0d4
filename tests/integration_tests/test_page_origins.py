"""Another web site cannot read what the page's server answers (issue 23, "outside the sandbox").

langgraph-api fills in `allow_origins: ["*"]` when a CORS config leaves it out, so the origin
regex had no effect: any page a visitor opened could read the lake's sources, the home's path
and a known thread's state. Both ways the graphs are served are started here, with no model:
`terraqore ui`'s (`start_page`, which passes our CORS rules in `CORS_CONFIG`) and `make dev`'s
(`langgraph dev` on `langgraph.json` alone). Every GET route their OpenAPI schema lists, and the
page's own, is asked with a foreign `Origin`; none may grant it. Local origins still are.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from terraqore.app.ui.launch import OFFLINE_ENV, PageServer, start_page
from terraqore.client.settings import Settings
from tests.server_harness import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "langgraph.json"
FOREIGN = ["http://evil.example", "https://attacker.example:8443", "null"]
NO_MODEL = "http://127.0.0.1:9"  # nothing here runs a model
# Routes the schema does not list: the page's files (the schema has only its routes).
PAGE_EXTRA = ["/terraqore/static/js/main.js", "/terraqore/static/style.css"]
# Families that must be among those asked, so a schema that lost them fails loudly.
FAMILIES = {
    "/info",
    "/assistants/{assistant_id}",
    "/assistants/{assistant_id}/graph",
    "/assistants/{assistant_id}/schemas",
    "/threads/{thread_id}",
    "/threads/{thread_id}/state",
    "/threads/{thread_id}/history",
    "/threads/{thread_id}/runs",
    "/threads/{thread_id}/runs/{run_id}",
    "/store/items",
    "/terraqore/",
    "/terraqore/api/info",
    "/terraqore/api/lake",
}


def _dev_server(home: Path, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """`langgraph dev` on `langgraph.json` with nothing else, as `make dev` runs it."""
    port = free_port()
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "TERRAQORE_HOME": str(home),
        "TERRAQORE_OLLAMA_HOST": NO_MODEL,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CORS_CONFIG", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "langgraph_cli", "dev", "--config", str(CONFIG),
             "--port", str(port), "--no-browser", "--no-reload"],
            cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return url, process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    process.wait()
    pytest.fail("langgraph dev did not start:\n" + log.read_text()[-3000:])


@pytest.fixture(scope="module", params=["terraqore ui", "make dev"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The server's root URL, started one way or the other on a fresh home."""
    home = tmp_path_factory.mktemp("origins-home")
    env = {"TERRAQORE_HOME": str(home), "TERRAQORE_ONLINE": "0"}
    if request.param == "terraqore ui":
        page: PageServer = start_page(
            CONFIG, "127.0.0.1", free_port(), NO_MODEL, Settings(home=home), env=env
        )
        try:
            yield page.url.removesuffix("/terraqore/")
        finally:
            page.stop()
        return
    url, process = _dev_server(home, home / "dev.log")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ids(url: str) -> dict[str, str]:
    """Real ids to fill the routes' parameters with: an assistant, a thread, a finished run."""
    assistant = httpx.post(f"{url}/assistants/search", json={"graph_id": "ingest"}).json()[0]
    thread = httpx.post(f"{url}/threads", json={}).json()["thread_id"]
    run = httpx.post(
        f"{url}/threads/{thread}/runs/wait",
        json={"assistant_id": "ingest", "input": {"source": "/nonexistent/folder"}},
        timeout=60,
    )
    assert run.status_code == 200, run.text
    run_id = httpx.get(f"{url}/threads/{thread}/runs").json()[0]["run_id"]
    state = httpx.get(f"{url}/threads/{thread}/state").json()
    return {
        "assistant_id": assistant["assistant_id"],
        "thread_id": thread,
        "run_id": run_id,
        "checkpoint_id": state["checkpoint"]["checkpoint_id"],
        "namespace": "none",
        "cron_id": str(uuid.uuid4()),
        "operation_id": "none",
    }


def _get_routes(url: str) -> list[str]:
    schema = httpx.get(f"{url}/openapi.json").json()
    return sorted(path for path, ops in schema["paths"].items() if "get" in ops)


def _headers_of(url: str, origin: str) -> tuple[int, httpx.Headers]:
    """The status and headers of a GET (a stream is closed once its headers are in)."""
    with httpx.stream("GET", url, headers={"Origin": origin}, timeout=10) as response:
        return response.status_code, response.headers


def test_no_get_route_grants_a_foreign_origin(served: str) -> None:
    ids = _ids(served)
    routes = _get_routes(served)
    assert set(routes) >= FAMILIES, FAMILIES - set(routes)
    granted = []
    for route in [*routes, *PAGE_EXTRA]:
        path = route.format(**ids)
        for origin in FOREIGN:
            status, headers = _headers_of(f"{served}{path}", origin)
            allowed = {k: v for k, v in headers.items() if k.startswith("access-control-allow")}
            if allowed:
                granted.append(f"{route} ({status}) to {origin}: {allowed}")
    assert not granted, "foreign origins granted:\n" + "\n".join(granted)


def test_a_foreign_preflight_is_not_granted(served: str) -> None:
    ask = {"Origin": FOREIGN[0], "Access-Control-Request-Method": "GET"}
    for path in ("/terraqore/api/lake", "/info", "/assistants/search"):
        response = httpx.options(f"{served}{path}", headers=ask)
        assert "access-control-allow-origin" not in response.headers, path


def test_the_page_and_local_tools_are_still_granted(served: str) -> None:
    thread = httpx.post(f"{served}/threads", json={}).json()["thread_id"]
    for origin in (served, "http://localhost:5173", "http://[::1]:3000", "vscode-webview://x"):
        for path in ("/terraqore/api/lake", f"/threads/{thread}/state", "/info"):
            response = httpx.get(f"{served}{path}", headers={"Origin": origin})
            assert response.status_code == 200, (path, response.text)
            assert response.headers.get("access-control-allow-origin") == origin, (path, origin)
    preflight = httpx.options(
        f"{served}/threads/search",
        headers={
            "Origin": served,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == served
