"""The Ask and Lake tabs in Chromium, on the real server, the small model and a real lake.

Runs a model: run it under the model lock (`flock /tmp/terraqore-model.lock pytest ...`).
The studio graph here is still the fake one (`tests/ui/langgraph.json`); the `qa` and
`ingest` graphs are the product's, answering with smollm2:135m.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.server_harness import TINY, RunningServer
from tests.small_lake import DOCS, SOURCE, build_small_lake
from tests.ui.conftest import ROOT, page_server, shot

CONFIG = ROOT / "tests" / "ui" / "langgraph.json"
QUESTION = "Where was Johann Sebastian Bach born?"
ATTEMPTS = 8
NOTE = "The Vellum bridge over the river Asker opened in 1911 and carries trams. " * 6


@pytest.fixture(scope="module")
def url(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page over a small indexed lake, its Q&A graph on the small model."""
    home = tmp_path_factory.mktemp("ui-ask") / "home"
    build_small_lake(home, server.url)
    env = {f"TERRAQORE_{role}_MODEL": TINY for role in ("ANSWER", "CONDENSE")}
    # One passage per question: smollm2:135m cites it reliably, where with three it often
    # writes no supported citation and the answer is "not found".
    env["TERRAQORE_K"] = "1"
    with page_server(CONFIG, home, server.url, env) as address:
        yield address


def open_tab(page: Page, url: str, tab: str) -> None:
    page.goto(f"{url}#{tab}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def ask(page: Page, question: str, turns: int) -> None:
    page.get_by_label("Your question").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    turn = page.locator("#turns > li").nth(turns - 1)
    expect(turn.locator(".answer")).not_to_have_attribute("aria-busy", "true", timeout=180_000)
    expect(page.locator("#turns > li")).to_have_count(turns)
    expect(page.locator("#ask-status")).not_to_have_class(re.compile("error"))


def ask_until_cited(page: Page) -> Locator:
    """Ask `QUESTION` in new conversations until an answer cites (at most `ATTEMPTS` times).

    smollm2:135m samples (its own temperature): now and then its draft cites nothing the
    check accepts, and the answer is "not found", which the page must then show as such.
    """
    for attempt in range(ATTEMPTS):
        page.get_by_role("button", name="New conversation").click()
        ask(page, QUESTION, 1)
        answer = page.locator("#turns > li").first
        if answer.locator(".answer .chip").count():
            return answer
        expect(answer).to_have_class(re.compile("not-found"))
        expect(answer.locator(".badge")).to_have_text("Not found in the lake")
        shot(page, f"ask-not-found-{attempt}")
    pytest.fail(f"no cited answer in {ATTEMPTS} tries: {answer.inner_text()}")


def test_an_answer_cites_its_sources_and_a_chip_opens_one(page: Page, url: str) -> None:
    open_tab(page, url, "ask")
    expect(page.locator("#ask-online")).to_be_hidden()  # online mode is not allowed here
    answer = ask_until_cited(page)
    chip = answer.locator(".answer .chip").first
    chip.click()
    card = page.locator("#source-card")
    expect(card).to_be_visible()
    expect(page.locator("#source-title")).to_be_focused()
    title = page.locator("#source-title").inner_text()
    assert title in DOCS
    expect(page.locator("#source-number")).to_have_text(f"Source {chip.inner_text()}")
    expect(page.locator("#source-where")).to_contain_text("wikipedia.org")
    assert page.locator("#source-snippet").inner_text().strip()
    shot(page, "ask")
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(chip).to_be_focused()

    # A follow-up stays in the same conversation, which the list shows and can reopen.
    ask(page, "When did he die?", 2)
    current = page.locator("#thread-list button.thread[aria-current=true]")
    expect(current).to_have_count(1)
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#turns > li")).to_have_count(0)
    page.locator("#thread-list button.thread").first.click()  # the newest first
    expect(page.locator("#turns > li")).to_have_count(2)
    expect(page.locator("#turns > li .question").first).to_have_text(QUESTION)
    expect(page.locator("#turns > li .chip").first).to_be_visible()


def test_a_folder_added_from_the_lake_tab_is_ingested_with_progress(
    page: Page, url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "vellum.md").write_text("# The Vellum bridge\n\n" + NOTE)
    open_tab(page, url, "lake")
    expect(page.locator("#lake-sources tbody")).to_contain_text(SOURCE)
    # Record every progress line the page shows while the run streams. Several events can
    # land in one task, and the observer then runs once: read each record's added text, not
    # the element's text at callback time, so no line is missed.
    page.evaluate(
        """() => {
            window.progress = [];
            new MutationObserver((records) => {
                for (const r of records) {
                    if (r.type === 'characterData') progress.push(r.target.data);
                    for (const n of r.addedNodes) progress.push(n.textContent);
                }
            }).observe(document.getElementById('lake-step'), {childList: true, characterData: true, subtree: true});
        }"""
    )
    page.get_by_label("A folder or file on this machine, or a feed or page URL").fill(str(folder))
    page.get_by_label("Topic (optional)").fill("bridges")
    page.get_by_role("button", name="Add", exact=True).click()
    result = page.locator("#lake-result")
    expect(result).to_contain_text("Added 1 new item(s)", timeout=180_000)
    assert re.search(r"[1-9]\d* chunk\(s\) indexed", result.inner_text()), result.inner_text()
    progress = page.evaluate("window.progress")
    assert any(line.startswith("Reading") for line in progress), progress
    assert any(line.startswith("Embedding") for line in progress), progress
    row = page.locator("#lake-sources tbody tr", has_text=folder.name)
    expect(row).to_contain_text("bridges")
    expect(row).to_contain_text("none")  # no error on its last run
    expect(page.locator("#lake-runs")).to_contain_text(str(folder))
    shot(page, "lake")

    # A path that does not exist: the error is shown, and listed with the source's runs.
    page.get_by_label("A folder or file on this machine, or a feed or page URL").fill(
        str(tmp_path / "missing")
    )
    page.get_by_role("button", name="Add", exact=True).click()
    expect(result).to_have_class(re.compile("error"), timeout=60_000)
    expect(page.locator("#lake-runs li.has-error")).to_have_count(1)
