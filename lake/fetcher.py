"""The one guarded fetcher: every network access of the lake goes through it.

Refused unless online mode is on; allow and deny lists of domains; HTTPS only unless
allowed; every address that is not globally routable blocked (SSRF: private, loopback,
link-local, shared 100.64/10, site-local, and IPv6 forms that embed one), on every redirect
hop; the connection goes to the very address that was checked (the Host header and TLS SNI
keep the name), so DNS cannot answer differently the second time (rebinding); timeouts, a
size cap on the decoded body whatever its encoding, a per-host rate limit, proxies from
`HTTP(S)_PROXY`, a clear User-Agent, and backoff on 429 and 5xx.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from lake.config import LakeSettings
from lake.decoding import ACCEPT_ENCODING, DecodingError, decode

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


def normal_host(host: str) -> str:
    """A host name as the domain lists compare it: lower case, no trailing dot, IDNA (ASCII)."""
    host = host.lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise FetchRefused(f"{host!r} is not a valid host name") from None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
_IETF = ipaddress.ip_network("192.0.0.0/24")  # protocol assignments; not for the web


def blocked_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is not a public unicast one (or is IPv6 wrapping one that is not)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_address(embedded)
        if ip in _SITE_LOCAL or ip.teredo is not None:
            return True
    elif ip in _IETF:
        return True
    return not ip.is_global or ip.is_multicast


class GuardedFetcher:
    """Fetches URLs under the lake's network policy."""

    def __init__(self, settings: LakeSettings, resolver: Resolver = resolve) -> None:
        self.settings = settings
        self.resolver = resolver
        self.allowed_hosts = {normal_host(h) for h in _split(settings.allowed_hosts)}
        self.allow = {normal_host(d) for d in _split(settings.allow_domains)}
        self.deny = {normal_host(d) for d in _split(settings.deny_domains)}
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

    def check(self, url: str) -> str | None:
        """Raise `FetchRefused` unless policy allows fetching `url`.

        Returns the address to connect to (the one that was checked), or None for a host
        listed in `allowed_hosts`, which is trusted by name.
        """
        if not self.settings.online:
            raise FetchRefused(f"online mode is off; set TERRAQORE_ONLINE=1 to fetch {url}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"only http(s) URLs can be fetched, not {url!r}")
        host = normal_host(parts.hostname)
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
            return None
        addresses = self.resolver(host)
        if not addresses:
            raise FetchFailed(f"cannot resolve {host}")
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if str(ip) in self.allowed_hosts:
                continue  # an address listed by the user (a local mirror, a test server)
            if blocked_address(ip):
                raise FetchRefused(
                    f"{host} resolves to {ip}, a private or local address; refused "
                    "(list it in TERRAQORE_ALLOWED_HOSTS to allow it)"
                )
        return addresses[0].split("%")[0]

    def _pace(self, host: str) -> None:
        with self._lock:
            wait = self._last.get(host, 0.0) + self.settings.host_interval - time.monotonic()
            self._last[host] = time.monotonic() + max(0.0, wait)
        if wait > 0:
            time.sleep(wait)

    def _once(self, url: str, headers: dict[str, str], address: str | None) -> FetchResult:
        self._pace(urlsplit(url).hostname or "")
        limit = self.settings.fetch_max_bytes
        request = self._pinned(url, headers, address)
        try:
            response = self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"{url} timed out ({exc})") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"{url}: {exc}") from None
        try:
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retryable(f"{url} answered {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchFailed(f"{url} is {declared} bytes, over the {limit}-byte limit")
            body = self._read_bounded(url, response, limit)
            return FetchResult(url, response.status_code, dict(response.headers), body)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"{url} timed out ({exc})") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"{url}: {exc}") from None
        finally:
            response.close()

    def _pinned(self, url: str, headers: dict[str, str], address: str | None) -> httpx.Request:
        """A request to the checked address, with the name kept in Host and in TLS SNI."""
        target = httpx.URL(url)
        extensions = {}
        if address is not None:
            headers = {**headers, "Host": target.netloc.decode("ascii")}
            if target.scheme == "https":
                extensions["sni_hostname"] = target.host
            target = target.copy_with(host=address)
        headers = {"Accept-Encoding": ACCEPT_ENCODING, **headers}
        return self.client.build_request("GET", target, headers=headers, extensions=extensions)

    @staticmethod
    def _read_bounded(url: str, response: httpx.Response, limit: int) -> bytes:
        """The decoded body, refused as soon as the raw or the decoded bytes pass `limit`."""
        raw_seen = 0

        def raw() -> Iterator[bytes]:
            nonlocal raw_seen
            for chunk in response.iter_raw():
                raw_seen += len(chunk)
                if raw_seen > limit:
                    raise FetchFailed(f"{url} is larger than the {limit}-byte limit")
                yield chunk

        body = bytearray()
        try:
            for chunk in decode(raw(), response.headers.get("content-encoding", "")):
                body += chunk
                if len(body) > limit:
                    raise FetchFailed(f"{url} decodes to more than the {limit}-byte limit")
        except DecodingError as exc:
            raise FetchFailed(f"{url}: {exc}") from None
        return bytes(body)

    def get(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        """GET `url`, following redirects (each hop checked), with retries on 429, 5xx, timeouts."""
        hops: list[str] = []
        for _ in range(MAX_REDIRECTS + 1):
            address = self.check(url)
            try:
                for attempt in Retrying(
                    stop=stop_after_attempt(3),
                    reraise=True,
                    wait=wait_random_exponential(multiplier=0.5, max=4),
                    retry=retry_if_exception_type(_Retryable),
                ):
                    with attempt:
                        result = self._once(url, headers or {}, address)
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
