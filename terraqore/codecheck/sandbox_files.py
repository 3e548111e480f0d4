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


def usage(folder: str, max_entries: int) -> tuple[int, int]:
    """(bytes on disk, entries) under `folder`, counting at most `max_entries + 1` entries.

    Links are counted, never followed; a folder swapped for a link while we walk is
    skipped (`O_NOFOLLOW`), and one that vanished is simply not counted.
    """
    total = entries = 0
    pending: list[tuple[int | None, str]] = [(None, folder)]
    while pending and entries <= max_entries:
        dir_fd, name = pending.pop()
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            with os.scandir(fd) as scan:
                for entry in scan:
                    entries += 1
                    if entries > max_entries:
                        break
                    with contextlib.suppress(OSError):
                        info = entry.stat(follow_symlinks=False)
                        total += info.st_blocks * 512
                        if stat.S_ISDIR(info.st_mode):
                            pending.append((os.dup(fd), entry.name))
        finally:
            os.close(fd)
            if dir_fd is not None:
                os.close(dir_fd)
    for dir_fd, _ in pending:
        if dir_fd is not None:
            os.close(dir_fd)
    return total, entries
