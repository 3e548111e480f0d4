"""GGUF metadata is cached by file identity, not by path (issue 14, item 14), and a blob's
config is shared by digest through the link cache."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from server.models import gguf_info
from server.models.gguf_info import config_for, config_for_blob, read_gguf
from tests.lora_fixture import write_tiny_gguf


def test_a_file_replaced_at_the_same_path_is_read_again(tmp_path) -> None:
    path = write_tiny_gguf(tmp_path / "model.gguf", "llama", 1000)
    meta, params = read_gguf(path)
    assert meta["general.architecture"] == "llama" and params == 1000
    assert read_gguf(path) is read_gguf(path)  # cached while the file is unchanged
    replacement = write_tiny_gguf(tmp_path / "other.gguf", "gpt2", 5000)
    os.replace(replacement, path)
    meta, params = read_gguf(path)
    assert meta["general.architecture"] == "gpt2" and params == 5000
    assert config_for(path)["model_family"] == "gpt2"


def test_a_file_rewritten_in_place_is_read_again(tmp_path) -> None:
    path = write_tiny_gguf(tmp_path / "model.gguf", "llama", 1000)
    assert read_gguf(path)[1] == 1000
    time.sleep(0.01)
    with (
        path.open("r+b") as f,
        open(write_tiny_gguf(tmp_path / "b.gguf", "qwen2", 1000), "rb") as g,
    ):
        f.write(g.read())  # same inode, same size
    assert read_gguf(path)[0]["general.architecture"] == "qwen2"


def test_a_blob_config_is_read_once_per_cache_and_never_across_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_tiny_gguf(tmp_path / "model.gguf", "llama", 1000)
    cache = tmp_path / "cache"
    reads: list[Path] = []

    def counted(p: Path) -> dict[str, object]:
        reads.append(p)
        return config_for(p)

    monkeypatch.setattr(gguf_info, "config_for", counted)
    first = config_for_blob(path, "sha256:aa", cache)
    assert first["model_family"] == "llama" and len(reads) == 1
    assert config_for_blob(path, "sha256:aa", cache) == first and len(reads) == 1
    # Another digest is another blob: read, not taken from the cache.
    other = write_tiny_gguf(tmp_path / "other.gguf", "gpt2", 5000)
    assert config_for_blob(other, "sha256:bb", cache)["model_family"] == "gpt2"
    assert len(reads) == 2
    # A damaged cache entry is read again from the blob, and rewritten.
    for entry in cache.glob("config-sha256-aa-*.json"):
        entry.write_text("{not json")
    assert config_for_blob(path, "sha256:aa", cache) == first and len(reads) == 3
    assert config_for_blob(path, "sha256:aa", cache) == first and len(reads) == 3
    # Without a cache, nothing is shared.
    config_for_blob(path, "sha256:aa", None)
    assert len(reads) == 4 and not list(cache.glob(".partial-*"))
