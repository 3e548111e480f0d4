import pytest
from solution import fizzbuzz


def test_first_fifteen():
    assert fizzbuzz(15) == [
        "1",
        "2",
        "Fizz",
        "4",
        "Buzz",
        "Fizz",
        "7",
        "8",
        "Fizz",
        "Buzz",
        "11",
        "Fizz",
        "13",
        "14",
        "FizzBuzz",
    ]


def test_zero():
    assert fizzbuzz(0) == []


def test_negative():
    with pytest.raises(ValueError):
        fizzbuzz(-1)
