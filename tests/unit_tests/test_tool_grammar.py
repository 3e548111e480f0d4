"""The lazy tool-call grammar: where it triggers, and that llama.cpp always accepts what it is fed.

llama.cpp aborts the process if a triggered grammar rejects the text it is fed, so the
triggers are checked against llama.cpp's own grammar sampler, token by token. Only the
small model's vocabulary is loaded (`vocab_only`): no inference runs.
"""

from __future__ import annotations

import re

import llama_cpp
import pytest

from server.runtime.llama_model import ServerLlama
from server.runtime.tool_grammar import tool_call_grammar, trigger_patterns
from tests.grammar_probe import allowed, vocab_only

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "add",
            # `multipleOf` and number bounds cannot be enforced: they are dropped, the rest holds.
            "parameters": {
                "type": "object",
                "properties": {
                    "a": {"type": "integer", "multipleOf": 2},
                    "b": {"type": "number", "maximum": 3},
                },
                "required": ["a", "b"],
            },
        },
    },
]


@pytest.fixture(scope="module")
def vocab() -> ServerLlama:
    return vocab_only()


def _feed(vocab: ServerLlama, text: str) -> tuple[bool, str | None]:
    """Feed text token by token as sampling would; (grammar triggered, first refused piece)."""
    grammar = tool_call_grammar(TOOLS)
    assert grammar is not None
    sampler = vocab.grammar_sampler(grammar)
    assert sampler, "llama.cpp rejected the tool grammar"
    eos = vocab.token_eos()
    try:
        for token in vocab.tokenize(text.encode(), add_bos=False, special=True):
            if not allowed(sampler, token):
                return True, vocab.detokenize([token]).decode()
            llama_cpp.llama_sampler_accept(sampler, token)
        # Awaiting a trigger, nothing is refused; once triggered, only a finished call may end.
        triggered = not all(allowed(sampler, t) for t in (eos, *vocab.tokenize(b"zq")))
        return triggered, None
    finally:
        llama_cpp.llama_sampler_free(sampler)


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        'Let me check.\n```json\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}\n```',
        'Adding them: {"name": "add", "arguments": {"a": 4, "b": 2.5}}',
        '{\n  "name": "add",\n  "arguments": {"a": 1, "b": 2}\n}',
    ],
)
def test_a_valid_call_passes_the_grammar_wherever_it_starts(vocab, text) -> None:
    assert _feed(vocab, text) == (True, None)


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ('Sure: {"name": "weather", "arguments": {}}', "weather"),  # not one of the tools
        ('{"name": "add", "arguments": {"a": 1}}', "}"),  # "b" is required
        ('{"name": "get_weather", "arguments": {"city": 7}}', "7"),  # a string, per the schema
    ],
)
def test_once_a_call_starts_it_must_be_valid(vocab, text, refused) -> None:
    triggered, first_refused = _feed(vocab, text)
    assert triggered and first_refused is not None and first_refused.strip().startswith(refused)


@pytest.mark.parametrize(
    "text",
    [
        "The weather in Paris is mild. {curly} braces and x < y are fine.",
        "```python\nconfig = {'name': 'x'}\nitems = [{'a': 1}]\n```",
        'A JSON example: {"city": "Paris"}',
    ],
)
def test_prose_and_code_never_trigger_it(vocab, text) -> None:
    assert _feed(vocab, text) == (False, None)


def test_triggers_match_only_a_valid_opening_at_the_end() -> None:
    patterns = [re.compile(p) for p in trigger_patterns(["get_weather", "add"])]

    def triggers(text: str) -> bool:
        return any(p.search(text) for p in patterns)

    for text in [
        "x <tool_call>",
        'x <tool_call>\n{"name": "ge',
        'Ok: {"name": "add"',
        "{",
        '```json\n{"',
    ]:
        assert triggers(text), text
    for text in [
        '{"name": "weather',
        '{"name": "add", "arg',
        "x = {'name'",
        'Ok: {"nam',
        '{"debug',
    ]:
        assert not triggers(text), text
