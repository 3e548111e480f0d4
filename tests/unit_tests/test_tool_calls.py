from __future__ import annotations

from server.runtime.tool_calls import call_start, parse_tool_calls

NAMES = {"get_weather", "add"}


def test_qwen_tagged_calls() -> None:
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    rest, calls = parse_tool_calls(text, NAMES)
    assert rest == "" and calls == [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    ]


def test_several_tagged_calls_and_surrounding_text() -> None:
    text = (
        'Sure.\n<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>\n'
        '<tool_call>{"name": "add", "arguments": "{\\"a\\": 3, \\"b\\": 4}"}</tool_call>'
    )
    rest, calls = parse_tool_calls(text, NAMES)
    assert rest == "Sure." and [c["function"]["arguments"] for c in calls] == [
        {"a": 1, "b": 2},
        {"a": 3, "b": 4},
    ]


def test_bare_and_fenced_json() -> None:
    assert parse_tool_calls('{"name": "add", "parameters": {"a": 1}}', NAMES)[1][0]["function"][
        "arguments"
    ] == {"a": 1}
    fenced = '```json\n[{"name": "get_weather", "arguments": {"city": "Oslo"}}]\n```'
    assert parse_tool_calls(fenced, NAMES)[1][0]["function"]["name"] == "get_weather"


def test_not_a_call() -> None:
    for text in [
        "Just prose.",
        '{"name": "unknown_tool", "arguments": {}}',
        '{"city": "Paris"}',
        "<tool_call>not json</tool_call>",
        '{"name": "add", "arguments": "not json"}',
    ]:
        rest, calls = parse_tool_calls(text, NAMES)
        assert calls == [] and rest == text


def test_call_start_holds_back_what_may_open_a_call_and_nothing_else() -> None:
    assert call_start("  <tool") == 2 and call_start('{"na') == 0 and call_start("```js") == 0
    assert call_start("The weather") == len("The weather") and call_start("<b>") == len("<b>")


def test_a_call_after_a_sentence_in_a_fence_is_found() -> None:
    text = (
        'I will look it up.\n```json\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n```'
    )
    rest, calls = parse_tool_calls(text, NAMES)
    assert rest == "I will look it up." and calls == [
        {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}}
    ]
    # The grammar ends the answer with the call, so the closing fence may be missing.
    rest, calls = parse_tool_calls('Adding: {"name": "add", "arguments": {"a": 1, "b": 2}}', NAMES)
    assert rest == "Adding:" and calls[0]["function"]["arguments"] == {"a": 1, "b": 2}


def test_an_object_in_the_middle_of_prose_is_not_a_call() -> None:
    text = 'Use {"name": "add", "arguments": {}} like this, then carry on.'
    assert parse_tool_calls(text, NAMES) == (text, [])


def test_call_start_holds_back_only_what_could_open_a_call() -> None:
    assert call_start("The answer is 4.") == len("The answer is 4.")
    assert call_start("Sure. <tool_") == len("Sure. ")
    assert call_start('Calling {"na') == len("Calling ")
    assert call_start("Code: x = {'a': 1} and [1, 2]") == len("Code: x = {'a': 1} and [1, 2]")
    assert call_start("Here:\n```py") == len("Here:\n```py")
    assert call_start("Here:\n```js") == len("Here:\n")  # could still become ```json
