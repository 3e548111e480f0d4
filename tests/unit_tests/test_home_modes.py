"""Whatever first creates the home, it and everything in it are for its owner only.

Issue 23: a home first created by the lake or by `terraqore build` was 0755, `studio/` 0755
and `studio/threads.sqlite` 0644. Each entry point here starts on a home that does not exist
yet, with no model (the studio's agents are the scripted fakes). The server and the page's
`langgraph dev` are started in `tests/integration_tests/test_home_privacy.py`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lake.config import LakeSettings
from lake.operations import ingest
from retrievers import RetrievalSettings, sync_index
from server.home import private_dir, private_file
from terraqore.app.cli.app import app
from terraqore.client import usage


def loose(home: Path, public: Collection[int] = ()) -> list[str]:
    """What others may read or enter under `home` (the home included), with its mode."""
    found = []
    for path in [home, *home.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or info.st_ino in public:
            continue
        if stat.S_IMODE(info.st_mode) & 0o077:
            found.append(f"{oct(stat.S_IMODE(info.st_mode))} {path.relative_to(home.parent)}")
    return found


class HashEmbedder:
    """Vectors from a hash of the text: enough to build an index without a model."""

    def __init__(self, model: str, dims: int = 8) -> None:
        self.model, self.dims = model, dims

    def _row(self, text: str) -> np.ndarray:
        digest = hashlib.sha256(text.encode()).digest()
        row = np.frombuffer(digest[: self.dims * 4], dtype=np.uint32).astype(np.float32) + 1
        return row / np.linalg.norm(row)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._row(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._row(text)


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    """The umask most users have: files 0644 and folders 0755 unless the code says otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_private_dir_makes_every_folder_it_creates_private(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    private_dir(tmp_path / "a" / "b" / "c")
    assert loose(tmp_path / "a") == []
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # what existed is left alone


def test_private_file_creates_an_owner_only_file_or_tightens_one(tmp_path: Path) -> None:
    made = private_file(tmp_path / "home" / "new.sqlite", create=True)
    assert made.read_bytes() == b"" and loose(tmp_path / "home") == []
    old = tmp_path / "home" / "old.sqlite"
    old.write_bytes(b"kept")
    os.chmod(old, 0o644)
    private_file(old, create=True)
    assert old.read_bytes() == b"kept" and loose(tmp_path / "home") == []


def test_a_home_first_created_by_the_lake_and_its_index_is_private(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Lighthouse\n\n" + "The keeper logs the lamp. " * 40)
    home = tmp_path / "deep" / "home"
    lake = LakeSettings(home=home)
    assert ingest(lake, str(docs)).bronze.added == 1
    retrieval = RetrievalSettings(home=home)
    sync_index(lake, retrieval, HashEmbedder(retrieval.embedding_model))
    assert (home / "index").is_dir() and (home / "lake" / "lake.duckdb").is_file()
    assert loose(tmp_path / "deep") == []


def test_a_home_first_created_by_the_usage_log_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    record = usage.CallRecord("t", "chat", "coder", "local", "m", 1, 1, 0.1, 0.0)
    usage.append(home, record)
    usage.append(home, record)
    assert len(list(usage.records(home))) == 2 and loose(home) == []


def test_a_home_first_created_by_build_is_private(fakes, tmp_path: Path) -> None:
    home = tmp_path / "home"  # the `fakes` fixture's home, not created yet
    assert not home.exists()
    fakes()
    result = CliRunner().invoke(app, ["build", "add", "--out", str(tmp_path / "project")])
    assert result.exit_code == 0, result.output
    assert (home / "studio" / "threads.sqlite").is_file()
    assert loose(home) == []


def test_a_home_first_created_by_a_threaded_question_is_private(fakes, tmp_path: Path) -> None:
    home = tmp_path / "home"
    fakes()  # an empty lake: the answer is "not found", no model runs
    result = CliRunner().invoke(app, ["ask", "What is the keeper's lamp?", "--thread", "t1"])
    assert result.exit_code == 0, result.output
    assert (home / "threads.sqlite").is_file()
    assert loose(home) == []


def test_a_home_first_created_by_model_registration_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.models import catalog

    home = tmp_path / "home"
    monkeypatch.setenv("TERRAQORE_HOME", str(home))
    monkeypatch.delenv("TERRAQORE_BLOB_CACHE", raising=False)
    entry = catalog.lookup("all-minilm")
    if entry is None or not entry.installed():
        pytest.skip("the all-minilm package is not installed (`make setup` installs it)")
    assert catalog.main(["all-minilm"]) == 0
    public = {f.locate().stat().st_ino for f in entry.files}  # the package's own, hard-linked
    assert (home / "models" / "manifests").is_dir()
    assert loose(home, public) == []
