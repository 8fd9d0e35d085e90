"""Access control: optional API keys and per-client rate limits (the `limits` library).

Keys arrive as `Authorization: Bearer <key>` or `X-API-Key: <key>` and are
compared as bytes (the key's UTF-8 form, or its Latin-1 form, which is how
browsers send header values) in constant time against every configured key. With
keys configured, everything except /health, the demo page and the widget's
files needs one; admin routes and document writes (POST/PUT/DELETE /documents) need an admin key always (and are disabled
without one).

The rate limit keys on verified identity only: a presented key counts when it
is a valid key, otherwise the peer address does, so inventing keys buys no
fresh budget. Forwarded headers count only from configured proxies
(QA_TRUSTED_PROXIES, handed to uvicorn by `qa serve`).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.api.middleware import is_document_write, send_error

# Paths anyone may fetch: liveness, the demo page and the widget's own files.
PUBLIC_PATHS = frozenset({"/health", "/", "/widget.js", "/embed-example.html", "/demo.js", "/demo.css"})
ADMIN_PREFIX = "/admin/"
# Rate limits and load shedding apply where the work is; health checks and static files are never limited.
LIMITED_PATHS = frozenset({"/ask", "/ask/stream", "/search", "/suggestions"})
# All requests whose address may have come from a header the client wrote share this bucket.
UNVERIFIED_FORWARDED = "forwarded:unverified"


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The raw key bytes from `Authorization: Bearer` or `X-API-Key` (UTF-8 keys stay UTF-8)."""
    values = dict(headers)
    auth = values.get(b"authorization", b"")
    if auth[:7].lower() == b"bearer ":
        return auth[7:].strip() or None
    return values.get(b"x-api-key", b"").strip() or None


def _wire_forms(key: str) -> tuple[bytes, ...]:
    """The bytes a client may send for `key`: UTF-8, or Latin-1 where the key fits in it."""
    utf8 = key.encode("utf-8")
    try:
        latin1 = key.encode("latin-1")
    except UnicodeEncodeError:
        return (utf8,)
    return (utf8,) if latin1 == utf8 else (utf8, latin1)


def matching_key(candidate: bytes | None, keys: list[str]) -> str | None:
    """The configured key `candidate` is, compared in constant time: every key and form is
    compared, whatever matches first."""
    if not candidate:
        return None
    found = None
    for key in keys:
        for form in _wire_forms(key):
            if hmac.compare_digest(candidate, form):
                found = key
    return found


def key_matches(candidate: bytes | None, keys: list[str]) -> bool:
    return matching_key(candidate, keys) is not None


def _host(entry: str) -> str:
    """The host of one X-Forwarded-For entry: `1.2.3.4`, `1.2.3.4:5678` or `[::1]:5678`."""
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    return entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry


def forwarded_hosts(headers: list[tuple[bytes, bytes]]) -> set[str]:
    return {_host(part.strip()) for name, value in headers if name == b"x-forwarded-for"
            for part in value.decode("latin-1").split(",")}


class AccessMiddleware:
    def __init__(self, app: ASGIApp, api_keys: list[str], admin_keys: list[str], rate_limit: str | None,
                 trust_forwarded: bool = False) -> None:
        self.app = app
        self.api_keys = api_keys
        self.admin_keys = admin_keys
        self.limit = parse(rate_limit) if rate_limit else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage()) if self.limit else None
        self.trust_forwarded = trust_forwarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":  # CORS preflight carries no key
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = scope.get("headers", [])
        request_id = scope.get("state", {}).get("request_id")
        key = presented_key(headers)
        challenge = ((b"www-authenticate", b'Bearer realm="qa"'),)
        valid_key = matching_key(key, self.api_keys + self.admin_keys)
        if path.startswith(ADMIN_PREFIX) or is_document_write(scope):
            if not self.admin_keys:
                await send_error(send, 403, "forbidden", "admin operations are disabled: set QA_ADMIN_KEYS", request_id)
                return
            if not key_matches(key, self.admin_keys):
                await send_error(send, 401, "unauthorized", "an admin key is required", request_id, challenge)
                return
        elif self.api_keys and path not in PUBLIC_PATHS and valid_key is None:
            message = "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"
            await send_error(send, 401, "unauthorized", message, request_id, challenge)
            return
        if self.limiter and self.limit and path in LIMITED_PATHS:
            client = self._client_id(scope, valid_key)
            if not self.limiter.hit(self.limit, client):
                reset = self.limiter.get_window_stats(self.limit, client).reset_time
                retry = max(1, int(reset - time.time() + 0.999))
                await send_error(send, 429, "rate_limited", f"rate limit {self.limit} exceeded; retry in {retry} s",
                                 request_id, ((b"retry-after", str(retry).encode()),))
                return
        await self.app(scope, receive, send)

    def _client_id(self, scope: Scope, valid_key: str | None) -> str:
        # A valid key identifies a client better than an address; hash it so it never sits in memory twice.
        if valid_key is not None:
            return "key:" + hashlib.sha256(valid_key.encode("utf-8")).hexdigest()[:16]
        host = (scope.get("client") or ("unknown", 0))[0]
        # `uvicorn api:app` believes X-Forwarded-For from loopback unless told otherwise and puts
        # the header's address here. With no trusted proxy configured, an address that appears in
        # the header may be the client's own invention: such requests share one bucket.
        if not self.trust_forwarded and host in forwarded_hosts(scope.get("headers", [])):
            return UNVERIFIED_FORWARDED
        return f"ip:{host}"
