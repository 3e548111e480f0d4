from __future__ import annotations

import hashlib
import os
import zipfile
import zlib

import pytest

from server.errors import BadRequest
from server.models.catalog import CatalogEntry, FileRef, SplitZipMember, register
from server.models.split_zip import inflate_member
from server.models.store import ModelStore


def _split_zip(tmp_path, payload: bytes, part_size: int):
    """A real zip with a padding member then the payload member, cut into parts."""
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pad.bin", os.urandom(5000))
        zf.writestr("dir/model.gguf", payload)
    with zipfile.ZipFile(archive) as zf:
        offset = zf.getinfo("dir/model.gguf").header_offset
    data = archive.read_bytes()
    parts = []
    for i in range(0, len(data), part_size):
        part = tmp_path / f"a.zip.{i // part_size + 1:03d}"
        part.write_bytes(data[i : i + part_size])
        parts.append(part)
    return parts, offset


def test_inflates_a_member_spanning_parts(tmp_path) -> None:
    payload = os.urandom(20000) + b"GGUF" * 10000
    parts, offset = _split_zip(tmp_path, payload, part_size=7000)
    assert len(parts) > 3
    out = b"".join(
        inflate_member(parts, offset, "dir/model.gguf", zlib.crc32(payload), len(payload))
    )
    assert out == payload
    # Starting from a later part: subtract the sizes of the parts left out.
    skip = offset // 7000
    later = b"".join(
        inflate_member(
            parts[skip:], offset - skip * 7000, "dir/model.gguf", zlib.crc32(payload), len(payload)
        )
    )
    assert later == payload


def test_wrong_offset_name_or_crc_is_refused(tmp_path) -> None:
    payload = b"x" * 5000
    parts, offset = _split_zip(tmp_path, payload, part_size=4000)
    crc = zlib.crc32(payload)
    with pytest.raises(BadRequest, match="no local header"):
        list(inflate_member(parts, offset + 1, "dir/model.gguf", crc, len(payload)))
    with pytest.raises(BadRequest, match="no local header"):
        list(inflate_member(parts, offset, "other.gguf", crc, len(payload)))
    with pytest.raises(BadRequest, match="pinned"):
        list(inflate_member(parts, offset, "dir/model.gguf", crc ^ 1, len(payload)))


def test_catalog_registers_split_zip_model_and_rejects_a_bad_hash(tmp_path, monkeypatch) -> None:
    payload = os.urandom(3000)
    parts, offset = _split_zip(tmp_path, payload, part_size=2500)
    monkeypatch.setattr(FileRef, "locate", lambda self: tmp_path / self.relpath)
    member = SplitZipMember("dir/model.gguf", offset, zlib.crc32(payload), len(payload))
    files = tuple(FileRef("", p.name) for p in parts)
    store = ModelStore(tmp_path / "models")
    monkeypatch.setattr(
        "server.models.catalog.config_for_blob",
        lambda path, digest, cache: {"model_format": "gguf"},
    )
    bad = CatalogEntry("fake:1", (), files, "sha256:" + "0" * 64, len(payload), split_zip=member)
    with pytest.raises(BadRequest, match="mismatch"):
        register(bad, store)
    assert not store.exists("fake:1") and not list((tmp_path / "models" / "blobs").glob("sha256-*"))
    good = CatalogEntry(
        "fake:1",
        (),
        files,
        "sha256:" + hashlib.sha256(payload).hexdigest(),
        len(payload),
        split_zip=member,
    )
    register(good, store)
    assert store.get("fake:1").model_path.read_bytes() == payload
