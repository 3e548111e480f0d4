from datetime import date

import pytest
from dateparse import parse_date


def test_iso():
    assert parse_date("2024-03-05") == date(2024, 3, 5)


def test_day_first_slashes():
    assert parse_date("05/03/2024") == date(2024, 3, 5)
    assert parse_date("5/3/2024") == date(2024, 3, 5)


def test_day_month_year():
    assert parse_date("5 March 2024") == date(2024, 3, 5)
    assert parse_date(" 5 mar 2024 ") == date(2024, 3, 5)


def test_month_day_year():
    assert parse_date("March 5, 2024") == date(2024, 3, 5)
    assert parse_date("MAR 5, 2024") == date(2024, 3, 5)


@pytest.mark.parametrize("bad", ["", "yesterday", "31/02/2024", "2024/03/05", "5 Marc 2024"])
def test_errors(bad):
    with pytest.raises(ValueError):
        parse_date(bad)
