"""An unexpected error in a route is a 500 that names nothing of the server, and is not re-raised
(Starlette's last-resort handler re-raises, which makes uvicorn drop the kept-alive connection).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.api.app import INTERNAL_ERROR, ErrorBoundaryMiddleware


def app_failing_with(exc: Exception) -> FastAPI:
    app = FastAPI()
    app.add_middleware(ErrorBoundaryMiddleware)

    @app.post("/api/show")
    async def show() -> dict[str, str]:
        raise exc

    @app.post("/v1/chat/completions")
    async def chat() -> dict[str, str]:
        raise exc

    return app


def test_an_unexpected_error_is_a_500_without_details_and_is_not_reraised() -> None:
    secret = OSError(36, "File name too long", "/srv/home/models/manifests/registry/x" * 3)
    # TestClient re-raises whatever reaches it: a pass here means the middleware answered.
    client = TestClient(app_failing_with(secret), raise_server_exceptions=True)
    r = client.post("/api/show")
    assert r.status_code == 500 and r.json() == {"error": INTERNAL_ERROR}
    assert "/srv" not in r.text
    r = client.post("/v1/chat/completions")
    assert r.status_code == 500 and r.json()["error"]["message"] == INTERNAL_ERROR
