import pytest
from solution import parse_duration


def test_units():
    assert parse_duration("45s") == 45
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2h5s") == 7205
    assert parse_duration("1h1m1s") == 3661


def test_zero():
    assert parse_duration("0s") == 0


@pytest.mark.parametrize("bad", ["", "5x", "10", "30m1h", "h", "1h1h"])
def test_invalid(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)
