from datetime import date

from solution import add_business_days


def test_friday_to_monday():
    assert add_business_days(date(2024, 3, 1), 1) == date(2024, 3, 4)


def test_a_whole_week():
    assert add_business_days(date(2024, 3, 4), 5) == date(2024, 3, 11)
    assert add_business_days(date(2024, 3, 4), 10) == date(2024, 3, 18)


def test_zero_days_and_weekend_start():
    assert add_business_days(date(2024, 3, 2), 0) == date(2024, 3, 2)
    assert add_business_days(date(2024, 3, 2), 1) == date(2024, 3, 4)  # Saturday -> Monday


def test_holidays_are_skipped():
    holidays = frozenset({date(2024, 12, 25), date(2024, 12, 26)})
    assert add_business_days(date(2024, 12, 24), 1, holidays) == date(2024, 12, 27)
    assert add_business_days(date(2024, 12, 20), 3, holidays) == date(2024, 12, 27)


def test_across_a_year_end():
    assert add_business_days(date(2023, 12, 29), 2) == date(2024, 1, 2)
