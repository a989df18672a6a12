"""Security headers on every response: a Content-Security-Policy the Dash pages satisfy (same-origin scripts plus
the hashes of Dash's own inline scripts), framing and sniffing refusals, HSTS over https, and no-store for
everything but static files."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, request


def content_security_policy(script_hashes: Iterable[str] = (), *, allow_inline_scripts: bool = False) -> str:
    """The CSP every response carries.

    Scripts: same origin plus the hashes of Dash's own inline scripts (app.csp_hashes()). Styles may be inline:
    plotly.js and Dash's renderer inject <style> elements and style attributes. Images may be data:/blob: URIs
    (plotly's image export, Bootstrap's form icons). No framing, no plugins, forms post to this origin only.
    `allow_inline_scripts` is for rq-dashboard only, whose templates carry inline scripts."""
    script_src = ["'self'", *script_hashes]
    if allow_inline_scripts:
        script_src = ["'self'", "'unsafe-inline'"]
    directives = {
        "default-src": ["'self'"],
        "script-src": script_src,
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


# Sent on every response, static files included (they apply to scripts and stylesheets too).
EVERY_RESPONSE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Full referrer inside the app (the origin check may fall back to it), nothing to VTiger or Redmine links.
    "Referrer-Policy": "same-origin",
}
# Sent on everything but static files: browsers apply these to documents only, and on the ~40 scripts and
# stylesheets of a first load they would cost tens of kilobytes on a phone for nothing.
DOCUMENT_HEADERS = {
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


class ContentSecurityPolicy:
    """Builds the CSP once the Dash app has registered every inline script (after its first request)."""

    def __init__(self, dash_app: Any | None) -> None:
        self.dash_app = dash_app
        self._policy: str | None = None
        self._relaxed = content_security_policy(allow_inline_scripts=True)
        self._lock = threading.Lock()

    def for_request(self) -> str:
        if request.blueprint == "rq_dashboard" or request.path == "/rq" or request.path.startswith("/rq/"):
            return self._relaxed
        if self._policy is None:
            with self._lock:
                hashes = list(self.dash_app.csp_hashes()) if self.dash_app is not None else []
                self._policy = content_security_policy(hashes)
        return self._policy


def install_security_headers(server: Flask, dash_app: Any | None) -> None:
    csp = ContentSecurityPolicy(dash_app)

    @server.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in EVERY_RESPONSE_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint not in STATIC_ENDPOINTS:
            response.headers["Content-Security-Policy"] = csp.for_request()
            for name, value in DOCUMENT_HEADERS.items():
                response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # Pages and data answer per viewer: no shared cache may keep them. Static files keep their own policy.
        if request.endpoint not in STATIC_ENDPOINTS and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response


STATIC_ENDPOINTS = frozenset(
    {
        "_dash_assets.static",
        "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
        "/_favicon.ico",
    }
)
