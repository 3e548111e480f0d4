"""parse_date: the date formats people type into the import sheet."""

import re
from datetime import date

MONTHS = {
    name: number
    for number, full in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
    for name in (full, full[:3])
}


def _month(word: str) -> int:
    try:
        return MONTHS[word.lower()]
    except KeyError:
        raise ValueError(f"unknown month: {word!r}") from None


def parse_date(text: str) -> date:
    """The date in text, in one of the accepted formats; ValueError otherwise."""
    s = text.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", s):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", s):
        return date(int(m[3]), int(m[2]), int(m[1]))
    if m := re.fullmatch(r"(\d{1,2}) ([A-Za-z]+) (\d{4})", s):
        return date(int(m[3]), _month(m[2]), int(m[1]))
    if m := re.fullmatch(r"([A-Za-z]+) (\d{1,2}), (\d{4})", s):
        return date(int(m[3]), _month(m[1]), int(m[2]))
    raise ValueError(f"not a date: {text!r}")
