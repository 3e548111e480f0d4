"""Content-Encoding decoding with the output bounded while it streams.

httpx decodes each received chunk in one call, so a 32 KB zstd body can expand to gigabytes
before any size check sees it. Here every decoder is pulled for at most `OUT_CHUNK` bytes
at a time, and the caller counts them, so a decompression bomb is refused after reading
only a little past the size cap. Unknown encodings are refused, never passed on as text.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any, cast

import zstandard

OUT_CHUNK = 64 * 1024
ACCEPT_ENCODING = "gzip, deflate, zstd"


class DecodingError(ValueError):
    """A body that cannot be decoded as its Content-Encoding says."""


def _zlib(source: Iterator[bytes], wbits: int) -> Iterator[bytes]:
    decoder = zlib.decompressobj(wbits)
    for chunk in source:
        data = chunk
        while data:
            try:
                out = decoder.decompress(data, OUT_CHUNK)
            except zlib.error as exc:
                raise DecodingError(f"corrupt compressed body: {exc}") from None
            data = decoder.unconsumed_tail
            if out:
                yield out
        if decoder.eof:
            return  # anything after the end of the stream is ignored, as zlib does
    if tail := decoder.flush():
        yield tail[:OUT_CHUNK]  # a truncated stream: what flush adds is small
    raise DecodingError("truncated compressed body")


def _deflate(source: Iterator[bytes]) -> Iterator[bytes]:
    """`deflate` is zlib-wrapped by the standard and raw deflate by some servers: take both."""
    first = next(source, b"")
    raw = len(first) >= 2 and (first[0] & 0x0F != 8 or (first[0] << 8 | first[1]) % 31 != 0)

    def replay() -> Iterator[bytes]:
        yield first
        yield from source

    return _zlib(replay(), -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)


class _Reader:
    """A file-like view of a chunk iterator, for zstandard's pull-based decoder."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self.source = source
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.source, None)
            if chunk is None:
                break
            self.buffer += chunk
        out, self.buffer = (
            (self.buffer, b"") if size < 0 else (self.buffer[:size], self.buffer[size:])
        )
        return out


def _zstd(source: Iterator[bytes]) -> Iterator[bytes]:
    dctx = zstandard.ZstdDecompressor()
    reader = cast(Any, _Reader(source))  # duck-typed: read() is all zstandard calls
    try:
        yield from dctx.read_to_iter(reader, read_size=OUT_CHUNK, write_size=OUT_CHUNK)
    except zstandard.ZstdError as exc:
        raise DecodingError(f"corrupt zstd body: {exc}") from None


_DECODERS: dict[str, Callable[[Iterator[bytes]], Iterator[bytes]]] = {
    "gzip": lambda s: _zlib(s, 16 + zlib.MAX_WBITS),
    "x-gzip": lambda s: _zlib(s, 16 + zlib.MAX_WBITS),
    "deflate": _deflate,
    "zstd": _zstd,
}


def decode(raw: Iterator[bytes], content_encoding: str) -> Iterator[bytes]:
    """The decoded body, in chunks of at most `OUT_CHUNK` bytes.

    Several encodings (`gzip, zstd`) are undone last first, as they were applied.
    """
    stream = raw
    names = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
    for name in reversed(names):
        if name == "identity":
            continue
        decoder = _DECODERS.get(name)
        if decoder is None:
            raise DecodingError(f"unsupported Content-Encoding {name!r}")
        stream = decoder(stream)
    return stream
