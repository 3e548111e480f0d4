"""Request guards: Host check, cross-site requests, API keys, per-key rate limit and body size.

Each is ASGI middleware that answers with Ollama's error shape (`{"error": ...}`) and the right
status; nothing here knows about models.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Liveness and readiness stay open, so probes work without a key.
OPEN_PATHS = {"/", "/healthz", "/readyz"}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
BLOB_PREFIX = "/api/blobs/"
FILES_PATH = "/v1/files"  # OpenAI's file upload is multipart (the Origin check still holds)
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Curl's default for `-d`. Browsers send it too, but always with an Origin on a POST.
_CURL_FORM = "application/x-www-form-urlencoded"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def reject(
    send: Send, status: int, message: str, headers: Iterable[tuple[str, str]] = ()
) -> None:
    """Answer with a JSON error (`{"error": message}`) and the status, before any route runs."""
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def is_loopback(host: str) -> bool:
    """Whether a bind address is loopback only."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_regex(extra: str) -> str:
    """Allowed origins like Ollama's defaults (localhost, app and file schemes) plus `extra`.

    `extra` is comma-separated (`TERRAQORE_ORIGINS`); `*` is a wildcard.
    """
    defaults = [
        "http://localhost",
        "https://localhost",
        "http://localhost:*",
        "https://localhost:*",
        "http://127.0.0.1",
        "https://127.0.0.1",
        "http://127.0.0.1:*",
        "https://127.0.0.1:*",
        "http://[::1]",
        "http://[::1]:*",
        "app://*",
        "file://*",
        "tauri://*",
        "vscode-webview://*",
    ]
    origins = defaults + [o.strip() for o in extra.split(",") if o.strip()]
    return "^(" + "|".join(re.escape(o).replace(r"\*", ".*") for o in origins) + ")$"


def _is_json(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (
        main.startswith("application/") and main.endswith("+json")
    )


class CrossSiteMiddleware:
    """Keep web pages from changing anything: an origin check and JSON-only bodies.

    A browser lets any page send a "simple" POST (`text/plain`, a form) without asking first,
    so a server that reads every body as JSON can be driven by any site the user visits.
    Here a state-changing request is refused (403) when it carries an `Origin` that is not
    allowed, preflighted or not; and its body must be declared JSON (415 otherwise). Curl's
    `-d` (form-encoded, no Origin, no `Sec-Fetch-Site`) is still read as JSON, as Ollama
    reads it: a browser cannot send that combination.
    """

    def __init__(self, app: ASGIApp, allowed_origins: str) -> None:
        self.app = app
        self.allowed = re.compile(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the origin, then the declared body type, of requests that change state."""
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin and not self.allowed.fullmatch(origin):
            await reject(
                send,
                403,
                f"origin {origin!r} may not send {scope['method']} requests to this server "
                "(allowed: local origins and TERRAQORE_ORIGINS)",
            )
            return
        declared = _header(scope, b"content-type")
        if scope["path"].startswith(BLOB_PREFIX) or (  # raw bytes, or a file upload
            scope["path"] == FILES_PATH and declared.lower().startswith("multipart/form-data")
        ):
            await self.app(scope, receive, send)
            return
        if not _is_json(declared):
            site = _header(scope, b"sec-fetch-site").lower()
            from_a_tool = not origin and site in ("", "none", "same-origin")
            if not (from_a_tool and declared.split(";", 1)[0].strip().lower() in ("", _CURL_FORM)):
                await reject(
                    send,
                    415,
                    f"the body must be JSON, sent with Content-Type: application/json "
                    f"(got {declared or 'no Content-Type'!r})",
                )
                return
            # In place: outer middleware reads what the router records in this same scope.
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope["headers"] = [*headers, (b"content-type", b"application/json")]
        await self.app(scope, receive, send)


class HostCheckMiddleware:
    """On a loopback bind, accept only loopback Host headers (blocks DNS rebinding)."""

    def __init__(self, app: ASGIApp, bind_host: str) -> None:
        self.app = app
        self.active = is_loopback(bind_host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a request whose Host header names anything but this machine."""
        if self.active and scope["type"] == "http":
            host = _header(scope, b"host")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if host and name.lower() not in LOOPBACK_NAMES and not _is_loopback_ip(name):
                await reject(send, 403, f"host {host!r} is not allowed on a loopback server")
                return
        await self.app(scope, receive, send)


def _is_loopback_ip(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def key_id_for(scope: Scope, keys: dict[str, str]) -> str | None:
    """The id of the key a request presents (Bearer, or Basic with the key as password)."""
    auth = _header(scope, b"authorization")
    scheme, _, credential = auth.partition(" ")
    candidates: list[str] = []
    if scheme.lower() == "bearer":
        candidates.append(credential.strip())
    elif scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credential.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        candidates += [password, user]
    found = None
    for candidate in candidates:
        for key_id, key in keys.items():
            # Compare against every key in constant time; do not stop early.
            if hmac.compare_digest(candidate.encode(), key.encode()) and found is None:
                found = key_id
    return found


class AuthMiddleware:
    """Require an API key on every route but liveness and readiness, when keys are set."""

    def __init__(
        self, app: ASGIApp, keys: dict[str, str], is_open: Callable[[str], bool] | None = None
    ) -> None:
        self.app = app
        self.keys = keys
        # Paths that need no key (the web page's own files have their own list).
        self.is_open = is_open or OPEN_PATHS.__contains__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the key; record its id (never the key) for the audit log."""
        if scope["type"] != "http" or not self.keys:
            await self.app(scope, receive, send)
            return
        open_path = self.is_open(scope["path"]) or scope["method"] == "OPTIONS"
        key_id = key_id_for(scope, self.keys)
        if key_id is None and not open_path:
            challenge = 'Bearer realm="terraqore", Basic realm="terraqore"'
            await reject(send, 401, "missing or invalid API key", [("WWW-Authenticate", challenge)])
            return
        scope.setdefault("state", {})["key_id"] = key_id or ""
        await self.app(scope, receive, send)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimitMiddleware:
    """A token bucket per API key (or per client address when auth is off)."""

    def __init__(self, app: ASGIApp, per_minute: float, burst: int) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.capacity = float(burst or max(1, int(per_minute)))
        self.buckets: dict[str, _Bucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Take one token or answer 429 with Retry-After."""
        if scope["type"] != "http" or self.rate <= 0 or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        who = scope.get("state", {}).get("key_id") or (scope.get("client") or ("?",))[0]
        now = time.monotonic()
        bucket = self.buckets.setdefault(who, _Bucket(self.capacity, now))
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            wait = max(1, int((1 - bucket.tokens) / self.rate + 0.999))
            await reject(send, 429, "rate limit exceeded", [("Retry-After", str(wait))])
            return
        bucket.tokens -= 1
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies above a size (413), by Content-Length or as they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what arrives."""
        if scope["type"] != "http" or scope["path"].startswith(BLOB_PREFIX) or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        too_big = f"request body larger than {self.max_bytes} bytes"
        if declared.isdigit() and int(declared) > self.max_bytes:
            await reject(send, 413, too_big)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException: FastAPI turns any other error while reading into a 400.
                    raise HTTPException(413, too_big)
            return message

        await self.app(scope, counting_receive, send)
