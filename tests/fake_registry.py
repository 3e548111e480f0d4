"""A minimal Ollama-style registry on loopback, serving manifests and blobs from a dict."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FakeRegistry:
    """Serves GET /v2/<ns>/<model>/manifests/<tag> and /v2/<ns>/<model>/blobs/<digest>."""

    def __init__(self) -> None:
        self.manifests: dict[str, bytes] = {}
        self.blobs: dict[str, Path | bytes] = {}
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                body: bytes | None = None
                if len(parts) >= 5 and parts[0] == "v2" and parts[-2] == "manifests":
                    body = registry.manifests.get("/".join(parts[1:-2]) + ":" + parts[-1])
                elif len(parts) >= 5 and parts[0] == "v2" and parts[-2] == "blobs":
                    blob = registry.blobs.get(parts[-1])
                    body = blob.read_bytes() if isinstance(blob, Path) else blob
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
