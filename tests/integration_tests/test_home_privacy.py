"""Nothing under the home is readable by other users, and the lake never spills plaintext.

Issue 14, item 12: DuckDB's temporary files went to `./.tmp` unencrypted, and the FAISS files
(raw embedding vectors) were 0644. Issue 23: the page's `langgraph dev` kept its threads in a
0755 `ui/.langgraph_api/` as 0644 pickles. The entry points without a server or a page (the
lake, the index, `build`, `ask --thread`, model registration) are in
`tests/unit_tests/test_home_modes.py`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path

import httpx
import ollama
import pytest

from lake.config import LakeSettings
from lake.database import connect
from lake.operations import ingest
from retrievers import RetrievalSettings, sync_index
from retrievers.embedder import ServerEmbedder
from server.models.catalog import CATALOG
from terraqore.app.ui.launch import start_page
from terraqore.client.settings import Settings
from tests.server_harness import EMBED, TINY, free_port, start_server

MARKER = "PLAINTEXT-MARKER-7f3a"


def test_a_spilling_query_leaves_only_encrypted_files_in_the_lake_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = LakeSettings(home=tmp_path / "home", lake_key="k" * 32)
    con = connect(settings)
    try:
        con.execute("SET memory_limit = '40MB'")
        con.execute(
            f"CREATE TEMP TABLE big AS SELECT '{MARKER}-' || i::VARCHAR || repeat('x', 200) AS s "
            "FROM range(500000) t(i)"
        )
        assert con.execute("SELECT count(*) FROM big").fetchone() == (500000,)
        spill = settings.lake_dir / "tmp"
        files = [p for p in spill.rglob("*") if p.is_file()]
        assert files, "the query did not spill; the test proves nothing"
        assert all(MARKER.encode() not in p.read_bytes() for p in files)
        assert stat.S_IMODE(spill.stat().st_mode) == 0o700
        assert not (tmp_path / ".tmp").exists()
    finally:
        con.close()


def _package_inodes() -> set[int]:
    """Blobs hard-linked from installed packages keep the package's mode (they are public)."""
    out = set()
    for entry in CATALOG.values():
        for f in entry.files:
            try:
                out.add(f.locate().stat().st_ino)
            except (OSError, ValueError):
                continue
    return out


def _loose(home: Path, skip: Collection[Path] = ()) -> list[str]:
    """What others may read or enter under `home`, with its mode (package blobs are public)."""
    public = _package_inodes()
    found = []
    for path in [home, *home.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or st.st_ino in public or path in skip:
            continue
        if stat.S_IMODE(st.st_mode) & 0o077:
            found.append(f"{oct(stat.S_IMODE(st.st_mode))} {path.relative_to(home)}")
    return found


def test_a_home_first_created_by_the_page_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = os.umask(0o022)  # the umask most users have; langgraph dev inherits it
    try:
        page = start_page(
            Path(__file__).resolve().parents[2] / "langgraph.json",
            "127.0.0.1",
            free_port(),
            "http://127.0.0.1:9",  # no model: nothing here runs one
            Settings(home=home),
            env={"TERRAQORE_HOME": str(home), "TERRAQORE_ONLINE": "0"},
        )
    finally:
        os.umask(old)
    try:
        root = page.url.removesuffix("/terraqore/")
        thread = httpx.post(f"{root}/threads", json={}).json()["thread_id"]
        run = httpx.post(
            f"{root}/threads/{thread}/runs/wait",
            json={"assistant_id": "ingest", "input": {"source": "/nonexistent/folder"}},
            timeout=60,
        )
        assert run.status_code == 200, run.text
    finally:
        page.stop()
    state = home / "ui" / ".langgraph_api"
    assert any(p.suffix == ".pckl" for p in state.iterdir()), "no state was written"
    assert (home / "logs" / "ui.log").is_file()
    loose = _loose(home)
    assert not loose, "readable by others:\n" + "\n".join(loose)


def test_everything_under_the_home_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text(
        "# Lighthouse\n\n" + "The keeper logs the lamp every night. " * 30
    )
    srv = start_server(home, {"TERRAQORE_AUDIT_PROMPTS": "1", "TERRAQORE_CACHE": "1"})
    try:
        client = ollama.Client(host=srv.url)
        client.copy(TINY, "private/copy")
        client.generate(model=TINY, prompt="hi", options={"num_predict": 1, "temperature": 0})
        lake = LakeSettings(home=home)
        ingest(lake, str(docs))
        sync_index(lake, RetrievalSettings(home=home), ServerEmbedder(client, EMBED))
    finally:
        srv.stop()
    harness_log = home / "server.log"  # written by the test harness, not by the product
    loose = _loose(home, {harness_log})
    assert not loose, "readable by others:\n" + "\n".join(loose)
    kinds = {p.suffix for p in home.rglob("*") if p.is_file()}
    assert {".faiss", ".npy", ".duckdb", ".jsonl", ".sqlite"} <= kinds  # the test saw them all
    assert os.path.isdir(home / "lake" / "tmp")
