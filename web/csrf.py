"""Cross-site request forgery: every state-changing request must come from a page of this site (Origin) and, with
sign-in on, carry this session's token. Dash 4's renderer (and rq-dashboard) send the `_csrf_token` cookie back as
the X-CSRFToken header; a hand-written HTML form sends the field "csrf_token" (`csrf_token()` gives its value)."""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import urlsplit

from flask import Response, g, request, session

from web.cookies import cookie_secure
from web.plain_pages import json_refusal

log = logging.getLogger("kpi.auth")

CSRF_COOKIE = "_csrf_token"  # dash.Dash(csrf_token_name=...) default, also what rq-dashboard reads
CSRF_HEADER = "X-CSRFToken"  # dash.Dash(csrf_header_name=...) default
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def refuse_foreign_origin() -> Response | None:
    """A state-changing request must come from a page of this site (browsers always send Origin on POST)."""
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if not referer:
            return None  # not from a browser; the CSRF token (when sign-in is on) still has to match
        origin = referer
    if urlsplit(origin).netloc.lower() != request.host.lower():
        log.warning(
            "refused a %s from origin %r to host %r (behind a proxy? set TRUSTED_PROXIES and forward the Host)",
            request.method,
            origin,
            request.host,
        )
        return json_refusal(403, "cross-site request refused")
    return None


def refuse_bad_csrf_token() -> Response | None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = request.form.get(CSRF_FORM_FIELD)
    expected = session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str):
        return json_refusal(403, "CSRF token missing or wrong: reload the page")
    # As bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode("utf-8")):
        return json_refusal(403, "CSRF token missing or wrong: reload the page")
    return None


def set_csrf_cookie(response: Response) -> Response:
    """Give every viewer's page the token Dash's renderer sends back in X-CSRFToken (so it is readable by JS)."""
    if g.get("kpi_viewer") is None or response.status_code >= 400:
        return response
    token = csrf_token()
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, secure=cookie_secure(), httponly=False, samesite="Lax", path="/")
    return response
