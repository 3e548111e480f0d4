"""The Ask tab with online mode allowed: its toggle shows, and the page says the web was searched.

Runs a model: run it under the model lock (`flock /tmp/terraqore-model.lock pytest ...`).
The "web" is a local server (`tests.web_fixture.WebFixture`) standing in for the search
engine and its pages, on 127.0.0.1, so nothing leaves loopback; the page's server still runs
with the network guard. With online mode not allowed the toggle is absent: the offline
page's test (`test_ask_lake_page.py`) checks that.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.server_harness import TINY, RunningServer
from tests.small_lake import build_small_lake
from tests.ui.conftest import page_server, shot
from tests.ui.test_ask_lake_page import CONFIG, ask, open_tab
from tests.web_fixture import WebFixture

# The small lake holds a few Wikipedia articles: nothing on this, so retrieval is weak.
QUESTION = "What did the volunteers repair at the old harbour lighthouse?"


@pytest.fixture(scope="module")
def web() -> Iterator[WebFixture]:
    """The local stand-in for the search engine and the pages it finds."""
    fixture = WebFixture()
    yield fixture
    fixture.close()


@pytest.fixture(scope="module")
def url(
    server: RunningServer, web: WebFixture, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The page over a small indexed lake, online mode allowed, searching `web`."""
    home = tmp_path_factory.mktemp("ui-online") / "home"
    build_small_lake(home, server.url)
    env = {f"TERRAQORE_{role}_MODEL": TINY for role in ("ANSWER", "CONDENSE")}
    env |= {
        "TERRAQORE_SEARCH_BACKEND": f"{web.url}/search",
        "TERRAQORE_ALLOWED_HOSTS": "127.0.0.1",
        "TERRAQORE_ALLOW_HTTP": "1",
        "TERRAQORE_HOST_INTERVAL": "0",
    }
    with page_server(CONFIG, home, server.url, env, online=True) as address:
        yield address


def test_the_online_toggle_shows_and_the_page_says_the_web_was_searched(
    page: Page, url: str, web: WebFixture
) -> None:
    open_tab(page, url, "ask")
    toggle = page.locator("#ask-online")
    expect(toggle).to_be_visible()
    toggle.check()
    ask(page, QUESTION, 1)
    assert any(path.startswith("/search?") for path, _ in web.requests), web.requests
    turn = page.locator("#turns > li").first
    expect(turn.locator(".note.web")).to_contain_text("The web was searched")
    expect(
        turn.locator(".note", has_text=re.compile(r"web search added [1-9]\d* page"))
    ).to_be_visible()
    shot(page, "ask-online")
