import re

_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    r"""Remove terminal escape sequences (colors, cursor moves) from captured output."""
    return _CSI.sub("", text)
