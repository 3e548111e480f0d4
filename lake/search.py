"""Web search as a source: each result page is fetched and ingested, the query kept as provenance.

Backends: `ddgs` (DuckDuckGo, the successor of `duckduckgo-search`) or any SearxNG-style
JSON endpoint (`?q=…&format=json`). DuckDuckGo rate-limits scrapers (ddgs#254): we back
off, and when it still refuses we say so; an empty list is never passed off as "no results".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import urlencode

from ddgs import DDGS
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from lake.bronze import RawItem
from lake.config import LakeSettings
from lake.fetcher import FetchFailed, FetchRefused, GuardedFetcher
from lake.web_sources import page_item

DDG_URL = "https://duckduckgo.com/"


class SearchFailed(ConnectionError):
    """The search engine refused or failed; the message says what to do."""


@dataclass
class SearchHit:
    """One search result."""

    title: str
    url: str
    snippet: str


class _RateLimited(Exception):
    pass


def _ddgs_search(settings: LakeSettings, fetcher: GuardedFetcher, query: str) -> list[SearchHit]:
    fetcher.check(DDG_URL)  # the same policy: online mode, domain lists

    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") or None

    def once() -> list[dict[str, str]]:
        try:
            with DDGS(proxy=proxy, timeout=int(settings.fetch_timeout)) as ddgs:
                return list(
                    ddgs.text(query, max_results=settings.search_results, backend="duckduckgo")
                )
        except (RatelimitException, TimeoutException) as exc:
            raise _RateLimited(str(exc)) from None

    try:
        for attempt in Retrying(
            stop=stop_after_attempt(3),
            reraise=True,
            wait=wait_random_exponential(multiplier=2, max=20),
            retry=retry_if_exception_type(_RateLimited),
        ):
            with attempt:
                rows = once()
    except _RateLimited as exc:
        raise SearchFailed(
            f"DuckDuckGo refused the search after 3 tries ({exc}); it rate-limits automated "
            "queries: wait a few minutes, or set TERRAQORE_SEARCH_BACKEND to a SearxNG URL"
        ) from None
    except DDGSException as exc:
        raise SearchFailed(f"search failed: {exc}") from None
    return [SearchHit(r.get("title", ""), r.get("href", ""), r.get("body", "")) for r in rows]


def _json_search(settings: LakeSettings, fetcher: GuardedFetcher, query: str) -> list[SearchHit]:
    base = settings.search_backend
    url = f"{base}{'&' if '?' in base else '?'}{urlencode({'q': query, 'format': 'json'})}"
    try:
        data = json.loads(fetcher.get(url).body)
    except (FetchFailed, ValueError) as exc:
        raise SearchFailed(f"search backend {base} failed: {exc}") from None
    rows = data.get("results", []) if isinstance(data, dict) else []
    hits = [
        SearchHit(
            str(r.get("title", "")),
            str(r.get("url") or r.get("href") or ""),
            str(r.get("content") or r.get("body") or ""),
        )
        for r in rows
        if isinstance(r, dict)
    ]
    return hits[: settings.search_results]


def search(settings: LakeSettings, fetcher: GuardedFetcher, query: str) -> list[SearchHit]:
    """Results for a query from the configured backend."""
    if settings.search_backend == "ddgs":
        return _ddgs_search(settings, fetcher, query)
    return _json_search(settings, fetcher, query)


def search_items(
    settings: LakeSettings, fetcher: GuardedFetcher, query: str
) -> tuple[list[RawItem], list[str]]:
    """Fetch every result page; return (items, problems). No page at all is an error."""
    hits = search(settings, fetcher, query)
    if not hits:
        raise SearchFailed(f"the search for {query!r} returned no results")
    items, problems = [], []
    for rank, hit in enumerate(hits, start=1):
        try:
            item = page_item(fetcher.get(hit.url))
        except (FetchFailed, FetchRefused, ValueError) as exc:
            problems.append(f"{hit.url}: {exc}")
            continue
        item.title = item.title or hit.title
        item.metadata.update(
            {
                "query": query,
                "rank": rank,
                "snippet": hit.snippet,
                "search_backend": settings.search_backend,
            }
        )
        items.append(item)
    if not items:
        raise SearchFailed(f"no result page of {query!r} could be fetched: " + "; ".join(problems))
    return items, problems
