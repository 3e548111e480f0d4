from __future__ import annotations

import pytest

from server.models.go_template import (
    GoTemplate,
    RenderBudget,
    TemplateTooLarge,
    TemplateUnsupported,
    render_chat,
)

CHATML = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""

LLAMA3 = """{{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>
{{- end }}
{{- range .Messages }}{{ if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>

{{ .Content }}<|eot_id|>{{ else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>

{{ .Content }}<|eot_id|>{{ end }}
{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""

LEGACY = """{{ if .System }}<|system|>
{{ .System }}</s>
{{ end }}{{ if .Prompt }}<|user|>
{{ .Prompt }}</s>
{{ end }}<|assistant|>
{{ .Response }}</s>
"""

CHAT = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "q1"},
    {"role": "assistant", "content": "a1"},
    {"role": "user", "content": "q2"},
]


def test_chatml_over_messages() -> None:
    text = render_chat(GoTemplate(CHATML), CHAT)
    assert text == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nq1<|im_end|>\n"
        "<|im_start|>assistant\na1<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_llama3_with_eq_and_else_if_and_system() -> None:
    text = render_chat(GoTemplate(LLAMA3), CHAT)
    assert text.startswith("<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>")
    assert (
        text.count("<|start_header_id|>user") == 2
        and text.count("<|start_header_id|>assistant") == 2
    )
    assert "system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user" in text  # trimmed


def test_legacy_template_renders_turns_and_cuts_at_response() -> None:
    text = render_chat(GoTemplate(LEGACY), CHAT)
    assert (
        text
        == "<|system|>\nS</s>\n<|user|>\nq1</s>\n<|assistant|>\na1</s>\n<|user|>\nq2</s>\n<|assistant|>\n"
    )


def test_and_or_not_ne_and_comments() -> None:
    t = GoTemplate(
        '{{/* c */}}{{ if and .System (not .Prompt) }}A{{ end }}{{ if or .Prompt "x" }}B{{ end }}'
        '{{ if ne .System "S" }}C{{ end }}'
    )
    assert t.render({"System": "S", "Prompt": ""}) == "AB"


@pytest.mark.parametrize(
    "bad",
    [
        "{{ .Tools }}",
        "{{ range $i, $m := .Messages }}{{ end }}",
        "{{ if .System }}open",
        "{{ len .Messages }}",
        "{{ .Unknown }}",
        '{{ template "x" }}',
        "{{ end }}",
        "{{ range .System }}{{ end }}",
        "{{ else }}",
        "{{ with .System }}{{ end }}",
        "{{ eq .Role }}",
    ],
)
def test_constructs_beyond_the_subset_are_refused(bad: str) -> None:
    with pytest.raises(TemplateUnsupported):
        GoTemplate(bad)


# -- bounds (issue 14, item 4) --------------------------------------------------------------

NESTED = "{{range .Messages}}{{range $.Messages}}{{.Content}}{{end}}{{end}}"


@pytest.mark.parametrize(
    "text",
    [
        NESTED,
        "{{range .Messages}}{{if .Role}}{{range $.Messages}}x{{end}}{{end}}{{end}}",
        "{{range .Messages}}{{if .Role}}a{{else if .Content}}{{range $.Messages}}{{end}}{{end}}{{end}}",
    ],
)
def test_nested_range_is_refused_at_create_time(text: str) -> None:
    with pytest.raises(TemplateUnsupported, match="range inside range"):
        GoTemplate(text)


def test_ranges_one_after_another_are_fine() -> None:
    tpl = GoTemplate("{{range .Messages}}{{.Role}}{{end}}|{{range .Messages}}{{.Content}}{{end}}")
    assert render_chat(tpl, CHAT[1:3]) == "userassistant|q1a1"


def test_the_review_blow_up_stops_at_the_size_bound_fast() -> None:
    """A big text per message and many messages: refused long before gigabytes are built."""
    import time
    import tracemalloc

    tpl = GoTemplate("{{range .Messages}}" + "x" * 65536 + "{{.Content}}{{end}}")
    msgs = [{"role": "user", "content": "m"}] * 50_000  # would render 3.2 GB
    tracemalloc.start()
    start = time.monotonic()
    with pytest.raises(TemplateTooLarge, match="characters"):
        render_chat(tpl, msgs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.monotonic() - start < 2.0
    assert peak < 64 * 1024 * 1024


def test_work_without_output_stops_at_the_time_bound() -> None:
    tpl = GoTemplate("{{range .Messages}}" + '{{if eq .Role "nobody"}}x{{end}}' * 2000 + "{{end}}")
    msgs = [{"role": "user", "content": "m"}] * 20_000
    budget = RenderBudget(max_seconds=0.3)
    import time

    start = time.monotonic()
    with pytest.raises(TemplateTooLarge, match="longer than"):
        render_chat(tpl, msgs, budget)
    assert time.monotonic() - start < 1.5


def test_legacy_turns_share_one_budget() -> None:
    tpl = GoTemplate("{{ .Prompt }}" + "y" * 100 + "{{ .Response }}")
    msgs = []
    for i in range(20):
        msgs += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]
    with pytest.raises(TemplateTooLarge):
        render_chat(tpl, msgs, RenderBudget(max_chars=1000))  # each turn alone is ~106
    assert len(render_chat(tpl, msgs, RenderBudget(max_chars=3000))) < 3000
