"""Items from the web: RSS/Atom feeds (conditional GET) and pages (main text by trafilatura).

Every request goes through the guarded fetcher.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from lake.bronze import RawItem
from lake.fetcher import FetchResult, GuardedFetcher
from lake.local_files import html_to_item

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "application/feed+json",
)


class FeedError(ValueError):
    """A feed that cannot be parsed."""


@dataclass
class WebResult:
    """One fetch of a feed or page: its kind, items, and validators for the next conditional GET."""

    kind: str
    items: list[RawItem] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None


def looks_like_feed(result: FetchResult) -> bool:
    """By content type, or by the first bytes of an XML document."""
    ctype = result.headers.get("content-type", "").split(";")[0].strip().lower()
    head = result.body[:500].lstrip().lower()
    return ctype in FEED_TYPES or head.startswith((b"<?xml", b"<rss", b"<feed"))


def _entry_text(entry: Any) -> str:
    html = ""
    if entry.get("content"):
        html = entry["content"][0].get("value", "")
    html = html or entry.get("summary", "") or entry.get("description", "")
    if "<" in html:
        item = html_to_item(f"<html><body><article>{html}</article></body></html>", "")
        if item is not None:
            return item.raw
    return str(html)


def parse_feed(result: FetchResult) -> list[RawItem]:
    """Items of a fetched feed; a feed with no parsable entries is an error, not an empty list."""
    parsed = feedparser.parse(result.body, response_headers=result.headers)
    items = []
    for entry in parsed.entries:
        text = _entry_text(entry).strip()
        if not text:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC) if stamp else None
        items.append(
            RawItem(
                url=str(entry.get("link") or result.url),
                title=str(entry.get("title") or ""),
                raw=text,
                published=published,
                metadata={"feed": result.url, "entry_id": entry.get("id"), "format": "feed"},
            )
        )
    if parsed.bozo and not items:
        # Malformed and nothing usable recovered: an error, never a silent empty result.
        raise FeedError(f"{result.url}: not a valid feed ({parsed.get('bozo_exception')})")
    return items


def fetch_source(
    fetcher: GuardedFetcher, url: str, etag: str | None = None, last_modified: str | None = None
) -> WebResult:
    """Fetch a feed or a page with a conditional GET (ETag, Last-Modified)."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    result = fetcher.get(url, headers)
    out = WebResult(
        kind="page",
        etag=result.headers.get("etag") or etag,
        last_modified=result.headers.get("last-modified") or last_modified,
    )
    if result.status == 304:
        out.kind = "feed"  # 304: the feed has not changed, nothing new to ingest
    elif looks_like_feed(result):
        out.kind, out.items = "feed", parse_feed(result)
    else:
        out.items = [page_item(result)]
    return out


def page_item(result: FetchResult) -> RawItem:
    """The main text of a fetched page."""
    item = html_to_item(result.text, result.url)
    if item is None:
        raise ValueError(f"{result.url}: no main text found on the page")
    item.metadata.update(
        {"redirects": result.redirects, "content_type": result.headers.get("content-type")}
    )
    return item
