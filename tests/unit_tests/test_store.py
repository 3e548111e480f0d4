from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from server.errors import BadRequest, ModelNotFound
from server.models import store as store_module
from server.models.manifest import MEDIA_CONFIG, MEDIA_MODEL, Manifest, ModelName
from server.models.store import BlobChanged, ModelStore


@pytest.mark.parametrize(
    ("name", "display", "path"),
    [
        (
            "qwen2.5-coder:0.5b",
            "qwen2.5-coder:0.5b",
            "registry.ollama.ai/library/qwen2.5-coder/0.5b",
        ),
        ("smollm2", "smollm2:latest", "registry.ollama.ai/library/smollm2/latest"),
        ("terraqore/idea", "terraqore/idea:latest", "registry.ollama.ai/terraqore/idea/latest"),
        ("hf.co/org/model:q4", "hf.co/org/model:q4", "hf.co/org/model/q4"),
    ],
)
def test_model_names(name, display, path) -> None:
    parsed = ModelName.parse(name)
    assert parsed.display == display and str(parsed.manifest_relpath()) == path


@pytest.mark.parametrize("bad", ["", "a b", "../etc:passwd", "a/b/c/d", "x:"])
def test_bad_names(bad) -> None:
    with pytest.raises(BadRequest):
        ModelName.parse(bad)


def _register(store: ModelStore, name: str, payload: bytes) -> str:
    weights = store.add_blob_bytes(payload)
    weights.mediaType = MEDIA_MODEL
    config = store.add_blob_bytes(json.dumps({"model_format": "gguf"}).encode())
    config.mediaType = MEDIA_CONFIG
    return store.write_manifest(ModelName.parse(name), Manifest(config=config, layers=[weights]))


def test_blobs_are_content_addressed_and_shared(tmp_path) -> None:
    store = ModelStore(tmp_path / "models")
    _register(store, "a:1", b"weights")
    _register(store, "b:1", b"weights")
    assert len([p for p in (tmp_path / "models" / "blobs").iterdir()]) == 2  # weights + config
    rec = store.get("a:1")
    assert rec.model_path.read_bytes() == b"weights"
    assert rec.model_path.name == "sha256-" + hashlib.sha256(b"weights").hexdigest()
    assert {r.name.display for r in store.list()} == {"a:1", "b:1"}


def test_package_files_are_hard_linked_and_keep_their_mode(tmp_path) -> None:
    src = tmp_path / "model.gguf"
    src.write_bytes(b"x" * 1000)
    src.chmod(0o644)
    store = ModelStore(tmp_path / "models")
    layer = store.add_blob_from_file(src, package_file=True)
    blob = tmp_path / "models" / "blobs" / ("sha256-" + layer.digest.split(":")[1])
    assert blob.stat().st_ino == src.stat().st_ino
    assert src.stat().st_mode & 0o777 == 0o644


def test_user_files_are_copied_and_the_copy_is_private(tmp_path) -> None:
    """Issue 14, items 8 and 9: a link made the blob change with the file, and chmod'ed it."""
    src = tmp_path / "private.gguf"
    src.write_bytes(b"x" * 1000)
    src.chmod(0o600)
    store = ModelStore(tmp_path / "models")
    layer = store.add_blob_from_file(src)
    blob = tmp_path / "models" / "blobs" / ("sha256-" + layer.digest.split(":")[1])
    assert blob.stat().st_ino != src.stat().st_ino
    assert src.stat().st_mode & 0o777 == 0o600 and blob.stat().st_mode & 0o777 == 0o600
    src.write_bytes(b"y" * 1000)  # the user's file changes; the blob does not
    assert blob.read_bytes() == b"x" * 1000


def test_a_blob_that_changed_on_disk_is_caught_when_loaded(tmp_path) -> None:
    store = ModelStore(tmp_path / "models")
    src = _write(tmp_path / "w.gguf", b"weights-1")
    layer = store.add_blob_from_file(src)
    layer.mediaType = MEDIA_MODEL
    config = store.add_blob_bytes(b"{}")
    store.write_manifest(ModelName.parse("m:1"), Manifest(config=config, layers=[layer]))
    path = store.get("m:1").weights_file
    calls = []
    real = store_module.sha256_file
    store_module.sha256_file = lambda p: calls.append(p) or real(p)
    try:
        _age(path)
        assert store.get("m:1").model_path == path and len(calls) == 1  # fresh: hashed once
        assert store.get("m:1").model_path == path and len(calls) == 1  # then a stat only
        path.write_bytes(b"weights-2")  # rewritten in place, as `cp other private` did
        with pytest.raises(BlobChanged, match="no longer matches"):
            _ = store.get("m:1").model_path
        assert len(calls) == 2
        path.write_bytes(b"weights-1")  # put back: hashed in full, then trusted again
        _age(path)
        assert store.get("m:1").model_path == path and len(calls) == 3
        assert store.get("m:1").model_path == path and len(calls) == 3
    finally:
        store_module.sha256_file = real
    # Showing a model never hashes: only what loads it checks.
    path.write_bytes(b"weights-3")
    assert store.get("m:1").weights_file == path


def _age(path) -> None:
    """Make a file's mtime old enough for its stamp to be trusted (not racy)."""
    old = time.time() - 60
    os.utime(path, (old, old))


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_digest_mismatch_leaves_nothing_behind(tmp_path) -> None:
    parts = [tmp_path / "p1", tmp_path / "p2"]
    parts[0].write_bytes(b"ab")
    parts[1].write_bytes(b"cd")
    store = ModelStore(tmp_path / "models")
    with pytest.raises(BadRequest, match="mismatch"):
        store.add_blob_from_parts(parts, "sha256:" + "0" * 64)
    assert list((tmp_path / "models" / "blobs").iterdir()) == []
    good = "sha256:" + hashlib.sha256(b"abcd").hexdigest()
    assert store.add_blob_from_parts(parts, good).size == 4


def test_manifest_refuses_missing_blobs_and_unknown_models_are_404(tmp_path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelNotFound):
        store.get("ghost:1")
    layer = store.add_blob_bytes(b"c")
    ghost = layer.model_copy(update={"digest": "sha256:" + "1" * 64})
    with pytest.raises(BadRequest, match="missing blob"):
        store.write_manifest(ModelName.parse("x:1"), Manifest(config=layer, layers=[ghost]))


def test_readonly_root_is_served_not_written(tmp_path) -> None:
    other = ModelStore(tmp_path / "ollama")
    _register(other, "legacy:7b", b"old weights")
    before = sorted(p.name for p in (tmp_path / "ollama").rglob("*"))
    store = ModelStore(tmp_path / "models", readonly_roots=[tmp_path / "ollama"])
    assert store.get("legacy:7b").model_path.read_bytes() == b"old weights"
    assert "legacy:7b" in {r.name.display for r in store.list()}
    assert sorted(p.name for p in (tmp_path / "ollama").rglob("*")) == before


def test_link_cache_shares_assembled_blobs_between_stores(tmp_path) -> None:
    parts = [tmp_path / "p1", tmp_path / "p2"]
    parts[0].write_bytes(b"ab" * 1000)
    parts[1].write_bytes(b"cd" * 1000)
    digest = "sha256:" + hashlib.sha256(b"ab" * 1000 + b"cd" * 1000).hexdigest()
    cache = tmp_path / "cache"
    first = ModelStore(tmp_path / "a", link_cache=cache)
    first.add_blob_from_parts(parts, digest)
    for p in parts:
        p.unlink()  # the second store cannot assemble: it must link from the cache
    second = ModelStore(tmp_path / "b", link_cache=cache)
    assert second.add_blob_from_parts(parts, digest).size == 4000
    a, b = first.blob_file(digest), second.blob_file(digest)
    assert a.stat().st_ino == b.stat().st_ino  # one copy on disk
