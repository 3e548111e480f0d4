"""The guarded fetcher and web sources against a local HTTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lake.config import LakeSettings
from lake.database import connect
from lake.fetcher import FetchFailed, FetchRefused, GuardedFetcher
from lake.operations import ingest, status
from lake.web_sources import FeedError
from tests.web_fixture import WebFixture


@pytest.fixture()
def web() -> Iterator[WebFixture]:
    fixture = WebFixture()
    yield fixture
    fixture.close()


def online(tmp_path: Path, **kw: object) -> LakeSettings:
    base: dict[str, object] = {
        "online": True,
        "allowed_hosts": "127.0.0.1",
        "host_interval": 0.0,
        "fetch_timeout": 1.0,
    }
    return LakeSettings(home=tmp_path / "home", **{**base, **kw})


def test_offline_refuses_and_sends_nothing(tmp_path: Path, web: WebFixture) -> None:
    with pytest.raises(FetchRefused, match="TERRAQORE_ONLINE"):
        ingest(LakeSettings(home=tmp_path / "home"), f"{web.url}/page.html")
    assert web.requests == []


def test_ssrf_blocks(tmp_path: Path, web: WebFixture) -> None:
    plain = LakeSettings(home=tmp_path / "home", online=True, allow_http=True)
    with pytest.raises(FetchRefused, match="private or local"):
        GuardedFetcher(plain).get(f"{web.url}/page.html")  # loopback, not listed
    fetcher = GuardedFetcher(plain, resolver=lambda host: ["10.1.2.3"])
    with pytest.raises(FetchRefused, match=r"10\.1\.2\.3"):
        fetcher.get("http://intranet.example/")
    # A listed host may redirect, but not to a private address.
    with pytest.raises(FetchRefused, match=r"169\.254\.169\.254"):
        GuardedFetcher(online(tmp_path)).get(f"{web.url}/redirect-private")
    assert web.requests and all(path != "/latest/meta-data" for path, _ in web.requests)


def test_https_only_and_domain_lists(tmp_path: Path) -> None:
    public = lambda host: ["93.184.216.34"]  # noqa: E731
    settings = LakeSettings(home=tmp_path / "home", online=True)
    with pytest.raises(FetchRefused, match="HTTPS only"):
        GuardedFetcher(settings, public).check("http://example.org/")
    GuardedFetcher(settings, public).check("https://example.org/")
    denied = LakeSettings(home=tmp_path / "home", online=True, deny_domains="example.org")
    with pytest.raises(FetchRefused, match="deny list"):
        GuardedFetcher(denied, public).check("https://news.example.org/")
    allowed = LakeSettings(home=tmp_path / "home", online=True, allow_domains="wikipedia.org")
    with pytest.raises(FetchRefused, match="allow list"):
        GuardedFetcher(allowed, public).check("https://example.org/")
    GuardedFetcher(allowed, public).check("https://en.wikipedia.org/wiki/Lighthouse")
    with pytest.raises(FetchRefused):
        GuardedFetcher(settings, public).check("file:///etc/passwd")


def test_feed_with_conditional_get(tmp_path: Path, web: WebFixture) -> None:
    settings = online(tmp_path)
    first = ingest(settings, f"{web.url}/feed.xml", topic="harbour")
    assert first.bronze.added == 2 and first.silver.promoted == 2
    again = ingest(settings, f"{web.url}/feed.xml")
    assert again.bronze.added == 0
    assert web.requests[-1][1].get("If-None-Match") == '"v1"'  # the second fetch was conditional
    src = status(settings)["sources"][0]
    assert src["kind"] == "feed" and src["topic"] == "harbour" and src["items"] == 2
    con = connect(settings)
    try:
        published = con.execute("SELECT min(published) FROM bronze_items").fetchone()[0]
    finally:
        con.close()
    assert published.year == 2026 and published.month == 11


def test_malformed_feed_is_an_error_recorded_on_the_source(tmp_path: Path, web: WebFixture) -> None:
    settings = online(tmp_path)
    ingest(settings, f"{web.url}/page.html")
    with pytest.raises(FeedError, match="not a valid feed"):
        ingest(settings, f"{web.url}/bad-feed.xml")
    info = status(settings)
    assert info["bronze_items"] == 1 and info["errors"][0]["uri"].endswith("bad-feed.xml")


def test_pages_encodings_redirects_and_limits(tmp_path: Path, web: WebFixture) -> None:
    settings = online(tmp_path)
    report = ingest(settings, f"{web.url}/redirect-ok")
    assert report.bronze.added == 1
    ingest(settings, f"{web.url}/cp1252.html")
    con = connect(settings)
    try:
        raws = [r[0] for r in con.execute("SELECT raw FROM bronze_items").fetchall()]
    finally:
        con.close()
    assert any("café concert" in r for r in raws) and not any("Home | About" in r for r in raws)
    with pytest.raises(FetchFailed, match="limit"):
        ingest(settings, f"{web.url}/huge.html")
    start = time.monotonic()
    with pytest.raises(FetchFailed, match="timed out"):
        GuardedFetcher(settings).get(f"{web.url}/slow")
    assert time.monotonic() - start < 20


def test_retry_on_503_and_per_host_pacing(tmp_path: Path, web: WebFixture) -> None:
    fetcher = GuardedFetcher(online(tmp_path))
    assert fetcher.get(f"{web.url}/flaky").status == 200  # one 503, then success
    paced = GuardedFetcher(online(tmp_path, host_interval=0.4))
    start = time.monotonic()
    paced.get(f"{web.url}/page.html")
    paced.get(f"{web.url}/page.html")
    assert time.monotonic() - start >= 0.4
    ua = web.requests[-1][1].get("User-Agent", "")
    assert ua.startswith("TerraQoreStudio")


def test_search_ingests_result_pages_with_the_query_as_provenance(
    tmp_path: Path, web: WebFixture
) -> None:
    settings = online(tmp_path, search_backend=f"{web.url}/search")
    report = ingest(settings, 'search:"harbour lighthouse"', topic="harbour")
    assert report.bronze.added == 2  # the private-address result was refused, not fetched
    con = connect(settings)
    try:
        metas = [
            json.loads(r[0]) for r in con.execute("SELECT metadata FROM bronze_items").fetchall()
        ]
        skipped = con.execute("SELECT detail FROM audit WHERE action = 'skipped'").fetchall()
    finally:
        con.close()
    assert all(m["query"] == "harbour lighthouse" and m["rank"] in (1, 3) for m in metas)
    assert "169.254.169.254" in skipped[0][0]
    assert status(settings)["sources"][0]["kind"] == "search"
    with pytest.raises(FetchRefused):
        ingest(LakeSettings(home=tmp_path / "h2", search_backend=f"{web.url}/search"), "search:x")


def test_ddgs_rate_limit_is_reported_not_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live engine cannot exist offline: a stand-in raises what ddgs raises when limited."""
    from ddgs.exceptions import RatelimitException

    from lake.search import SearchFailed, search

    class Limited:
        def __init__(self, **kw: object) -> None:
            pass

        def __enter__(self) -> Limited:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def text(self, *a: object, **kw: object) -> list[dict[str, str]]:
            raise RatelimitException("202 Ratelimit")

    monkeypatch.setattr("lake.search.DDGS", Limited)
    monkeypatch.setattr("lake.search.wait_random_exponential", lambda **kw: lambda rs: 0)
    settings = LakeSettings(home=tmp_path / "home", online=True)
    fetcher = GuardedFetcher(settings, resolver=lambda host: ["52.1.2.3"])
    with pytest.raises(SearchFailed, match="rate-limits"):
        search(settings, fetcher, "anything")
    with pytest.raises(FetchRefused, match="TERRAQORE_ONLINE"):
        search(
            LakeSettings(home=tmp_path / "home"), GuardedFetcher(LakeSettings(home=tmp_path)), "x"
        )
