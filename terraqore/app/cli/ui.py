"""`terraqore ui`: the local web page (Ask, Build, Lake), started or reused, then opened.

It makes sure the built-in model server answers (`ensure_server`), then that the page's
server does (`langgraph dev` with `langgraph.json`, which mounts the page beside the
graphs), prints the page's address and opens a browser where there is a display. It serves
this machine only, unless API keys are configured (`TERRAQORE_API_KEYS`).
"""

from __future__ import annotations

import os
import signal
import sys
import webbrowser
from pathlib import Path

import typer

from server.config import ServerSettings
from server.security import is_loopback
from terraqore.app.cli.console import err, out
from terraqore.app.cli.support import cli_errors, fail
from terraqore.app.ui.launch import PageStartError, page_answers, page_url, start_page
from terraqore.client.server_process import ensure_server
from terraqore.client.settings import Settings

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "langgraph.json"


def has_display() -> bool:
    """Whether a graphical browser can open here (not a text browser in this terminal)."""
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@cli_errors
def ui(
    host: str = typer.Option("127.0.0.1", help="Address to serve the page on."),
    port: int = typer.Option(2024, min=1, max=65535, help="Port of the page (langgraph dev)."),
    config: Path = typer.Option(DEFAULT_CONFIG, help="The LangGraph config (langgraph.json)."),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open a browser."),
) -> None:
    """Open the local web page: ask the lake, build with the studio, feed the lake."""
    if not is_loopback(host) and not ServerSettings().keys():
        fail(
            f"{host} is not a loopback address: set API keys (TERRAQORE_API_KEYS) "
            "before serving the page beyond this machine"
        )
    settings = Settings()
    model_server = ensure_server(settings)
    err.print(
        f"[dim]{'started' if model_server.started_here else 'reusing'} the model server at "
        f"{model_server.base_url}[/]"
    )
    url = page_url(host, port)
    page = None
    if page_answers(url):
        err.print(f"[dim]reusing the page at {url}[/]")
    else:
        try:
            page = start_page(config, host, port, model_server.base_url, settings)
        except PageStartError as exc:
            fail(str(exc))
    out.print(f"TerraQore Studio: {url}")
    if browser and has_display():
        webbrowser.open(url)
    # Stay while something started here serves the page (a model server started here
    # stops when this process ends).
    running = page.process if page else model_server.process
    if running is None:
        return
    err.print("[dim]Ctrl-C stops it[/]")
    # `langgraph dev` runs in its own session, so a plain `kill` of this process would leave
    # it behind: SIGTERM exits through the `finally` below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        running.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if page is not None:
            page.stop()
