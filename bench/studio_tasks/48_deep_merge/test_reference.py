from solution import deep_merge


def test_nested_merge():
    base = {"server": {"host": "localhost", "port": 8000}, "debug": False}
    override = {"server": {"port": 9000}, "debug": True}
    assert deep_merge(base, override) == {
        "server": {"host": "localhost", "port": 9000},
        "debug": True,
    }


def test_deep_levels_and_new_keys():
    base = {"a": {"b": {"c": 1, "d": 2}}}
    override = {"a": {"b": {"d": 3, "e": 4}, "f": 5}, "g": 6}
    assert deep_merge(base, override) == {"a": {"b": {"c": 1, "d": 3, "e": 4}, "f": 5}, "g": 6}


def test_non_dicts_replace():
    assert deep_merge({"plugins": ["a", "b"]}, {"plugins": ["c"]}) == {"plugins": ["c"]}
    assert deep_merge({"x": {"y": 1}}, {"x": None}) == {"x": None}
    assert deep_merge({"x": 1}, {"x": {"y": 2}}) == {"x": {"y": 2}}


def test_empty_sides():
    assert deep_merge({}, {"a": 1}) == {"a": 1}
    assert deep_merge({"a": 1}, {}) == {"a": 1}


def test_arguments_untouched_and_not_shared():
    base = {"server": {"port": 8000}, "tags": ["x"]}
    override = {"server": {"host": "h"}, "extra": {"k": [1]}}
    result = deep_merge(base, override)
    assert base == {"server": {"port": 8000}, "tags": ["x"]}
    assert override == {"server": {"host": "h"}, "extra": {"k": [1]}}
    result["server"]["port"] = 1
    result["tags"].append("y")
    result["extra"]["k"].append(2)
    assert base == {"server": {"port": 8000}, "tags": ["x"]}
    assert override == {"server": {"host": "h"}, "extra": {"k": [1]}}
