"""What generated code writes back is read without crashing the parent (third sandbox review).

The report, the folder the run leaves and the test ids are all the child's to write: a
report with `Infinity` for a line number, a tree nested thousands deep, and ids holding Rich
markup or terminal escapes must each end as data, never as an exception or a terminal
command.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from rich.console import Console

from terraqore.app.cli.console import shown
from terraqore.codecheck import sandbox


def test_a_report_with_impossible_line_numbers_keeps_its_tests(tmp_path: Path) -> None:
    report = {
        "tests": [{"id": "t.py::a", "outcome": "passed", "detail": ""}],
        "lines": {"mod.py": [float("inf"), 1e999, -3, 7, "8", 10**12], "x.py": "nope"},
    }
    (tmp_path / sandbox.REPORT).write_text(json.dumps(report))  # Infinity, as json writes it
    tests, lines = sandbox._read_report(tmp_path)
    assert [t.id for t in tests] == ["t.py::a"]
    assert lines in ({}, {"mod.py": [7], "x.py": []})


def test_a_tree_nested_thousands_deep_is_removed(tmp_path: Path) -> None:
    base = tmp_path / "run"
    base.mkdir()
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(3_000):  # deeper than Python 3.11's rmtree can recurse
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    sandbox._remove(base)
    assert not base.exists()


def test_ids_with_markup_or_terminal_escapes_print_as_text() -> None:
    hostile = "test_x[/]\x1b[2J\x1b]0;owned\x07[red]\u202e"
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200)
    console.print(f"doubted: {shown(hostile)}", highlight=False)  # as build.py prints
    printed = buffer.getvalue()
    assert "[/]" in printed and "[red]" in printed  # shown, not read as markup
    assert "\x1b[2J" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert "\\x1b[2J" in printed  # the escape is visible as text
