from datetime import date, timedelta


def add_business_days(start: date, days: int, holidays: frozenset[date] = frozenset()) -> date:
    """The date that is `days` working days after `start`."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            left -= 1
    return current
