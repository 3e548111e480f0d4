import re

_ITEM = re.compile(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?")


def expand_field(field: str, low: int, high: int) -> list[int]:
    """Expand one field of a crontab line into the values it matches."""
    values: set[int] = set()
    for item in field.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise ValueError(f"bad cron item: {item!r}")
        whole, start, end, step = match.groups()
        if step is not None and whole != "*" and end is None:
            raise ValueError(f"a step needs * or a range: {item!r}")
        if whole == "*":
            first, last = low, high
        else:
            first = int(start)
            last = int(end) if end is not None else first
        if not (low <= first <= last <= high):
            raise ValueError(f"out of range {low}-{high}: {item!r}")
        n = int(step) if step is not None else 1
        if n == 0:
            raise ValueError(f"step of 0: {item!r}")
        values.update(range(first, last + 1, n))
    return sorted(values)
