"""Access control: optional API keys and per-client rate limits (the `limits` library).

Keys arrive as `Authorization: Bearer <key>` or `X-API-Key: <key>` and are
compared in constant time against every configured key. With keys
configured, everything except /health and the widget's static files needs
one; admin routes need an admin key always (and are disabled without one).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.api.middleware import send_error

# Paths anyone may fetch: liveness and the widget's own files.
PUBLIC_PATHS = frozenset({"/health", "/", "/widget.js", "/embed-example.html"})
ADMIN_PREFIX = "/admin/"
# Rate limits apply where the work is; health checks and static files are never limited.
LIMITED_PATHS = frozenset({"/ask", "/search", "/suggestions"})


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


def key_matches(candidate: str | None, keys: list[str]) -> bool:
    """Constant-time membership: every key is compared, whatever matches first."""
    if candidate is None:
        return False
    found = False
    for key in keys:
        found |= hmac.compare_digest(candidate.encode("utf-8"), key.encode("utf-8"))
    return found


class AccessMiddleware:
    def __init__(self, app: ASGIApp, api_keys: list[str], admin_keys: list[str], rate_limit: str | None) -> None:
        self.app = app
        self.api_keys = api_keys
        self.admin_keys = admin_keys
        self.limit = parse(rate_limit) if rate_limit else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage()) if self.limit else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":  # CORS preflight carries no key
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = dict(scope.get("headers", []))
        request_id = scope.get("state", {}).get("request_id")
        key = presented_key(headers)
        challenge = ((b"www-authenticate", b'Bearer realm="qa"'),)
        if path.startswith(ADMIN_PREFIX):
            if not self.admin_keys:
                await send_error(send, 403, "forbidden", "admin operations are disabled: set QA_ADMIN_KEYS", request_id)
                return
            if not key_matches(key, self.admin_keys):
                await send_error(send, 401, "unauthorized", "an admin key is required", request_id, challenge)
                return
        elif self.api_keys and path not in PUBLIC_PATHS and not key_matches(key, self.api_keys + self.admin_keys):
            message = "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"
            await send_error(send, 401, "unauthorized", message, request_id, challenge)
            return
        if self.limiter and self.limit and path in LIMITED_PATHS:
            client = self._client_id(scope, key)
            if not self.limiter.hit(self.limit, client):
                reset = self.limiter.get_window_stats(self.limit, client).reset_time
                retry = max(1, int(reset - time.time() + 0.999))
                await send_error(send, 429, "rate_limited", f"rate limit {self.limit} exceeded; retry in {retry} s",
                             request_id, ((b"retry-after", str(retry).encode()),))
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _client_id(scope: Scope, key: str | None) -> str:
        # A key identifies a client better than an address; hash it so it never sits in memory twice.
        if key:
            return "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        client = scope.get("client") or ("unknown", 0)
        return f"ip:{client[0]}"
