"""Fuzzing TEMPLATE and Modelfile parsing and rendering (issue 14's fuzzers, fast half).

Every generated template is either refused with a 400 at create time, or renders within the
render budget (size and time) whatever the messages; every generated Modelfile parses or is a
400 that names the problem. Nothing else may happen.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from server.errors import BadRequest
from server.modelfile import parse_modelfile
from server.models.go_template import GoTemplate, RenderBudget, TemplateTooLarge, render_chat
from tests.template_strategies import MESSAGES, modelfile_text, template_body

BUDGET_CHARS = 4 * 1024 * 1024
BUDGET_SECONDS = 0.5


@settings(
    max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(text=template_body(), messages=MESSAGES)
def test_a_template_is_refused_or_renders_within_bounds(text: str, messages: list[dict]) -> None:
    try:
        template = GoTemplate(text)
    except BadRequest as exc:
        assert exc.status_code == 400 and exc.message.startswith("TEMPLATE")
        event("refused at create")
        return
    start = time.monotonic()
    try:
        out = render_chat(template, messages, RenderBudget(BUDGET_CHARS, BUDGET_SECONDS))
    except TemplateTooLarge as exc:
        assert exc.status_code == 400
        event("stopped by the render budget")
    else:
        assert len(out) <= BUDGET_CHARS
        event("rendered")
    assert time.monotonic() - start < BUDGET_SECONDS + 1.0


@settings(
    max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(text=st.one_of(modelfile_text(), st.text(max_size=500)))
def test_a_modelfile_parses_or_is_a_clear_400(text: str) -> None:
    try:
        mf = parse_modelfile(text)
    except BadRequest as exc:
        assert exc.status_code == 400 and len(exc.message) > 5
        return
    assert mf.from_
    if mf.template:
        try:
            GoTemplate(mf.template)
        except BadRequest as exc:
            assert exc.status_code == 400
