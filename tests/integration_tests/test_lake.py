"""The lake on real DuckDB: encryption, keys, idempotent ingest, silver, files, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lake.config import LakeSettings
from lake.database import LakeError, connect
from lake.local_files import IngestError
from lake.operations import ingest, status
from tests.integration_tests.test_lake_fixtures import make_corpus, minimal_pdf
from tests.server_harness import guarded_cli

ROOT = Path(__file__).resolve().parents[2]
MARKER = "zebraquokka"


def lake(tmp_path: Path, **kw: object) -> LakeSettings:
    return LakeSettings(home=tmp_path / "home", **kw)


def test_encrypted_at_rest_with_a_0600_key_file(tmp_path: Path) -> None:
    settings = lake(tmp_path)
    report = ingest(settings, str(make_corpus(tmp_path / "docs")))
    assert report.bronze.added >= 5 and report.silver.chunks > 0
    data = settings.db_path.read_bytes()
    assert MARKER.encode() not in data and b"lighthouse" not in data
    assert settings.key_path.stat().st_mode & 0o777 == 0o600
    wal = settings.db_path.with_suffix(".duckdb.wal")
    assert not wal.exists() or MARKER.encode() not in wal.read_bytes()


def test_wrong_or_missing_key_fails_clearly_and_keeps_data(tmp_path: Path) -> None:
    settings = lake(tmp_path)
    ingest(settings, str(make_corpus(tmp_path / "docs")))
    secret = "not-the-key-" + "x" * 20
    with pytest.raises(LakeError) as info:
        connect(lake(tmp_path, lake_key=secret))
    assert "wrong encryption key" in str(info.value) and secret not in str(info.value)
    key = settings.key_path.read_text()
    settings.key_path.rename(tmp_path / "moved.key")
    with pytest.raises(LakeError, match=r"key file .* is missing"):
        connect(settings)
    assert status(lake(tmp_path, lake_key=key))["bronze_items"] >= 5  # nothing was lost


def test_reingest_adds_nothing(tmp_path: Path) -> None:
    settings = lake(tmp_path)
    docs = make_corpus(tmp_path / "docs")
    first = ingest(settings, str(docs))
    again = ingest(settings, str(docs))
    assert again.bronze.added == 0 and again.bronze.already_present == first.bronze.added
    assert again.silver.items == 0
    info = status(settings)
    assert info["bronze_items"] == first.bronze.added and len(info["sources"]) == 1


def test_silver_dedupes_checks_language_and_length_and_chunks(tmp_path: Path) -> None:
    settings = lake(tmp_path, chunk_tokens=64, chunk_overlap=8)
    report = ingest(settings, str(make_corpus(tmp_path / "docs")))
    assert report.silver.dropped == {
        "duplicate": 1,
        "near_duplicate": 1,
        "too_short": 1,
        "language": 1,
    }
    con = connect(settings)
    try:
        rows = con.execute(
            "SELECT c.item_id, c.ordinal, c.tokens, c.text, c.language FROM silver_chunks c"
            " ORDER BY c.item_id, c.ordinal"
        ).fetchall()
        states = dict(con.execute("SELECT url, state FROM bronze_items").fetchall())
    finally:
        con.close()
    assert rows and all(tokens <= 64 for _, _, tokens, _, _ in rows)
    assert all(lang == "en" for *_, lang in rows)
    long_item = [r for r in rows if r[0] == rows[0][0]]
    assert [r[1] for r in long_item] == list(range(len(long_item))) and len(long_item) > 2
    pair = sorted(s for url, s in states.items() if url.endswith(("copy.md", "lighthouse.md")))
    assert pair == ["duplicate", "silver"]  # whichever comes first is kept, the other is dropped


def test_every_file_type(tmp_path: Path) -> None:
    docs = tmp_path / "types"
    docs.mkdir()
    body = "The harbour lighthouse guided the ships of the town for a very long time. " * 5
    (docs / "a.md").write_text(f"# Markdown title\n\n{body} markdown")
    (docs / "b.txt").write_bytes(f"{body} caf\xe9 text".encode("cp1252"))  # not UTF-8
    (docs / "c.html").write_text(
        f"<html><head><title>Page title</title></head><body><nav>Menu</nav>"
        f"<article><h1>Page title</h1><p>{body} html</p></article></body></html>"
    )
    (docs / "d.pdf").write_bytes(minimal_pdf(f"{body} pdf"))
    (docs / "e.json").write_text(
        json.dumps([{"title": "J", "text": f"{body} json", "url": "https://x/j"}])
    )
    (docs / "f.jsonl").write_text(json.dumps({"title": "L", "extract": f"{body} jsonl"}) + "\n")
    (docs / ".hidden.md").write_text(body)
    settings = lake(tmp_path)
    report = ingest(settings, str(docs))
    con = connect(settings)
    try:
        items = {
            r[0].rsplit("/", 1)[-1]: (r[1], r[2])
            for r in con.execute("SELECT url, title, raw FROM bronze_items").fetchall()
        }
    finally:
        con.close()
    assert report.bronze.added == 6
    assert items["a.md"][0] == "Markdown title" and "café" in items["b.txt"][1]
    assert items["c.html"][0] == "Page title" and "Menu" not in items["c.html"][1]
    assert "pdf" in items["d.pdf"][1] and items["j"][0] == "J"
    assert not any("hidden" in k for k in items)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("bad.json", '{"title": "x", "text": ', "not valid JSON"),
        ("bad.jsonl", '{"text": "ok"}\nnot json\n', "line 2"),
        ("notext.json", '[{"title": "no body"}]', "no text field"),
        ("bad.pdf", "not a pdf at all", "not a readable PDF"),
    ],
)
def test_malformed_files_name_the_file_and_store_nothing(
    tmp_path: Path, name: str, content: str, words: str
) -> None:
    settings = lake(tmp_path)
    ingest(settings, str(make_corpus(tmp_path / "docs")))
    before = status(settings)["bronze_items"]
    bad = tmp_path / name
    bad.write_text(content)
    with pytest.raises(IngestError) as info:
        ingest(settings, str(bad))
    assert name in str(info.value) and words in str(info.value)
    assert status(settings)["bronze_items"] == before


def test_online_sources_are_refused_offline(tmp_path: Path) -> None:
    from lake.fetcher import FetchRefused

    for target in ("https://example.org/feed.xml", 'search:"lighthouses"'):
        with pytest.raises(FetchRefused, match="TERRAQORE_ONLINE"):
            ingest(lake(tmp_path), target)
    assert status(lake(tmp_path))["bronze_items"] == 0


def test_lake_ingest_opens_no_connection(tmp_path: Path) -> None:
    """Loading the extensions and ingesting stay on this machine (autoinstall is off)."""
    log = tmp_path / "net.log"
    docs = make_corpus(tmp_path / "docs")
    proc = guarded_cli(
        ["lake", "ingest", str(docs), "--no-index"], log, {"TERRAQORE_HOME": str(tmp_path / "home")}
    )
    assert proc.returncode == 0, proc.stderr
    assert not log.exists() or log.read_text() == ""


def test_kill_9_mid_ingest_then_a_clean_resume(tmp_path: Path) -> None:
    docs = tmp_path / "many"
    docs.mkdir()
    with (docs / "records.jsonl").open("w") as f:
        for i in range(3000):
            f.write(
                json.dumps(
                    {
                        "title": f"Record {i}",
                        "text": (
                            f"Record {i} describes harbour {i} and the ships that {i % 7} sailors sailed. "
                            * 8
                        ),
                    }
                )
                + "\n"
            )
    env = {**os.environ, "TERRAQORE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "terraqore.app.cli", "lake", "ingest", str(docs), "--no-index"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(6)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    settings = lake(tmp_path)
    mid = status(settings)  # the lake opens after the kill
    assert mid["bronze_items"] in (0, 3000)  # one transaction: all of the batch or none
    report = ingest(settings, str(docs))
    final = status(settings)
    assert final["bronze_items"] == 3000 and report.bronze.added == 3000 - mid["bronze_items"]
    assert final["silver_chunks"] > 0 and final["bronze_states"].get("new", 0) == 0
