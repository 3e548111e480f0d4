"""GGUF metadata is cached by file identity, not by path (issue 14, item 14)."""

from __future__ import annotations

import os
import time

from server.models.gguf_info import config_for, read_gguf
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
