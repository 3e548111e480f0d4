"""Hashtags in a text."""

import re

_TAG = re.compile(r"(?:^|(?<=\s))#([\w-]+)", re.MULTILINE)


def extract_tags(text: str) -> set[str]:
    """Lower-cased tags: # at a line's start or after whitespace; headings are not tags."""
    return {m.group(1).lower() for m in _TAG.finditer(text)}
