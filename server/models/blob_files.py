"""Blob files on disk: reading, copying while hashing, and remembering what was verified.

`VerifiedStats` is what makes checking a blob's digest cheap: the size, modification time
and inode a blob had when its bytes were last hashed, kept in a small JSON file beside
the blobs. A blob whose file still has them needs no new hash; one whose file changed
(a hard link whose source was rewritten, an edit in place) is hashed again. As git does
for its index, a file modified within `RACY_NS` of being hashed is not trusted by its
stamp (a second write in the same timestamp tick would leave the stamp unchanged).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

CHUNK = 1 << 20
RACY_NS = 2_000_000_000
_FICLONE = 0x40049409  # Linux ioctl: share the source's extents copy-on-write (btrfs, XFS)


def read_chunks(paths: Iterable[Path]) -> Iterator[bytes]:
    """The bytes of several files, in order, in 1 MiB chunks."""
    for path in paths:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk


def sha256_file(path: Path) -> str:
    """`sha256:<hex>` of a file, read in chunks."""
    h = hashlib.sha256()
    for chunk in read_chunks([path]):
        h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def write_hashing(
    chunks: Iterable[bytes], target: Path, progress: Callable[[int], None] | None = None
) -> tuple[str, int]:
    """Write chunks to `target` (fsynced), hashing as it goes; return (digest, bytes written).

    `progress`, if given, is called with the number of bytes written so far.
    """
    h = hashlib.sha256()
    written = 0
    with target.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
            h.update(chunk)
            written += len(chunk)
            if progress is not None:
                progress(written)
        out.flush()
        os.fsync(out.fileno())
    return f"sha256:{h.hexdigest()}", written


def copy_hashing(source: Path, target: Path) -> str:
    """Copy `source` to the new file `target` (a reflink where the filesystem offers one).

    Returns the digest of what `target` holds: the copy is hashed, never the source, so a
    source changed during the copy cannot leave a blob that does not match its name.
    """
    with source.open("rb") as src, target.open("wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            cloned = True
        except OSError:
            cloned = False
    if not cloned:
        return write_hashing(read_chunks([source]), target)[0]
    return sha256_file(target)


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


class VerifiedStats:
    """Size, mtime and inode of each blob file when its digest last matched (`path` → stamp)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamps: dict[str, list[int]] | None = None

    def _load(self) -> dict[str, list[int]]:
        if self._stamps is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._stamps = {str(k): list(v) for k, v in data.items()}
            except (OSError, ValueError, AttributeError, TypeError):
                self._stamps = {}  # missing or damaged: everything is hashed once more
        return self._stamps

    def record(self, blob: Path) -> None:
        """Remember that `blob`'s bytes match its name as the file is now (unless racy)."""
        with self._lock:
            stamps = self._load()
            stamp = _stamp(blob)
            if time.time_ns() - stamp[1] < RACY_NS:
                stamps.pop(str(blob), None)  # too fresh to vouch for: hash it next time
            else:
                stamps[str(blob)] = stamp
            self._save(stamps)

    def forget(self, blob: Path) -> None:
        """Drop a removed blob's stamp."""
        with self._lock:
            if self._load().pop(str(blob), None) is not None:
                self._save(self._load())

    def unchanged(self, blob: Path) -> bool:
        """Whether `blob` still has the stamp it had when its digest last matched."""
        with self._lock:
            return self._load().get(str(blob)) == _stamp(blob)

    def _save(self, stamps: dict[str, list[int]]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(stamps, f)
            os.replace(tmp, self.path)
