"""The page's files and its Build tab in Chromium, with the studio's scripted fake models.

No model runs here: the studio graph's agents are `tests/studio_fakes.py` (through
`tests/ui/langgraph.json`), and the model server the graphs are pointed at does not exist,
so a call to a real model would fail the run rather than load one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Response, expect

from tests.server_harness import free_port
from tests.ui.conftest import OUTSIDE, ROOT, page_server, shot

CONFIG = ROOT / "tests" / "ui" / "langgraph.json"
TASK = "a Python function add(a, b) that returns a + b"
BEFORE_APPROVAL = ["retrieve", "idea", "planner"]
# The Coder and the Validator run in the same step, so either may finish first.
AFTER_APPROVAL: list[str | set[str]] = [
    "approve_plan",
    {"coder", "validator"},
    "run_tests",
    "security_scan",
    "security",
]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page, its studio graph on the fake models, an empty lake."""
    home = tmp_path_factory.mktemp("ui-build") / "home"
    home.mkdir()
    nowhere = f"http://127.0.0.1:{free_port()}"
    with page_server(CONFIG, home, nowhere, {}) as address:
        yield address


def in_steps(nodes: list[str | None], expected: list[str | set[str]]) -> bool:
    """Whether `nodes`, kept to the names in `expected`, run in that order (a set: one step, any order)."""
    names = {n for step in expected for n in ({step} if isinstance(step, str) else step)}
    seen = [n for n in nodes if n in names]
    steps = [step if isinstance(step, set) else {step} for step in expected]
    at = 0
    for step in steps:
        if set(seen[at : at + len(step)]) != step:
            return False
        at += len(step)
    return at == len(seen)


def open_tab(page: Page, url: str, tab: str) -> None:
    page.goto(f"{url}#{tab}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def test_every_file_the_page_loads_is_local(page: Page, url: str) -> None:
    bodies: dict[str, str] = {}

    def keep(response: Response) -> None:
        kind = response.headers.get("content-type", "")
        if any(t in kind for t in ("html", "css", "javascript")):
            bodies[response.url] = response.text()

    page.on("response", keep)
    open_tab(page, url, "ask")
    names = {u.removeprefix(url) for u in bodies}
    assert {"", "static/style.css", "static/js/main.js", "static/js/lake.js"} <= names, names
    for where, text in bodies.items():
        assert not OUTSIDE.search(text), f"{where} names a non-local URL: {OUTSIDE.search(text)}"
    # The policy the browser enforces on top: nothing but this origin.
    policy = page.request.get(url).headers["content-security-policy"]
    assert "default-src 'self'" in policy and "http" not in policy


def test_the_tabs_work_from_the_keyboard_and_fit_a_narrow_screen(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    open_tab(page, url, "ask")
    page.locator("#tab-ask").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-build")).to_be_focused()
    expect(page.locator("#panel-build")).to_be_visible()
    expect(page.locator("#panel-ask")).to_be_hidden()
    page.keyboard.press("End")
    expect(page.locator("#panel-lake")).to_be_visible()
    assert page.url.endswith("#lake")
    for tab in ("ask", "build", "lake"):
        page.locator(f"#tab-{tab}").click()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the {tab} tab scrolls sideways on a narrow screen"
        # Every visible control has a label (its own text, aria-label or a <label>).
        unlabeled = page.evaluate(
            """() => [...document.querySelectorAll('input, textarea, button, select')]
                .filter((c) => c.offsetParent !== null)
                .filter((c) => !(c.labels?.length || c.getAttribute('aria-label')
                                 || c.textContent.trim()))
                .map((c) => c.id || c.outerHTML)"""
        )
        assert not unlabeled, f"controls without a label on the {tab} tab: {unlabeled}"
    shot(page, "narrow-lake")


def test_a_studio_task_streams_its_steps_and_completes_after_approval(page: Page, url: str) -> None:
    open_tab(page, url, "build")
    # Record what the live box shows while the agents write.
    page.evaluate(
        """() => {
            window.live = [];
            const box = document.getElementById('build-live');
            new MutationObserver(() => live.push(box.textContent))
              .observe(box, {childList: true, characterData: true, subtree: true});
        }"""
    )
    page.get_by_label("What should the studio build?").fill(TASK)
    page.get_by_role("button", name="Build", exact=True).click()

    approval = page.locator("#approval")
    expect(approval).to_be_visible(timeout=60_000)
    expect(page.locator("#approval-title")).to_be_focused()
    steps = page.locator("#steps > li")
    assert [s.get_attribute("data-node") for s in steps.all()] == BEFORE_APPROVAL
    # Tokens streamed while the agents wrote (the fake models stream too).
    assert "token(s)" in page.locator("#steps li[data-node=planner]").inner_text()
    expect(approval).to_contain_text("solution.py")
    seen = page.evaluate("window.live")
    # The Idea's answer grew in the box piece by piece: a streamed partial, then more.
    partial = [t for t in seen if "Adder" in t]
    assert partial and any(len(t) < len(partial[-1]) for t in seen if t), seen[:5]
    shot(page, "build-approval")

    page.get_by_role("button", name="Approve").click()
    result = page.locator("#build-result")
    expect(result).to_be_visible(timeout=120_000)
    nodes = [s.get_attribute("data-node") for s in steps.all()]
    assert nodes[: len(BEFORE_APPROVAL)] == BEFORE_APPROVAL
    assert in_steps(nodes, AFTER_APPROVAL), nodes
    assert nodes[-1] == "report"
    expect(page.locator("#steps li[data-node=approve_plan]")).to_contain_text("approved")
    expect(result).to_contain_text("Passed: 2 of 2 test(s)")
    expect(result).to_contain_text("Verdict: pass")
    code = result.locator("pre code.hl").first
    expect(code.locator(".tok-kw", has_text="def").first).to_be_visible()
    expect(code.locator(".tok-def", has_text="add")).to_be_visible()
    expect(page.locator("#build-working")).to_have_text("Done.")
    shot(page, "build-result")


def test_feedback_at_the_plan_sends_it_back_to_the_planner(page: Page, url: str) -> None:
    open_tab(page, url, "build")
    page.get_by_label("What should the studio build?").fill(TASK)
    page.get_by_role("button", name="Build", exact=True).click()
    expect(page.locator("#approval")).to_be_visible(timeout=60_000)
    page.get_by_label("Or tell the planner what to change").fill("Name the file adder.py")
    page.get_by_role("button", name="Send feedback and plan again").click()
    # The planner runs again and the plan waits once more.
    expect(page.locator("#steps li[data-node=planner]")).to_have_count(2, timeout=60_000)
    expect(page.locator("#approval")).to_be_visible()
    expect(page.locator("#steps li[data-node=approve_plan]")).to_contain_text("feedback")
    page.get_by_role("button", name="Stop here").click()
    expect(page.locator("#build-result")).to_contain_text("stopped at the plan", timeout=60_000)
