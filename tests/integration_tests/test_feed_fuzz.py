"""Fuzzing web ingest: generated feeds and pages (malformed, huge, deeply nested, entity bombs,
wrongly encoded) served on loopback. An ingest either adds items or fails with the lake's
own error, recorded on its source; it never crashes, and memory stays bounded."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lake.config import LakeSettings
from lake.database import connect
from lake.fetcher import FetchFailed
from lake.operations import ingest, status
from tests.static_web import StaticWeb

COUNTER = itertools.count()
ITEM = "<item><title>{t}</title><link>http://x/{i}</link><description>{d}</description></item>"
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + ']><rss version="2.0"><channel><title>t</title><item><title>&i;</title>'
    "<description>&i;</description></item></channel></rss>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<rss version="2.0"><channel><item><title>x</title><description>&x; '
    + "word " * 60
    + "</description></item></channel></rss>"
)


def feed(items: list[tuple[str, str]]) -> str:
    body = "".join(ITEM.format(t=t, d=d, i=i) for i, (t, d) in enumerate(items))
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>f</title>{body}</channel></rss>'


FEEDS = st.one_of(
    st.lists(st.tuples(st.text(max_size=40), st.text(max_size=800)), max_size=6).map(feed),
    st.integers(1, 20_000).map(lambda n: feed([("deep", "<b>" * n + "x")])),
    st.integers(1, 20_000).map(lambda n: '<?xml version="1.0"?><rss>' + "<channel>" * n),
    st.just(LAUGHS),
    st.just(XXE),
    st.text(max_size=3000),
    st.text(max_size=200).map(lambda t: feed([("big", (t + " word ") * 20_000)])),
)
PAGES = st.one_of(
    st.integers(1, 20_000).map(lambda n: "<html><body>" + "<div><span>" * n + "text"),
    st.text(max_size=4000).map(
        lambda t: f"<html><body><article><p>{t}</p></article></body></html>"
    ),
    st.binary(max_size=4000).map(lambda b: b.decode("latin-1")),
)
CHARSETS = st.sampled_from(["utf-8", "utf-16", "latin-1", "shift_jis", "nonsense-charset"])


@pytest.fixture(scope="module")
def web() -> Iterator[StaticWeb]:
    server = StaticWeb({})
    yield server
    server.close()


@pytest.fixture(scope="module")
def shared_lake(tmp_path_factory: pytest.TempPathFactory) -> LakeSettings:
    """One lake for all examples: each is its own source (its own URL)."""
    return lake(tmp_path_factory.mktemp("fuzz-lake"))


def lake(root: Path) -> LakeSettings:
    return LakeSettings(
        home=root / "home",
        lake_key="k" * 32,
        online=True,
        allowed_hosts="127.0.0.1",
        host_interval=0.0,
        fetch_timeout=5.0,
    )


def serve_and_ingest(web: StaticWeb, settings: LakeSettings, body: bytes, ctype: str) -> None:
    path = f"/doc-{next(COUNTER)}"
    web.routes[path] = (200, {"Content-Type": ctype}, body)
    url = f"{web.url}{path}"
    tracemalloc.start()
    try:
        try:
            report = ingest(settings, url)
        except (FetchFailed, ValueError) as exc:  # FeedError and IngestError are ValueErrors
            mine = [e for e in status(settings)["errors"] if e["uri"] == url]
            assert mine and mine[0]["last_error"], exc
        else:  # taken: then no error is on record for it
            assert report.bronze is not None
            assert not [e for e in status(settings)["errors"] if e["uri"] == url]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024 * 1024, f"peak Python allocations {peak / 2**20:.0f} MB"


DOCS = st.one_of(
    FEEDS.map(lambda text: ("application/rss+xml", text)),
    PAGES.map(lambda text: ("text/html", text)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(doc=DOCS, charset=CHARSETS)
def test_generated_feeds_and_pages_never_crash_an_ingest(
    web: StaticWeb, shared_lake: LakeSettings, doc: tuple[str, str], charset: str
) -> None:
    ctype, text = doc
    body = text.encode(charset if charset != "nonsense-charset" else "latin-1", errors="replace")
    serve_and_ingest(web, shared_lake, body, f"{ctype}; charset={charset}")


def test_entity_tricks_read_no_file_and_expand_nothing(web: StaticWeb, tmp_path: Path) -> None:
    verdicts = {}
    for name, text in (("laughs", LAUGHS), ("xxe", XXE)):
        path = f"/{name}"
        web.routes[path] = (200, {"Content-Type": "application/rss+xml"}, text.encode())
        settings = lake(tmp_path / name)
        try:
            ingest(settings, f"{web.url}{path}")
        except ValueError:
            verdicts[name] = "refused"
            continue
        con = connect(settings, read_only=True)
        try:
            raws = [r[0] for r in con.execute("SELECT raw FROM bronze_items").fetchall()]
        finally:
            con.close()
        assert all("root:" not in r and len(r) < 100_000 for r in raws), name
        verdicts[name] = "taken, harmless"
    # Each trick was either refused or taken without its payload: none ended unchecked.
    assert set(verdicts) == {"laughs", "xxe"}, verdicts
