import re

_ITEM = re.compile(r"(\d+)(?:-(\d+))?")


def parse_pages(spec: str) -> list[int]:
    """Read a page selection such as "1-3, 5, 9-10"."""
    pages: set[int] = set()
    for item in spec.split(","):
        match = _ITEM.fullmatch(item.strip())
        if not match:
            raise ValueError(f"not a page or range: {item.strip()!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            raise ValueError(f"bad range: {item.strip()!r}")
        pages.update(range(first, last + 1))
    return sorted(pages)
