"""The guarded fetcher against hostile servers (issue 14, items 10, 11 and 13).

Decompression bombs in every encoding are refused after a little past the size cap, with
the memory of the fetching process bounded; DNS rebinding cannot redirect a fetch to
loopback; shared (100.64/10), site-local and IPv6-wrapped private addresses are refused,
and a trailing dot does not slip past the deny list.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard

from lake.config import LakeSettings
from lake.fetcher import FetchFailed, FetchRefused, GuardedFetcher, blocked_address
from tests.integration_tests.test_lake_web import online
from tests.static_web import StaticWeb

MB = 1 << 20
PAGE = b"<html><body><p>" + b"lighthouse " * 200 + b"</p></body></html>"


def zeros_compressed(kind: str, size: int) -> bytes:
    compressor: Any = (
        zstandard.ZstdCompressor(level=3).compressobj()
        if kind == "zstd"
        else zlib.compressobj(9, zlib.DEFLATED, {"gzip": 31, "deflate": 15}[kind])
    )
    return b"".join(compressor.compress(b"\0" * MB) for _ in range(size // MB)) + compressor.flush()


def encoded(encoding: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/html", "Content-Encoding": encoding}, body


@pytest.fixture(scope="module")
def hostile() -> Iterator[StaticWeb]:
    routes = {
        # 1 GiB of zeros in 32 KB: the review's 2.1 GB peak came from one such body.
        "/zstd-bomb": encoded("zstd", zeros_compressed("zstd", 1024 * MB)),
        "/gzip-bomb": encoded("gzip", zeros_compressed("gzip", 256 * MB)),
        "/deflate-bomb": encoded("deflate", zeros_compressed("deflate", 256 * MB)),
        "/gzip-gzip": encoded("gzip, gzip", gzip.compress(gzip.compress(PAGE))),
        "/zstd": encoded("zstd", zstandard.compress(PAGE)),
        "/deflate-raw": encoded("deflate", zlib.compress(PAGE, wbits=-15)),
        "/deflate-zlib": encoded("deflate", zlib.compress(PAGE)),
        "/br": encoded("br", b"\x1b\x03\x00\xf8\xa5"),
        "/corrupt": encoded("gzip", b"\x1f\x8b\x08\x00garbage"),
    }
    web = StaticWeb(routes)
    yield web
    web.close()


def settings(tmp_path: Path, **kw: object) -> LakeSettings:
    return online(tmp_path, **{"fetch_timeout": 5.0, **kw})


def peak_rss_fetching(url: str, home: Path) -> tuple[str, int]:
    """Fetch in a fresh process; return (outcome, its peak RSS in MB)."""
    code = f"""
import json
from lake.config import LakeSettings
from lake.fetcher import GuardedFetcher, FetchFailed
s = LakeSettings(home={str(home)!r}, online=True, allowed_hosts="127.0.0.1", host_interval=0)
try:
    GuardedFetcher(s).get({url!r})
    outcome = "fetched"
except FetchFailed as exc:
    outcome = str(exc)
# VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps([outcome, int(hwm.split()[1]) // 1024]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    outcome, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome, peak


@pytest.mark.parametrize("path", ["/zstd-bomb", "/gzip-bomb", "/deflate-bomb"])
def test_compression_bombs_stop_at_the_cap_with_bounded_memory(
    hostile: StaticWeb, tmp_path: Path, path: str
) -> None:
    outcome, peak_mb = peak_rss_fetching(f"{hostile.url}{path}", tmp_path)
    assert "byte limit" in outcome
    assert peak_mb < 250, f"peak RSS {peak_mb} MB while refusing {path}"


@pytest.mark.parametrize("path", ["/gzip-gzip", "/zstd", "/deflate-raw", "/deflate-zlib"])
def test_honest_encodings_still_decode(hostile: StaticWeb, tmp_path: Path, path: str) -> None:
    assert GuardedFetcher(settings(tmp_path)).get(f"{hostile.url}{path}").body == PAGE


@pytest.mark.parametrize(("path", "problem"), [("/br", "unsupported"), ("/corrupt", "corrupt")])
def test_unknown_or_corrupt_encodings_are_clear_errors(
    hostile: StaticWeb, tmp_path: Path, path: str, problem: str
) -> None:
    with pytest.raises(FetchFailed, match=problem):
        GuardedFetcher(settings(tmp_path)).get(f"{hostile.url}{path}")


def test_dns_rebinding_cannot_reach_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check resolves to a public address; a second lookup would say 127.0.0.1."""
    public = StaticWeb({"/": (200, {"Content-Type": "text/html"}, b"public page")}, "127.0.0.2")
    internal = StaticWeb(
        {"/": (200, {"Content-Type": "text/html"}, b"internal secret")}, port=public.port
    )
    # The internet is not here: a connection to the "public" address lands on 127.0.0.2.
    real_connect = socket.create_connection
    dialled: list[tuple[str, int]] = []

    def connect(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        dialled.append(address)
        if address[0] == "93.184.216.34":
            address = ("127.0.0.2", address[1])
        return real_connect(address, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "rebind.test":  # what a second lookup by the HTTP client would get
            return real_getaddrinfo("127.0.0.1", *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", connect)
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        fetcher = GuardedFetcher(
            settings(tmp_path, allowed_hosts="", allow_http=True),
            resolver=lambda host: ["93.184.216.34"],
        )
        result = fetcher.get(f"http://rebind.test:{public.port}/")
        assert result.body == b"public page" and internal.requests == []
        assert public.requests[0][1]["Host"] == f"rebind.test:{public.port}"
        assert dialled and all(host != "rebind.test" for host, _ in dialled)
    finally:
        public.close()
        internal.close()


def test_https_keeps_the_name_for_sni_and_the_certificate(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(PAGE))

    fetcher = GuardedFetcher(
        settings(tmp_path, allowed_hosts=""), resolver=lambda host: ["93.184.216.34"]
    )
    fetcher.client = httpx.Client(transport=httpx.MockTransport(handler))
    fetcher.get("https://news.example.org/a?b=1")
    (request,) = seen
    assert request.url.host == "93.184.216.34" and request.url.path == "/a"
    assert request.headers["host"] == "news.example.org"
    assert request.extensions["sni_hostname"] == "news.example.org"


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",
        "100.100.100.200",  # a cloud metadata address in the shared range
        "fec0::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "192.0.0.8",
        "198.18.0.1",
        "ff02::1",
        "::",
    ],
)
def test_non_public_addresses_are_refused(tmp_path: Path, address: str) -> None:
    assert blocked_address(ipaddress.ip_address(address))
    fetcher = GuardedFetcher(settings(tmp_path, allowed_hosts=""), resolver=lambda host: [address])
    with pytest.raises(FetchRefused, match="private or local"):
        fetcher.check("https://metadata.example/")


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2001:4860:4860::8888"])
def test_public_addresses_pass(tmp_path: Path, address: str) -> None:
    assert not blocked_address(ipaddress.ip_address(address))
    fetcher = GuardedFetcher(settings(tmp_path, allowed_hosts=""), resolver=lambda host: [address])
    assert fetcher.check("https://public.example/") == address


@pytest.mark.parametrize(
    "host", ["example.com.", "EXAMPLE.COM", "news.example.com..", "Example.Com."]
)
def test_the_deny_list_cannot_be_bypassed_by_spelling(tmp_path: Path, host: str) -> None:
    denied = settings(tmp_path, allowed_hosts="", deny_domains="example.com")
    fetcher = GuardedFetcher(denied, resolver=lambda h: ["93.184.216.34"])
    with pytest.raises(FetchRefused, match="deny list"):
        fetcher.check(f"https://{host}/")
