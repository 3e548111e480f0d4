"""A minimal Ollama-style registry on loopback, serving and receiving manifests and blobs.

Pull: GET /v2/<ns>/<model>/manifests/<tag> and /v2/<ns>/<model>/blobs/<digest>.
Push: HEAD …/blobs/<digest>, POST …/blobs/uploads/ (202 with a Location), PUT
<location>?digest=… (the digest is checked, as a real registry does), PUT …/manifests/<tag>.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class FakeRegistry:
    """Manifests by `ns/model:tag` and blobs by digest, in memory (or as files to serve)."""

    def __init__(self) -> None:
        self.manifests: dict[str, bytes] = {}
        self.blobs: dict[str, Path | bytes] = {}
        self.uploads: list[str] = []
        """Digests received by PUT, in order (a blob the registry had is never re-sent)."""
        registry = self
        counter = itertools.count()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _find(self) -> bytes | None:
                parts = urlsplit(self.path).path.strip("/").split("/")
                if len(parts) >= 5 and parts[0] == "v2" and parts[-2] == "manifests":
                    return registry.manifests.get("/".join(parts[1:-2]) + ":" + parts[-1])
                if len(parts) >= 5 and parts[0] == "v2" and parts[-2] == "blobs":
                    blob = registry.blobs.get(parts[-1])
                    return blob.read_bytes() if isinstance(blob, Path) else blob
                return None

            def do_GET(self) -> None:
                body = self._find()
                self._reply(404) if body is None else self._reply(200, body)

            def do_HEAD(self) -> None:
                body = self._find()
                self._reply(404) if body is None else self._reply(200, body)

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                if not path.endswith("/blobs/uploads/"):
                    self._reply(404)
                    return
                self._body()
                location = f"{path}{next(counter)}?state=x"
                self._reply(202, headers={"Location": location})

            def do_PUT(self) -> None:
                parts = urlsplit(self.path)
                body = self._body()
                segments = parts.path.strip("/").split("/")
                if "manifests" in segments:
                    repo = "/".join(segments[1:-2])
                    registry.manifests[f"{repo}:{segments[-1]}"] = body
                    self._reply(201)
                    return
                digest = parse_qs(parts.query).get("digest", [""])[0]
                if digest != "sha256:" + hashlib.sha256(body).hexdigest():
                    self._reply(400, b'{"errors": [{"code": "DIGEST_INVALID"}]}')
                    return
                registry.blobs[digest] = body
                registry.uploads.append(digest)
                self._reply(201)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
