import pytest
from solution import expand_field


def test_star_and_steps():
    assert expand_field("*", 0, 6) == [0, 1, 2, 3, 4, 5, 6]
    assert expand_field("*/15", 0, 59) == [0, 15, 30, 45]
    assert expand_field("*/10", 1, 31) == [1, 11, 21, 31]


def test_numbers_ranges_and_lists():
    assert expand_field("5", 0, 59) == [5]
    assert expand_field("1-5,20", 0, 23) == [1, 2, 3, 4, 5, 20]
    assert expand_field("10-20/5", 0, 59) == [10, 15, 20]


def test_sorted_and_unique():
    assert expand_field("30,0-2,1,*/30", 0, 59) == [0, 1, 2, 30]


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("60", 0, 59),
        ("0", 1, 31),
        ("5-2", 0, 59),
        ("*/0", 0, 59),
        ("", 0, 59),
        ("1,,2", 0, 59),
        ("mon", 0, 6),
        ("1-", 0, 59),
        ("20-70/5", 0, 59),
    ],
)
def test_bad_fields(field, low, high):
    with pytest.raises(ValueError):
        expand_field(field, low, high)
