"""The page in a real browser: Debian's Chromium driven by Playwright, offline.

`langgraph dev` serves the page and the graphs (one per test module, through
`terraqore.app.ui.launch.start_page`, as `terraqore ui` does) with the network guard loaded, and
every request the browser makes is recorded: a test fails if either leaves loopback.
Screenshots go to `test-artifacts/ui/` (git-ignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from terraqore.app.ui.launch import PageServer, start_page
from terraqore.client.settings import Settings
from tests.server_harness import free_port

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = Path(os.environ.get("TERRAQORE_CHROMIUM", "/usr/bin/chromium"))
# Chromium's own traffic off: no background fetches, component or sync updates, first-run pages.
OFFLINE_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
# A URL naming another host: a scheme of the network, or a protocol-relative `//host.tld`.
OUTSIDE = re.compile(r"""(?:https?|wss?|ftp)://|(?<=["'(=\s])//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+""")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium, headless and offline (skipped, saying why, where it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's package")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=OFFLINE_FLAGS)
        yield chromium
        chromium.close()


@contextmanager
def page_server(
    config: Path, home: Path, model_server: str, env: dict[str, str], online: bool = False
) -> Iterator[str]:
    """`langgraph dev` with `config` on a free port, the network guard loaded; yields the page URL.

    Online mode is allowed only when `online` says so (never inherited from the environment).
    After it stops, fails if anything in it tried to leave loopback.
    """
    guard_log = home / "net_guard.log"
    extra = {
        "TERRAQORE_HOME": str(home),
        # The guard (sitecustomize) records and refuses connections beyond loopback; the
        # project's root makes the test-only graphs importable.
        "PYTHONPATH": f"{ROOT / 'tests' / 'net_guard'}{os.pathsep}{ROOT}",
        "NET_GUARD_LOG": str(guard_log),
        **env,
    }
    extra["TERRAQORE_ONLINE"] = "1" if online else "0"
    started: PageServer = start_page(
        config, "127.0.0.1", free_port(), model_server, Settings(home=home), env=extra
    )
    try:
        yield started.url
    finally:
        started.stop()
    tried = guard_log.read_text() if guard_log.exists() else ""
    assert not tried, f"langgraph dev tried to leave loopback: {tried}"


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab; every request it makes must stay on loopback, and no script may fail."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    outside = [u for u in requests if urlsplit(u).scheme not in ("data", "blob")]
    outside = [u for u in outside if urlsplit(u).hostname not in LOOPBACK_HOSTS]
    assert not outside, f"the page asked for non-local URLs: {outside}"
    assert not errors, f"scripts failed on the page: {errors}"


def shot(tab: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
