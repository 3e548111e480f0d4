"""Importing GGUF files (issue 14, items 8, 9 and 14).

A server path is read only inside configured import folders, and the answer outside them
does not tell whether a file exists. Files are copied in (the user's file keeps its mode and
can change without changing the blob), a blob changed on disk is caught when the model
loads, and metadata follows the file, not its path. Clients upload through `/api/blobs`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from server.models.catalog import CATALOG
from tests.lora_fixture import write_tiny_gguf
from tests.server_harness import TINY, RunningServer, start_server


def tiny_gguf() -> Path:
    return CATALOG[TINY].files[0].locate()


def refusal(srv: RunningServer, target: str) -> str:
    r = httpx.post(f"{srv.url}/api/pull", json={"model": target, "stream": False}, timeout=60)
    assert r.status_code == 400, r.text
    return str(r.json()["error"]).replace(target, "<target>")


def test_server_paths_are_refused_by_default_alike_whether_they_exist(
    server: RunningServer, tmp_path: Path
) -> None:
    real = write_tiny_gguf(tmp_path / "real.gguf", "llama", 100)
    answers = {
        refusal(server, target)
        for target in [
            str(real),
            str(tmp_path / "missing.gguf"),
            "/etc/passwd",
            "/etc/nothing-here",
            f"file://{real}",
            "/root/.ssh/id_rsa",
        ]
    }
    assert len(answers) == 1, answers
    (answer,) = answers
    assert "TERRAQORE_IMPORT_DIRS" in answer and "/api/blobs" in answer


@pytest.fixture(scope="module")
def importing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    root = tmp_path_factory.mktemp("import")
    folder = root / "imports"
    folder.mkdir()
    # No catalog models: every blob of this store is one of its own copies (none is a
    # package's hard link, which the tamper test must never write to).
    env = {"TERRAQORE_IMPORT_DIRS": str(folder), "TERRAQORE_REGISTER_INSTALLED": "0"}
    srv = start_server(root / "home", env)
    yield srv, folder
    srv.stop()


def test_import_folder_copies_the_file_and_keeps_its_mode(
    importing: tuple[RunningServer, Path],
) -> None:
    srv, folder = importing
    src = folder / "Private-Tiny.gguf"
    shutil.copyfile(tiny_gguf(), src)
    src.chmod(0o600)
    c = ollama.Client(host=srv.url)
    assert c.pull(str(src)).status == "success"
    record = c.show("private-tiny")
    assert record.details and record.details.family == "llama"
    blob = next(
        p
        for p in (srv.home / "models" / "blobs").iterdir()
        if p.stat().st_size == src.stat().st_size
    )
    assert blob.stat().st_ino != src.stat().st_ino  # a copy, not a link
    assert src.stat().st_mode & 0o777 == 0o600 and blob.stat().st_mode & 0o777 == 0o600
    # The user replaces their file: the model does not change, and still loads.
    shutil.copyfile(write_tiny_gguf(folder / "junk.tmp", "gpt2", 10), src)
    assert c.generate(model="private-tiny", prompt="Hi", options={"num_predict": 2}).done
    c.delete("private-tiny")


def test_links_and_dots_cannot_lead_out_of_the_import_folder(
    importing: tuple[RunningServer, Path], tmp_path: Path
) -> None:
    srv, folder = importing
    outside = write_tiny_gguf(tmp_path / "outside.gguf", "llama", 100)
    (folder / "escape.gguf").symlink_to(outside)
    (folder / "sub").symlink_to(tmp_path, target_is_directory=True)
    dotted = f"{folder}/../{tmp_path.name}/outside.gguf"
    answers = {
        refusal(srv, target)
        for target in [str(folder / "escape.gguf"), str(folder / "sub" / "outside.gguf"), dotted]
    }
    assert len(answers) == 1 and "TERRAQORE_IMPORT_DIRS" in answers.pop()
    # Inside the folder, a missing file may be named as such.
    assert "no such file" in refusal(srv, str(folder / "absent.gguf"))


def test_replacing_a_file_and_pulling_again_shows_the_new_metadata(
    importing: tuple[RunningServer, Path],
) -> None:
    srv, folder = importing
    path = folder / "swap.gguf"
    write_tiny_gguf(path, "llama", 1000)
    c = ollama.Client(host=srv.url)
    c.pull(str(path))
    first = c.show("swap")
    assert first.details and first.details.family == "llama"
    os.replace(write_tiny_gguf(folder / "next.tmp", "gpt2", 3_000_000), path)
    c.pull(str(path))
    second = c.show("swap")
    assert second.details and second.details.family == "gpt2"
    assert second.details.parameter_size == "3.00M"
    c.delete("swap")


def test_a_blob_changed_on_disk_is_refused_when_the_model_loads(
    importing: tuple[RunningServer, Path],
) -> None:
    srv, folder = importing
    src = folder / "tamper.gguf"
    shutil.copyfile(tiny_gguf(), src)
    c = ollama.Client(host=srv.url)
    c.pull(str(src))
    blobs = srv.home / "models" / "blobs"
    (blob,) = [p for p in blobs.iterdir() if p.stat().st_size == src.stat().st_size]
    assert blob.stat().st_nlink == 1  # our own copy: safe to damage
    with blob.open("r+b") as f:  # one byte changes, as a rewritten hard-linked source did
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ollama.ResponseError) as info:
        c.generate(model="tamper", prompt="Hi", options={"num_predict": 2})
    assert info.value.status_code == 400 and re.search(
        "no longer matches its digest", info.value.error
    )
    assert srv.alive()
