from __future__ import annotations

import hashlib
import json

import pytest

from server.errors import BadRequest, ModelNotFound
from server.models.manifest import MEDIA_CONFIG, MEDIA_MODEL, Manifest, ModelName
from server.models.store import ModelStore


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


def test_hard_link_not_copy(tmp_path) -> None:
    src = tmp_path / "model.gguf"
    src.write_bytes(b"x" * 1000)
    store = ModelStore(tmp_path / "models")
    layer = store.add_blob_from_file(src)
    blob = tmp_path / "models" / "blobs" / ("sha256-" + layer.digest.split(":")[1])
    assert blob.stat().st_ino == src.stat().st_ino


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
