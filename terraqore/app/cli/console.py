"""How the CLI shows things: consoles, sizes, ages and progress bars."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)

from terraqore.codecheck.display import one_line

err = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False)


def shown(text: object) -> str:
    """Text from a model or from generated code, safe to print with markup on.

    Rich markup (`[/]` raises, `[red]` restyles) is escaped, and control and bidirectional
    characters (terminal escapes that clear the screen or set the window's title) are shown
    as their Python escapes, on one line.
    """
    return escape(one_line(text))


def human_size(n: int | None) -> str:
    """`1.2 GB`-style sizes, as Ollama prints them."""
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def ago(when: datetime | None) -> str:
    """`3 minutes ago`-style ages, as Ollama prints them."""
    if when is None:
        return ""
    seconds = (datetime.now(UTC) - when.astimezone(UTC)).total_seconds()
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def modelfile_system(text: str) -> str:
    """The SYSTEM text of a rendered Modelfile, for servers whose `show` has no `system` field."""
    marker = 'SYSTEM """'
    if marker not in text:
        return ""
    return text.split(marker, 1)[1].split('"""', 1)[0]


class ProgressBars:
    """Rich progress bars keyed by status: bytes (pull, create, uploads) or items (the lake)."""

    def __init__(self, items: bool = False) -> None:
        counts = (MofNCompleteColumn(),) if items else (DownloadColumn(), TransferSpeedColumn())
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), *counts, console=err
        )
        self.tasks: dict[str, Any] = {}
        self.last = ""

    def __enter__(self) -> ProgressBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, status: str, completed: int | None, total: int | None) -> None:
        """Show one progress status: a bar when it has a total, else a line."""
        if total:
            if status not in self.tasks:
                self.tasks[status] = self.progress.add_task(status, total=total)
            self.progress.update(self.tasks[status], completed=completed or 0)
        elif status and status != self.last:
            self.progress.console.print(status, highlight=False)
        self.last = status
