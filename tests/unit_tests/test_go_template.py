from __future__ import annotations

import pytest

from server.models.go_template import GoTemplate, TemplateUnsupported, render_chat

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
