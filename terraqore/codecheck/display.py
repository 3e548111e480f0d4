"""Text from a model or from generated code, made safe to show on one line.

Names, test ids, paths and messages come from code a model wrote, so they may hold a
newline, a terminal escape or a bidirectional control character. `one_line` shows each such
character as its Python escape: nothing is hidden, nothing moves the cursor, and the text
stays on one line. The report's Markdown and the CLI's Rich markup escape what is special
to them on top of this (`nodes.report.code`, `terraqore.app.cli.console.shown`).
"""

from __future__ import annotations


def _escaped(c: str, also: str) -> str:
    if c in also:
        return f"\\x{ord(c):02x}"
    return c if c.isprintable() else c.encode("unicode_escape").decode()


def one_line(text: object, also: str = "") -> str:
    r"""`text` with every non-printable character, and each one in `also`, as its Python escape.

    >>> one_line("a\nb\x1b[2J")
    'a\\nb\\x1b[2J'
    >>> one_line("x`y", also="`")
    'x\\x60y'
    """
    return "".join(_escaped(c, also) for c in str(text))
