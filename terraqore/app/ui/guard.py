"""What keeps the page and the graph API beside it on this machine, unless keys are set.

The custom app's middleware wraps every route of the LangGraph server, its API included, so
these rules hold for the whole server. Without API keys: only loopback peers, and only
loopback Host headers (DNS rebinding), as the built-in server does on a loopback bind. With
keys (`TERRAQORE_API_KEYS`, the built-in server's): any peer, but every route except the
page's own files and the health probe needs a key. Either way, only local origins (and
`TERRAQORE_ORIGINS`) may change anything or read a reply in a browser.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.security import (
    AuthMiddleware,
    CrossSiteMiddleware,
    HostCheckMiddleware,
    is_loopback,
    origin_regex,
    reject,
)

PAGE_PREFIX = "/terraqore/"
"""Where the page is served (`/` stays LangGraph's health probe)."""

OPEN_PATHS = {"/ok", PAGE_PREFIX, f"{PAGE_PREFIX}api/info"}
"""Routes that need no key: the health probe, the page, and what it needs to ask for a key."""

# The page's own files: HTML, CSS and scripts hold nothing of the user's.
STATIC_PREFIX = f"{PAGE_PREFIX}static/"

SECURITY_HEADERS = [
    # Every asset is local: the browser itself refuses anything else the page might name.
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def is_open(path: str) -> bool:
    """Whether a route may be used without a key."""
    return path in OPEN_PATHS or path.startswith(STATIC_PREFIX)


class LoopbackPeerMiddleware:
    """Refuse a peer that is not on this machine (a Host header can be forged; a peer cannot)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass loopback peers (and in-process calls, which have none) through."""
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if client and not is_loopback(client[0]):
                if scope["type"] == "http":
                    await reject(
                        send, 403, "this server answers this machine only; set API keys to share it"
                    )
                return
        await self.app(scope, receive, send)


class PageHeadersMiddleware:
    """Add the Content-Security-Policy and friends to the page's own responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers on responses under the page's prefix."""
        if scope["type"] != "http" or not scope["path"].startswith(PAGE_PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CorsGrantMiddleware:
    """Withhold CORS grants from origins that are not allowed, whatever the CORS layer says.

    langgraph-api fills in `allow_origins: ["*"]` when a CORS config leaves it out, and a
    LangGraph server deployment reads `CORS_ALLOW_ORIGINS` (`*` by default). Then any web site
    could read every GET reply: the lake's sources, the home's path, a known thread's state.
    So the rule is applied here too: an answer to an origin that is not allowed loses its
    `access-control-allow-*` headers, and the browser keeps it from the page that asked.
    """

    def __init__(self, app: ASGIApp, allowed_origins: str) -> None:
        self.app = app
        self.allowed = re.compile(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strip the grants from the answer to a request of a foreign origin."""
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        if not origin or self.allowed.fullmatch(origin):
            await self.app(scope, receive, send)
            return

        async def send_without_grants(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not name.lower().startswith(b"access-control-allow-")
                ]
            await send(message)

        await self.app(scope, receive, send_without_grants)


def guards(keys: dict[str, str], origins: str = "") -> list[Middleware]:
    """The middleware for the custom app, outermost first.

    `origins` adds to the allowed origins as the built-in server's `TERRAQORE_ORIGINS` does:
    a state-changing request from any other web page is refused, as there, and no other
    origin is granted a reply to read.
    """
    allowed = origin_regex(origins)
    cross_site = Middleware(CrossSiteMiddleware, allowed_origins=allowed)
    cors = Middleware(CorsGrantMiddleware, allowed_origins=allowed)
    if keys:
        return [
            cors,
            Middleware(PageHeadersMiddleware),
            cross_site,
            Middleware(AuthMiddleware, keys, is_open),
        ]
    return [
        cors,
        Middleware(PageHeadersMiddleware),
        Middleware(LoopbackPeerMiddleware),
        Middleware(HostCheckMiddleware, bind_host="127.0.0.1"),
        cross_site,
    ]
