"""The generated project as a bounded map of safe relative paths to text.

Generated code is untrusted: before anything is written to disk (the sandbox, the CLI's
output folder) its paths are checked (relative, no `..`, no hidden or odd characters) and
its size is bounded, so a model cannot write outside the folder or fill the disk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

MAX_FILES = 40
"""Files one project may hold."""

MAX_FILE_BYTES = 200_000
"""Largest single file, in UTF-8 bytes."""

MAX_TOTAL_BYTES = 1_000_000
"""Largest project, in UTF-8 bytes."""

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")


class ProjectFileError(ValueError):
    """A generated file map that must not be written: a bad path or too much text."""


def safe_path(raw: str) -> str:
    """A generated path, normalised to POSIX form, or `ProjectFileError` if it is unsafe.

    Safe means relative, at most four folders deep, and every part made of letters,
    digits, `_`, `-` and `.`, not starting with a dot (so no `..`, no hidden files).
    """
    text = raw.strip().replace("\\", "/")
    path = PurePosixPath(text)
    parts = path.parts
    if not parts or path.is_absolute() or len(parts) > 5:
        raise ProjectFileError(f"unsafe file path {raw!r}")
    for part in parts:
        if not _PART.match(part) or part in (".", ".."):
            raise ProjectFileError(f"unsafe file path {raw!r}")
    return str(path)


def checked_files(files: Mapping[str, str]) -> dict[str, str]:
    """The file map with safe paths, within the count and size bounds; raises otherwise."""
    if len(files) > MAX_FILES:
        raise ProjectFileError(f"{len(files)} files; at most {MAX_FILES} are allowed")
    out: dict[str, str] = {}
    total = 0
    for raw, text in files.items():
        path = safe_path(raw)
        size = len(text.encode("utf-8", errors="replace"))
        if size > MAX_FILE_BYTES:
            raise ProjectFileError(f"{path} is {size} bytes; the limit is {MAX_FILE_BYTES}")
        total += size
        out[path] = text
    if total > MAX_TOTAL_BYTES:
        raise ProjectFileError(f"the project is {total} bytes; the limit is {MAX_TOTAL_BYTES}")
    return out


def write_files(root: Path, files: Mapping[str, str]) -> list[Path]:
    """Write a checked file map under `root` (created if needed); return the paths written."""
    written = []
    base = root.resolve()
    for rel, text in checked_files(files).items():
        target = (base / rel).resolve()
        if not target.is_relative_to(base):  # a symlink planted in `root` cannot redirect us
            raise ProjectFileError(f"{rel} resolves outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
