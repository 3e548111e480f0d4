import re

_ENTRY = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")


def total_hours(entries: list[str]) -> float:
    """The hours in the entries, rounded to 2 decimals; an end before the start is next day."""
    minutes = 0
    for entry in entries:
        match = _ENTRY.fullmatch(entry.strip())
        if not match:
            raise ValueError(f"bad entry: {entry!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"bad entry: {entry!r}")
        minutes += (h2 * 60 + m2 - h1 * 60 - m1) % (24 * 60)
    return round(minutes / 60, 2)
