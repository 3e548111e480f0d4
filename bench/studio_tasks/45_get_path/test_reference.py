from solution import get_path

DOC = {
    "users": [{"name": "Ada", "tags": ["admin", "ops"]}, {"name": "Linus"}],
    "meta": {"count": 2, "next": None, "0": "zero"},
}


def test_dict_and_list_steps():
    assert get_path(DOC, "users.1.name") == "Linus"
    assert get_path(DOC, "users.0.tags.1") == "ops"
    assert get_path(DOC, "meta.count") == 2


def test_negative_index():
    assert get_path(DOC, "users.-1.name") == "Linus"


def test_missing_gives_default():
    assert get_path(DOC, "users.5.name", "?") == "?"
    assert get_path(DOC, "users.x", "?") == "?"
    assert get_path(DOC, "meta.missing") is None
    assert get_path(DOC, "meta.count.deeper", 0) == 0


def test_digit_key_on_a_dict_is_a_key():
    assert get_path(DOC, "meta.0") == "zero"


def test_present_none_is_not_missing():
    assert get_path(DOC, "meta.next", "default") is None


def test_empty_path_returns_data():
    assert get_path(DOC, "") is DOC
    assert get_path([1, 2], "") == [1, 2]
