"""What the parent reads of a sandboxed run's folder: never following what the child planted.

The child owns its work folder while it runs, so any entry there may be a symbolic link, a
hard link to a file the child could not read, a pipe or a folder by the time the parent
looks. Every read here walks the path one component at a time from a descriptor of the
work folder, with `O_NOFOLLOW`, and takes only a regular file with one link, bounded. The
work folder itself sits in a folder the child cannot write, so its own entry cannot be
swapped. The same walk measures how much the run has written, for the disk cap.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import PurePosixPath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@contextlib.contextmanager
def _opened(path: str, flags: int, dir_fd: int | None = None) -> Iterator[int]:
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def read_inside(folder: str, relative: str, limit: int) -> str:
    """The text of `folder/relative`, at most `limit` bytes; empty unless a plain file.

    `relative` must be a plain relative path (no `..`); each of its folders is opened
    without following links, from `folder`'s own descriptor.
    """
    parts = PurePosixPath(relative).parts
    if not parts or any(p in ("", ".", "..", "/") for p in parts):
        return ""
    try:
        with contextlib.ExitStack() as stack:
            fd = stack.enter_context(_opened(folder, _DIR_FLAGS))
            for part in parts[:-1]:
                fd = stack.enter_context(_opened(part, _DIR_FLAGS, dir_fd=fd))
            leaf = stack.enter_context(_opened(parts[-1], _FILE_FLAGS, dir_fd=fd))
            info = os.fstat(leaf)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                return ""
            return os.read(leaf, limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


MAX_DEPTH = 128
"""Folders deeper than this are not measured: the run is stopped instead (fails closed)."""


def usage(folder: str, max_entries: int) -> tuple[int, int]:
    """(bytes on disk, entries) under `folder`, counting at most `max_entries + 1` entries.

    Links are counted, never followed. Depth first, holding one descriptor per level of
    the folder being walked (never one per folder still to walk). A folder swapped for a
    link or a file while we walk is skipped (the next poll counts it where it went), and
    one that vanished is not counted. Anything else that keeps part of the tree from being
    measured (no descriptor left, no permission, a tree deeper than `MAX_DEPTH`) raises
    OSError: what cannot be counted is never taken for empty.
    """
    counts = [0, 0]
    root = os.open(folder, _DIR_FLAGS)
    try:
        _measure(root, 0, counts, max_entries)
    finally:
        os.close(root)
    return counts[0], counts[1]


def _measure(fd: int, depth: int, counts: list[int], max_entries: int) -> None:
    """Add the entries under the open folder `fd` to `counts` ([bytes, entries])."""
    folders = []
    with os.scandir(fd) as scan:
        for entry in scan:
            counts[1] += 1
            if counts[1] > max_entries:
                return
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            counts[0] += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                folders.append(entry.name)
    for name in folders:
        if depth >= MAX_DEPTH:
            raise OSError(errno.ELOOP, f"folders nested deeper than {MAX_DEPTH}")
        try:
            inner = os.open(name, _DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                continue
            raise
        try:
            _measure(inner, depth + 1, counts, max_entries)
        finally:
            os.close(inner)
        if counts[1] > max_entries:
            return
