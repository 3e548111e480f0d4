"""A local web server for the lake tests: feeds, pages, bad encodings, redirects, slow replies."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTICLE = (
    "<html><head><title>Harbour news</title></head><body><nav>Home | About</nav><article>"
    "<h1>Harbour news</h1><p>The old lighthouse reopened this week after a long restoration. "
    "Volunteers repaired the lamp, painted the tower and rebuilt the spiral stairs, and the town "
    "celebrated with a concert on the pier. Visitors can climb to the top every afternoon.</p>"
    "<p>The harbour master said the light will again guide the fishing boats at night, as it did "
    "for more than a century before the restoration began.</p></article>"
    "<footer>All rights reserved</footer></body></html>"
)

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Harbour feed</title><link>http://example/</link>
<item><title>Lighthouse reopens</title><link>http://example/lighthouse</link><guid>1</guid>
<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;The old lighthouse reopened this week after a long restoration by the volunteers of the town, who repaired the lamp and painted the tower. The town celebrated with music on the pier and the harbour master spoke about the fishing boats.&lt;/p&gt;</description></item>
<item><title>Ferry timetable</title><link>http://example/ferry</link><guid>2</guid>
<pubDate>Tue, 03 Nov 2026 10:00:00 GMT</pubDate>
<description>The winter ferry timetable starts next week: boats leave the harbour every two hours from seven in the morning, and the last ferry returns from the island at nine in the evening on weekdays. On Sundays the first boat leaves at nine, and bicycles travel free all winter.</description></item>
</channel></rss>"""


class WebFixture:
    """Serves fixed routes on 127.0.0.1 and records the requests it saw."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.flaky_left = 1
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def send(
                self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                fixture.requests.append((self.path, dict(self.headers)))
                p = self.path
                if p == "/feed.xml":
                    if self.headers.get("If-None-Match") == '"v1"':
                        self.send(304, b"", "application/rss+xml")
                    else:
                        self.send(200, RSS.encode(), "application/rss+xml", {"ETag": '"v1"'})
                elif p == "/bad-feed.xml":
                    self.send(
                        200,
                        b"<?xml version='1.0'?><rss><channel><item><title>broken",
                        "application/rss+xml",
                    )
                elif p == "/page.html":
                    self.send(200, ARTICLE.encode(), "text/html; charset=utf-8")
                elif p == "/cp1252.html":
                    self.send(
                        200,
                        ARTICLE.replace("concert", "caf\u00e9 concert").encode("cp1252"),
                        "text/html; charset=windows-1252",
                    )
                elif p == "/huge.html":
                    self.send(
                        200,
                        b"<html><body>" + b"x" * (6 * 1024 * 1024) + b"</body></html>",
                        "text/html",
                    )
                elif p == "/redirect-private":
                    self.send(
                        302,
                        b"",
                        "text/plain",
                        {"Location": "http://169.254.169.254/latest/meta-data"},
                    )
                elif p == "/redirect-ok":
                    self.send(302, b"", "text/plain", {"Location": "/page.html"})
                elif p == "/slow":
                    time.sleep(3)
                    self.send(200, ARTICLE.encode(), "text/html")
                elif p.startswith("/search?"):
                    base = fixture.url
                    results = {
                        "results": [
                            {
                                "title": "Harbour news",
                                "url": f"{base}/page.html",
                                "content": "lighthouse",
                            },
                            {
                                "title": "Metadata",
                                "url": "http://169.254.169.254/latest",
                                "content": "no",
                            },
                            {"title": "Cafe", "url": f"{base}/cp1252.html", "content": "concert"},
                        ]
                    }
                    self.send(200, json.dumps(results).encode(), "application/json")
                elif p == "/flaky":
                    if fixture.flaky_left > 0:
                        fixture.flaky_left -= 1
                        self.send(503, b"busy", "text/plain")
                    else:
                        self.send(200, ARTICLE.encode(), "text/html")
                else:
                    self.send(404, b"not found", "text/plain")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
