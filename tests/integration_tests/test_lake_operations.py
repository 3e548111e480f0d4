"""Lake operations: schedule, retention, export, gold digests (real tiny model), seed, CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import ollama
import pytest
from typer.testing import CliRunner

from lake.config import LakeSettings
from lake.database import connect
from lake.gold import write_digests
from lake.knowledge_base import seed
from lake.maintenance import add_source, export, prune, schedule
from lake.operations import ingest, status
from terraqore.app.cli import app
from tests.integration_tests.test_lake_fixtures import make_corpus
from tests.server_harness import TINY, RunningServer
from tests.web_fixture import WebFixture

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def web() -> Iterator[WebFixture]:
    fixture = WebFixture()
    yield fixture
    fixture.close()


def online(tmp_path: Path) -> LakeSettings:
    return LakeSettings(
        home=tmp_path / "home", online=True, allowed_hosts="127.0.0.1", host_interval=0
    )


def test_schedule_runs_due_sources_and_survives_a_failing_one(
    tmp_path: Path, web: WebFixture
) -> None:
    settings = online(tmp_path)
    add_source(settings, str(make_corpus(tmp_path / "docs")), topic="docs", interval_s=0)
    add_source(settings, f"{web.url}/feed.xml", topic="harbour", interval_s=3600)
    add_source(settings, f"{web.url}/bad-feed.xml", interval_s=3600)
    add_source(settings, f"{web.url}/page.html")  # no interval: never scheduled
    first = schedule(settings)
    assert len(first.ran) == 2 and list(first.failed) == [f"{web.url}/bad-feed.xml"]
    assert first.added >= 7
    second = schedule(settings)  # the hourly ones ran a moment ago
    assert [Path(u).name for u in second.ran] == ["docs"] and not second.failed
    info = status(settings)
    assert any(s["last_error"] for s in info["sources"])


def test_retention_prune_and_parquet_export(tmp_path: Path, web: WebFixture) -> None:
    settings = online(tmp_path)
    ingest(settings, f"{web.url}/feed.xml", topic="harbour")  # items dated early November 2026
    ingest(settings, str(make_corpus(tmp_path / "docs")))
    before = status(settings)
    add_source(settings, f"{web.url}/feed.xml", topic="harbour", retention_days=7)
    result = prune(settings)
    after = status(settings)
    assert result["items"] == 2 and result["chunks"] >= 2
    assert after["bronze_items"] == before["bronze_items"] - 2
    assert after["silver_chunks"] == before["silver_chunks"] - result["chunks"]
    counts = export(settings, tmp_path / "out")
    assert counts["bronze_items"] == after["bronze_items"]
    rows = duckdb.sql(
        f"SELECT count(*) FROM '{tmp_path / 'out' / 'silver_chunks.parquet'}'"
    ).fetchone()
    assert rows is not None and rows[0] == after["silver_chunks"]


def test_gold_digest_cites_real_items(
    tmp_path: Path, web: WebFixture, server: RunningServer
) -> None:
    settings = online(tmp_path)
    ingest(settings, f"{web.url}/feed.xml", topic="harbour")
    client = ollama.Client(host=server.url)
    digests = write_digests(settings, client, TINY, topic="harbour")
    con = connect(settings)
    try:
        silver_ids = {
            r[0]
            for r in con.execute("SELECT id FROM bronze_items WHERE state = 'silver'").fetchall()
        }
        stored = con.execute("SELECT topic, summary, item_ids, model FROM gold_digests").fetchall()
    finally:
        con.close()
    assert digests and all(
        d.summary and set(d.item_ids) <= silver_ids and d.item_ids for d in digests
    )
    assert len(stored) == len(digests) and stored[0][0] == "harbour" and stored[0][3] == TINY
    write_digests(settings, client, TINY, topic="harbour")  # rewriting replaces, never duplicates
    assert status(settings)["gold_digests"] == len(digests)


def test_default_knowledge_base(tmp_path: Path) -> None:
    settings = LakeSettings(home=tmp_path / "home")
    added, report = seed(settings, ROOT, articles=40)
    assert added >= 41 and report.promoted >= 30
    again, _ = seed(settings, ROOT, articles=40)
    assert again == 0
    con = connect(settings)
    try:
        titles = {r[0] for r in con.execute("SELECT title FROM bronze_items").fetchall()}
        licensed = con.execute(
            "SELECT count(*) FROM bronze_items WHERE metadata->>'license' = 'CC BY-SA 4.0'"
        ).fetchone()
    finally:
        con.close()
    assert "TerraQore Studio" in titles and licensed is not None and licensed[0] == 40


def test_lake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    docs = make_corpus(tmp_path / "docs")
    r = runner.invoke(app, ["lake", "ingest", str(docs), "--topic", "docs", "--no-index"])
    assert r.exit_code == 0 and "bronze:" in r.output and "silver:" in r.output
    r = runner.invoke(app, ["lake", "status", "--json"])
    info = json.loads(r.output)
    assert r.exit_code == 0 and info["bronze_items"] >= 5 and info["sources"][0]["topic"] == "docs"
    r = runner.invoke(app, ["lake", "ingest", str(tmp_path / "missing")])
    assert r.exit_code == 1 and "no such file" in r.output
    r = runner.invoke(app, ["lake", "ingest", "https://example.org/x"])
    assert r.exit_code == 1 and "TERRAQORE_ONLINE" in r.output
    r = runner.invoke(app, ["lake", "export", str(tmp_path / "out")])
    assert r.exit_code == 0 and (tmp_path / "out" / "sources.parquet").is_file()
