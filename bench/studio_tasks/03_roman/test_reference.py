import pytest
from solution import from_roman, to_roman


def test_to_roman():
    assert to_roman(1) == "I"
    assert to_roman(4) == "IV"
    assert to_roman(1994) == "MCMXCIV"
    assert to_roman(3999) == "MMMCMXCIX"


def test_from_roman():
    assert from_roman("IX") == 9
    assert from_roman("MCMXCIV") == 1994
    assert from_roman("LVIII") == 58


def test_round_trip():
    for n in (1, 49, 444, 2024, 3888):
        assert from_roman(to_roman(n)) == n


def test_out_of_range():
    with pytest.raises(ValueError):
        to_roman(0)
    with pytest.raises(ValueError):
        to_roman(4000)
