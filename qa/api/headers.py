"""Security headers on every response, and the Content-Security-Policy of the HTML pages.

Pages load scripts and styles from this server only (no inline script, no CDN);
the widget styles itself through a constructed stylesheet, which CSP allows.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.config import Settings

# JSON and scripts are never documents: nothing may load from them or frame them.
NOT_A_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'"


def page_csp(settings: Settings, *, docs: bool = False) -> str:
    """The policy for the demo pages, or (`docs`) for Swagger UI / ReDoc, which inject styles and a worker."""
    connect = ["'self'", *(origin for origin in settings.cors_origins if origin != "*")]
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'" if docs else "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {' '.join(settings.frame_ancestors)}",
    ]
    if docs:
        directives.append("worker-src 'self' blob:")
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """nosniff and Referrer-Policy on everything; a CSP on everything that lacks its own."""

    def __init__(self, app: ASGIApp, page_policy: str) -> None:
        self.app = app
        self.page_policy = page_policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                if "content-security-policy" not in headers:
                    html = headers.get("content-type", "").startswith("text/html")
                    headers["content-security-policy"] = self.page_policy if html else NOT_A_PAGE_CSP
            await send(message)

        await self.app(scope, receive, send_with_headers)
