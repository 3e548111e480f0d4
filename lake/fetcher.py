"""The one guarded fetcher: every network access of the lake goes through it.

Refused unless online mode is on; allow and deny lists of domains; HTTPS only unless
allowed; private, loopback and link-local targets blocked (SSRF), on every redirect hop;
timeouts, a size cap, a per-host rate limit, proxies from `HTTP(S)_PROXY`, a clear
User-Agent, and backoff on 429 and 5xx.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from lake.config import LakeSettings

Resolver = Callable[[str], list[str]]
MAX_REDIRECTS = 5


class FetchRefused(PermissionError):
    """The policy forbids this request; nothing was sent."""


class FetchFailed(ConnectionError):
    """The request was sent and failed (after retries)."""


class _Retryable(Exception):
    pass


@dataclass
class FetchResult:
    """A fetched document."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes = b""
    redirects: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The body decoded with its declared charset (UTF-8 if none), errors replaced."""
        charset = "utf-8"
        ctype = self.headers.get("content-type", "")
        if "charset=" in ctype:
            charset = ctype.split("charset=", 1)[1].split(";")[0].strip().strip('"') or "utf-8"
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


def resolve(host: str) -> list[str]:
    """Every address a host name resolves to."""
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
    except socket.gaierror as exc:
        raise FetchFailed(f"cannot resolve {host}: {exc}") from None


def _split(text: str) -> set[str]:
    return {x.strip().lower() for x in text.split(",") if x.strip()}


def _in_domains(host: str, domains: set[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


class GuardedFetcher:
    """Fetches URLs under the lake's network policy."""

    def __init__(self, settings: LakeSettings, resolver: Resolver = resolve) -> None:
        self.settings = settings
        self.resolver = resolver
        self.allowed_hosts = _split(settings.allowed_hosts)
        self.allow = _split(settings.allow_domains)
        self.deny = _split(settings.deny_domains)
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        timeout = httpx.Timeout(settings.fetch_timeout)
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=True,
            headers={"User-Agent": settings.user_agent},
        )

    def close(self) -> None:
        """Close connections."""
        self.client.close()

    def check(self, url: str) -> None:
        """Raise `FetchRefused` unless policy allows fetching `url`."""
        if not self.settings.online:
            raise FetchRefused(f"online mode is off; set TERRAQORE_ONLINE=1 to fetch {url}")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise FetchRefused(f"only http(s) URLs can be fetched, not {url!r}")
        exempt = host in self.allowed_hosts or f"{host}:{parts.port}" in self.allowed_hosts
        if parts.scheme == "http" and not (self.settings.allow_http or exempt):
            raise FetchRefused(
                f"{url}: plain http is not allowed (HTTPS only; TERRAQORE_ALLOW_HTTP=1)"
            )
        if _in_domains(host, self.deny):
            raise FetchRefused(f"{host} is on the deny list")
        if self.allow and not _in_domains(host, self.allow) and not exempt:
            raise FetchRefused(f"{host} is not on the allow list")
        if exempt:
            return
        for address in self.resolver(host):
            ip = ipaddress.ip_address(address.split("%")[0])
            if (
                ip.is_private
                or ip.is_loopback
                or ip.is_link_local
                or ip.is_reserved
                or ip.is_multicast
                or ip.is_unspecified
            ):
                raise FetchRefused(
                    f"{host} resolves to {ip}, a private or local address; refused "
                    "(list it in TERRAQORE_ALLOWED_HOSTS to allow it)"
                )

    def _pace(self, host: str) -> None:
        with self._lock:
            wait = self._last.get(host, 0.0) + self.settings.host_interval - time.monotonic()
            self._last[host] = time.monotonic() + max(0.0, wait)
        if wait > 0:
            time.sleep(wait)

    def _once(self, url: str, headers: dict[str, str]) -> FetchResult:
        self._pace(urlsplit(url).hostname or "")
        limit = self.settings.fetch_max_bytes
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retryable(f"{url} answered {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchFailed(f"{url} is {declared} bytes, over the {limit}-byte limit")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise FetchFailed(f"{url} is larger than the {limit}-byte limit")
                return FetchResult(url, response.status_code, dict(response.headers), bytes(body))
        except httpx.TimeoutException as exc:
            raise _Retryable(f"{url} timed out ({exc})") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"{url}: {exc}") from None

    def get(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        """GET `url`, following redirects (each hop checked), with retries on 429, 5xx, timeouts."""
        hops: list[str] = []
        for _ in range(MAX_REDIRECTS + 1):
            self.check(url)
            try:
                for attempt in Retrying(
                    stop=stop_after_attempt(3),
                    reraise=True,
                    wait=wait_random_exponential(multiplier=0.5, max=4),
                    retry=retry_if_exception_type(_Retryable),
                ):
                    with attempt:
                        result = self._once(url, headers or {})
            except _Retryable as exc:
                raise FetchFailed(f"{exc} (after 3 attempts)") from None
            if result.status in (301, 302, 303, 307, 308) and "location" in result.headers:
                hops.append(url)
                url = urljoin(url, result.headers["location"])
                continue
            result.redirects = hops
            if result.status >= 400:
                raise FetchFailed(f"{url} answered {result.status}")
            return result
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects from {hops[0]}")
