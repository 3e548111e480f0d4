"""The custom HTTP app `langgraph.json` mounts beside the graphs (`http.app`).

`/terraqore/` serves the page; `/terraqore/api/info` the settings it needs (whether online
mode is allowed, whether a key is needed) and `/terraqore/api/lake` the lake's sources and
freshness. Everything else the page does goes through LangGraph's own API (threads, runs,
streaming, interrupts), so it works the same under `langgraph dev` and on a LangGraph server.
The guards (`terraqore.app.ui.guard`) apply to the whole server, the graph API included.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lake.database import LakeBusy, LakeError
from server.config import ServerSettings
from terraqore.app.ui.guard import PAGE_PREFIX, guards
from terraqore.app.ui.lake_facts import lake_facts
from terraqore.client.settings import Settings

STATIC = Path(__file__).with_name("static")


async def page(request: Request) -> Response:
    """The page itself (one HTML file; the tabs are in-page)."""
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


async def to_page(request: Request) -> Response:
    """`/terraqore` without its slash: the page's relative links need the slash."""
    return RedirectResponse(PAGE_PREFIX)


async def info(request: Request) -> Response:
    """What the page needs to know before it asks the graphs anything."""
    keys = request.app.state.keys
    return JSONResponse(
        {
            "online_allowed": Settings().online,
            "key_required": bool(keys),
            "graphs": {"ask": "qa", "build": "studio", "lake": "ingest"},
        }
    )


async def lake(request: Request) -> Response:
    """The lake's sources, their last runs and errors, and how fresh the newest item is."""
    try:
        facts = await asyncio.to_thread(lake_facts)
    except LakeBusy:
        return JSONResponse({"error": "the lake is being written; try again shortly"}, 503)
    except LakeError as exc:
        return JSONResponse({"error": str(exc)}, 500)
    return JSONResponse(facts)


def create_app(keys: dict[str, str] | None = None) -> Starlette:
    """The app, with the guards for `keys` (default: the built-in server's API keys and origins)."""
    server = ServerSettings()
    keys = server.keys() if keys is None else keys
    app = Starlette(
        routes=[
            Route(PAGE_PREFIX.rstrip("/"), to_page, methods=["GET"]),
            Route(PAGE_PREFIX, page, methods=["GET"]),
            Route(f"{PAGE_PREFIX}api/info", info, methods=["GET"]),
            Route(f"{PAGE_PREFIX}api/lake", lake, methods=["GET"]),
            Mount(f"{PAGE_PREFIX}static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=guards(keys, server.origins),
    )
    app.state.keys = keys
    return app


app = create_app()
