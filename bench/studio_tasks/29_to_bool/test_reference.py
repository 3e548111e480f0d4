import pytest
from solution import to_bool


@pytest.mark.parametrize("text", ["1", "true", "TRUE", " Yes ", "y", "On"])
def test_true_words(text):
    assert to_bool(text) is True


@pytest.mark.parametrize("text", ["0", "false", "No", "n", "OFF", "", "   "])
def test_false_words(text):
    assert to_bool(text) is False


def test_bools_and_ints():
    assert to_bool(True) is True
    assert to_bool(False) is False
    assert to_bool(1) is True
    assert to_bool(0) is False


@pytest.mark.parametrize("value", ["maybe", "2", "yess", 2, -1, None])
def test_anything_else_raises_with_the_value(value):
    with pytest.raises(ValueError, match=str(value)):
        to_bool(value)
