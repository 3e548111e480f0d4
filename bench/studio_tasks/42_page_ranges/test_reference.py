import pytest
from solution import parse_pages


def test_examples():
    assert parse_pages("1-3, 5, 9-10") == [1, 2, 3, 5, 9, 10]
    assert parse_pages("4,2,2-3") == [2, 3, 4]


def test_single_page_and_single_range():
    assert parse_pages("7") == [7]
    assert parse_pages("3-3") == [3]
    assert parse_pages(" 10-12 ") == [10, 11, 12]


def test_overlaps_are_merged():
    assert parse_pages("1-5,3-7,5") == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    "spec", ["", "  ", "0", "0-2", "5-3", "1,,2", "a-b", "1-", "-3", "1;2", "2.5"]
)
def test_bad_selections(spec):
    with pytest.raises(ValueError):
        parse_pages(spec)
