import re

_HEADING = re.compile(r"(#{1,6}) (.+)")


def _anchor(title: str) -> str:
    kept = re.sub(r"[^\w\- ]", "", title.lower())
    return kept.replace(" ", "-")


def toc(markdown: str) -> str:
    """A table of contents built from the document's headings."""
    headings = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        match = None if in_code else _HEADING.match(line)
        if match:
            headings.append((len(match.group(1)), match.group(2).strip()))
    if not headings:
        return ""
    top = min(level for level, _ in headings)
    used: dict[str, int] = {}
    lines = []
    for level, title in headings:
        anchor = _anchor(title)
        if anchor in used:
            used[anchor] += 1
            anchor = f"{anchor}-{used[anchor]}"
        else:
            used[anchor] = 0
        lines.append(f"{'  ' * (level - top)}- [{title}](#{anchor})")
    return "\n".join(lines)
