"""Start the page's server (`langgraph dev` with `langgraph.json`), or reuse one that answers.

`langgraph dev` runs the graphs and mounts the page (`terraqore.app.ui.app`). It is started
offline (no analytics, no version check, no tracing, no browser of its own), with the
built-in server's CORS origins, from `$TERRAQORE_HOME/ui/` so that the threads it keeps
(`.langgraph_api/`) live beside the lake rather than in the source tree, with a umask of 077
so that what it writes there (and anywhere) is its owner's only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from server.config import ServerSettings
from server.home import private_dir, private_file
from server.security import origin_regex
from terraqore.app.ui.guard import PAGE_PREFIX
from terraqore.client.server_process import log_tail
from terraqore.client.settings import Settings

# langgraph dev must stay offline: these turn off its analytics, its check for a newer
# version and LangSmith tracing.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}
EXPOSE = ["x-pagination-total", "x-pagination-next", "content-location"]
STATE_DIR = ".langgraph_api"
"""Where `langgraph dev` keeps its threads and runs, in its working folder."""


class PageStartError(RuntimeError):
    """The page's server could not be started; the message carries its log tail."""


@dataclass
class PageServer:
    """The page's server: its address, and the process if this one started it."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def page_url(host: str, port: int) -> str:
    """The page's address."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{PAGE_PREFIX}"


def page_answers(url: str, headers: dict[str, str] | None = None, timeout: float = 1.0) -> bool:
    """Whether our page answers at the URL (not just anything on that port)."""
    try:
        response = httpx.get(f"{url}api/info", timeout=timeout, headers=headers)
        return response.status_code == 200 and "graphs" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


def dev_environment(model_server: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment `langgraph dev` runs in: offline, on our model server, our CORS rules."""
    # `allow_origins` must be given, even empty: left out, langgraph-api fills in `*`, and the
    # regex then grants nothing the `*` has not already granted to every site.
    cors = {
        "allow_origins": [],
        "allow_origin_regex": origin_regex(ServerSettings().origins),
        "allow_methods": ["*"],
        "allow_headers": ["*"],
        "expose_headers": EXPOSE,
    }
    return {
        **os.environ,
        **OFFLINE_ENV,
        "TERRAQORE_OLLAMA_HOST": model_server,
        "CORS_CONFIG": json.dumps(cors),
        **(extra or {}),
    }


def start_page(
    config: Path,
    host: str,
    port: int,
    model_server: str,
    settings: Settings | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> PageServer:
    """Start `langgraph dev` with `config` and wait until the page answers.

    `env` adds to (or overrides) the environment it inherits.
    """
    settings = settings or Settings()
    if not config.is_file():
        raise PageStartError(f"no LangGraph config at {config}")
    # Threads and runs (questions, answers, code) and the log: owner only. langgraph dev
    # writes `.langgraph_api/` with its own umask (077, below); what an older version left
    # there is tightened here.
    workdir = settings.private("ui")
    for kept in private_dir(workdir / STATE_DIR).iterdir():
        if kept.is_file():
            private_file(kept)
    log_path = private_file(settings.private("logs") / "ui.log", create=True)
    command = [
        sys.executable,
        "-m",
        "langgraph_cli",
        "dev",
        "--config",
        str(config.resolve()),
        "--host",
        host,
        "--port",
        str(port),
        "--no-browser",
        "--no-reload",
    ]
    # The graphs are imported by module name: the config's folder (the project's root)
    # must be importable from the working folder.
    extra = dict(env or {})
    root = str(config.resolve().parent)
    inherited = extra.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    extra["PYTHONPATH"] = os.pathsep.join(p for p in (inherited, root) if p)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=dev_environment(model_server, extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=0o077,
        )
    page = PageServer(page_url(host, port), process, log_path)
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PageStartError(
                f"langgraph dev exited with code {process.returncode} before the page was ready.\n"
                f"Log tail ({log_path}):\n{log_tail(log_path)}"
            )
        if page_answers(page.url, headers, timeout=0.5):
            return page
        time.sleep(0.3)
    page.stop()
    raise PageStartError(
        f"the page did not answer at {page.url} within {timeout:.0f}s.\n"
        f"Log tail ({log_path}):\n{log_tail(log_path)}"
    )
