"""Sign-in with Google, the one gate in front of every route, and who is looking (a user, a TV, or local use).

API for the rest of the app (stable; ask before changing):
- `current_viewer() -> Viewer | None`, inside any request (Flask view, Dash callback, layout function):
  `Viewer(kind, name, email)` with kind "user" (signed in with Google; `name`, `email`), "kiosk" (a TV on a
  kiosk token; `name` is the kiosk's name) or "local" (AUTH_DISABLED). `viewer.is_kiosk`. None when nobody is
  signed in (only seen on public routes: the gate refuses everything else first).
- A kiosk may load `/tv` (and `/tv/`), `/_dash-layout`, `/_dash-dependencies`, the public routes, and call a
  Dash callback only when:
    * every output id starts with KIOSK_CALLBACK_OUTPUT_PREFIX ("tv-"); for a pattern-matching id, its "type"
      (so: prefix every TV component id with "tv-"); or
    * every output is tv-prefixed or one of KIOSK_SHELL_OUTPUT_IDS (the frame: page-content, chrome,
      page-notice, freshness-badge) AND the callback takes Input/State("url", "pathname") AND that value is /tv.
  Anything else answers 403. Kiosk callbacks must only read (a kiosk is read-only).
- PUBLIC_ENDPOINTS: the only routes answered without a viewer (sign-in, /healthz, static files), and everything
  under PUBLIC_PATH_PREFIXES: /webhooks/ (web/webhooks.py), whose token in the path is the credential; so they
  carry no CSRF token, and a GET there answers 405 rather than a sign-in redirect.
- A kiosk may also call KIOSK_ROUTES: the TV's data version and its report (web/screens.py).
- `csrf_token()`: this session's CSRF token, for a hand-written HTML form (field name "csrf_token").

The gate (`_gate`, a before_request on the Flask server) runs before every route, including routes added later by
other modules and blueprints (rq-dashboard must be a blueprint on this server, not a separate WSGI app, or it is
not behind the gate). Without a viewer: pages redirect to Google sign-in; Dash XHR routes (/_dash-*), exports
and other non-page requests answer 401 JSON. Every state-changing request (POST etc.) must carry the CSRF token:
Dash 4's renderer (and rq-dashboard) send the `_csrf_token` cookie back as the X-CSRFToken header; the gate
compares it with the token in the signed session, and also refuses a foreign Origin. AUTH_DISABLED lets every
request through as the "local" viewer, but only from this computer (loopback, not through a proxy).

Sign-in: Flask-Dance's Google blueprint (/login/google, /login/google/authorized) with scopes openid, email and
profile and the first allowed domain as the `hd` hint (a hint only). The decision is made here, server side, from
the ID token Google returns on the TLS token request: the email must be verified, and either listed in
ALLOWED_EMAILS or in an ALLOWED_EMAIL_DOMAINS domain with an `hd` (Google Workspace) claim of an allowed domain.
Anyone else gets a 403 page and no session. The Google token is never stored (NullStorage): the app's own signed
session keeps the email and name, for SESSION_LIFETIME at most, and a session id that user_sessions.py keeps on the
server: signing out ends it there, so a copied cookie stops working too.

Must not import callbacks/, layouts/ or sync/: the gate knows routes by endpoint and path, not by page code.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, g, has_request_context, jsonify, redirect, request, session, url_for
from flask_dance.consumer import oauth_authorized, oauth_error
from flask_dance.consumer.storage import NullStorage
from flask_dance.contrib.google import make_google_blueprint
from sqlalchemy.exc import SQLAlchemyError

import kiosk
import security
import user_sessions
from runtime import current_runtime
from settings import Settings

log = logging.getLogger("kpi.auth")

KIOSK_PAGE_PATH = "/tv"
KIOSK_CALLBACK_OUTPUT_PREFIX = "tv-"
KIOSK_SHELL_OUTPUT_IDS = frozenset({"page-content", "chrome", "page-notice", "freshness-badge"})
KIOSK_QUERY_PARAMETER = "kiosk"
KIOSK_COOKIE = "kpi_kiosk"
KIOSK_COOKIE_MAX_AGE = timedelta(days=400)  # browsers cap cookie lifetimes at 400 days
CSRF_COOKIE = "_csrf_token"  # dash.Dash(csrf_token_name=...) default, also what rq-dashboard reads
CSRF_HEADER = "X-CSRFToken"  # dash.Dash(csrf_header_name=...) default
CSRF_FORM_FIELD = "csrf_token"
SESSION_LIFETIME = timedelta(days=14)  # a sign-in lasts this long at most, however active the user is
GOOGLE_SCOPES = [
    "openid",
    # The full names Google answers with for "email" and "profile" (a short name makes oauthlib see a changed scope).
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
]
GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
CLOCK_SKEW_SECONDS = 120
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

DASH_CALLBACK_ENDPOINT = "/_dash-update-component"
DASH_PAGE_ENDPOINTS = frozenset({"/", "/<path:path>"})
KIOSK_ENDPOINTS = frozenset({"/_dash-layout", "/_dash-dependencies"})
PUBLIC_PATH_PREFIXES = ("/webhooks/",)
KIOSK_ROUTES = frozenset({"screens.data_version", "screens.report"})  # web/screens.py
PUBLIC_ENDPOINTS = frozenset(
    {
        "healthz",
        "auth.login",
        "auth.logout",
        "google.login",
        "google.authorized",
        "_dash_assets.static",  # /assets/: our CSS and JS, the vendored theme
        "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",  # Dash's own JS bundles
        "/_favicon.ico",
    }
)


@dataclass(frozen=True)
class Viewer:
    kind: str  # "user", "kiosk" or "local"
    name: str
    email: str = ""

    @property
    def is_kiosk(self) -> bool:
        return self.kind == "kiosk"


LOCAL_VIEWER = Viewer("local", "local use (AUTH_DISABLED)")


def current_viewer() -> Viewer | None:
    """Who this request is for; None outside a request or when nobody is signed in."""
    if not has_request_context():
        return None
    if "kpi_viewer" not in g:
        g.kpi_viewer = _resolve_viewer(current_runtime().settings)
    return g.kpi_viewer


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


# --- wiring ------------------------------------------------------------------------------------------------------


def init_auth(server: Flask, settings: Settings, dash_app: Any | None = None) -> None:
    """Put the gate, sign-in, kiosk tokens and the security measures on `server`.

    Raises settings.ConfigError when sign-in is on but cannot work safely (no SECRET_KEY, no Google client, nobody
    allowed). `dash_app` gives the Content-Security-Policy the hashes of Dash's inline scripts and the callback
    map used to check callback payloads."""
    if not settings.testing:
        security.check_startup(settings)
    security.install_log_redaction(security.settings_secrets(settings))
    security.install_proxy_fix(server, security.trusted_proxy_count())
    security.configure_session_cookie(server)
    server.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME
    server.extensions["kpi_auth"] = {"dash_app": dash_app}
    security.install_host_check(server, settings)  # first: a foreign Host is refused before anything else runs

    server.register_blueprint(_auth_blueprint(settings))
    if not settings.auth_disabled:
        server.register_blueprint(_google_blueprint(settings), url_prefix="/login")
    server.before_request(_gate)
    server.after_request(_set_csrf_cookie)
    security.install_security_headers(server, dash_app)
    security.install_error_handlers(server, dash_app)
    server.cli.add_command(kiosk.kiosk_group)
    server.cli.add_command(user_sessions.sessions_group)


def _dash_app() -> Any | None:
    from flask import current_app

    return current_app.extensions["kpi_auth"]["dash_app"]


# --- who is it ------------------------------------------------------------------------------------------------------


def _resolve_viewer(settings: Settings) -> Viewer | None:
    if settings.auth_disabled:
        return LOCAL_VIEWER
    user = _session_user(settings)
    if user is not None:
        return user
    token = request.cookies.get(KIOSK_COOKIE)
    if token:
        name = kiosk.kiosk_name_for(current_runtime().engine, token)
        if name:
            return Viewer("kiosk", name)
    return None


def _session_user(settings: Settings) -> Viewer | None:
    user = session.get("user")
    if not isinstance(user, dict):
        return None
    email = user.get("email")
    signed_in_at = session.get("signed_in_at")
    fresh = isinstance(signed_in_at, int) and 0 <= time.time() - signed_in_at <= SESSION_LIFETIME.total_seconds()
    # The allow-lists are re-read on every request: removing a domain or an address takes effect at once. So is the
    # server-side session: signing out (or `sessions revoke`) ends it for every copy of the cookie.
    if (
        not isinstance(email, str)
        or not fresh
        or not email_allowed(email, settings)
        or not user_sessions.session_is_live(current_runtime().engine, session.get("sid"), email)
    ):
        session.pop("user", None)
        return None
    return Viewer("user", str(user.get("name") or email), email)


def email_allowed(email: str, settings: Settings) -> bool:
    email = email.strip().lower()
    return email in settings.allowed_emails or email.rpartition("@")[2] in settings.allowed_email_domains


# --- the gate ---------------------------------------------------------------------------------------------------


def _gate() -> Response | None:
    settings: Settings = current_runtime().settings
    if request.endpoint in PUBLIC_ENDPOINTS or request.path.startswith(PUBLIC_PATH_PREFIXES):
        return None  # the sign-in views check their own state and CSRF token; a webhook its token
    if settings.auth_disabled:
        g.kpi_viewer = LOCAL_VIEWER
        return _refuse_remote_when_local() or _refuse_foreign_origin() or _check_callback_payload(LOCAL_VIEWER)
    if _is_kiosk_arrival():
        return _kiosk_arrival()
    try:
        viewer = current_viewer()
    except SQLAlchemyError:
        log.exception("kiosk token check failed")
        return _json_refusal(503, "the database is unavailable; try again shortly")
    if viewer is None:
        return _refuse_unauthenticated()
    if viewer.is_kiosk and not _kiosk_may_request():
        return _refuse_kiosk()
    if request.method not in SAFE_METHODS:
        refusal = _refuse_foreign_origin() or _refuse_bad_csrf_token()
        if refusal is not None:
            return refusal
    return _check_callback_payload(viewer)


def _refuse_remote_when_local() -> Response | None:
    """AUTH_DISABLED serves this computer only: a non-loopback peer, or anything relayed by a proxy, is refused."""
    relayed = any(name in request.headers for name in ("X-Forwarded-For", "Forwarded", "X-Real-Ip"))
    if relayed or not security.is_loopback_host(request.remote_addr):
        log.warning("AUTH_DISABLED: refused a request from %s", request.remote_addr)
        message = "Sign-in is off (AUTH_DISABLED), so this dashboard only answers on the computer that runs it."
        return _refusal(403, message)
    return None


def _refuse_unauthenticated() -> Response:
    if request.path.rstrip("/") == KIOSK_PAGE_PATH and request.cookies.get(KIOSK_COOKIE):
        return _kiosk_refused_page()
    # Only a page navigation is sent to Google; a sub-resource (the browser's own /favicon.ico, an image, a script)
    # gets a plain 401, so it neither becomes the page to return to nor a cross-origin redirect.
    navigation = request.headers.get("Sec-Fetch-Dest", "document") in ("document", "iframe")
    if security.wants_json() or not navigation:
        return _json_refusal(401, "sign-in required", login=url_for("google.login"))
    next_url = request.full_path if request.query_string else request.path
    if _safe_next(next_url):
        session["next"] = next_url
    return redirect(url_for("google.login"))


def _refuse_kiosk() -> Response:
    log.info("kiosk refused: %s %s", request.method, request.path)
    return _refusal(403, "This screen is signed in with a kiosk token, which opens /tv only.")


def _refusal(status: int, message: str) -> Response:
    if security.wants_json():
        return _json_refusal(status, message)
    return _page("Not allowed", f"<p>{escape(message)}</p>", status)


def _json_refusal(status: int, message: str, **extra: str) -> Response:
    response = jsonify(error=message, **extra)
    response.status_code = status
    return response


def _safe_next(target: object) -> bool:
    """Only a path on this site: no scheme, no host, no protocol-relative `//` or `/\\` tricks, and no control
    characters (a CR or LF would break the Location header of the redirect that follows sign-in)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if security.has_control_characters(target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and not target.startswith(("/login", "/logout"))


# --- CSRF -----------------------------------------------------------------------------------------------------------


def _refuse_foreign_origin() -> Response | None:
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
        return _json_refusal(403, "cross-site request refused")
    return None


def _refuse_bad_csrf_token() -> Response | None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = request.form.get(CSRF_FORM_FIELD)
    expected = session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str):
        return _json_refusal(403, "CSRF token missing or wrong: reload the page")
    # As bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode("utf-8")):
        return _json_refusal(403, "CSRF token missing or wrong: reload the page")
    return None


def _set_csrf_cookie(response: Response) -> Response:
    """Give every viewer's page the token Dash's renderer sends back in X-CSRFToken (so it is readable by JS)."""
    if g.get("kpi_viewer") is None or response.status_code >= 400:
        return response
    token = csrf_token()
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE, token, secure=security.cookie_secure(), httponly=False, samesite="Lax", path="/"
        )
    return response


# --- Dash callbacks -------------------------------------------------------------------------------------------------


def _check_callback_payload(viewer: Viewer) -> Response | None:
    """Malformed callback bodies answer 400 here (Dash itself would raise a 500); kiosks get their callbacks only."""
    if request.endpoint != DASH_CALLBACK_ENDPOINT or request.method != "POST":
        return None
    dash_app = _dash_app()
    if dash_app is None:
        return _json_refusal(403, "callbacks are not available") if viewer.is_kiosk else None
    try:
        call = security.parse_callback_call(security.request_json(), dash_app.callback_map)
    except security.PayloadError as exc:
        return _json_refusal(400, f"malformed callback request: {exc}")
    if viewer.is_kiosk and not kiosk_may_call(call):
        log.info("kiosk %s refused callback %s", viewer.name, call.output_key)
        return _refuse_kiosk()
    return None


def kiosk_may_call(call: security.CallbackCall) -> bool:
    """The kiosk rule for callbacks (see the module docstring)."""
    ids = call.output_ids
    if not ids:
        return False
    if all(_is_tv_id(component_id) for component_id in ids):
        return True
    frame_only = all(_is_tv_id(cid) or (isinstance(cid, str) and cid in KIOSK_SHELL_OUTPUT_IDS) for cid in ids)
    pathname = call.value_of("url", "pathname")
    return frame_only and call.declares("url", "pathname") and isinstance(pathname, str) and _is_kiosk_path(pathname)


def _is_tv_id(component_id: str | dict[str, Any]) -> bool:
    if isinstance(component_id, dict):
        component_id = component_id.get("type", "")
    return isinstance(component_id, str) and component_id.startswith(KIOSK_CALLBACK_OUTPUT_PREFIX)


def _is_kiosk_path(path: str) -> bool:
    return path in (KIOSK_PAGE_PATH, KIOSK_PAGE_PATH + "/")


def _kiosk_may_request() -> bool:
    if request.endpoint in KIOSK_ROUTES:
        return True
    if request.method not in SAFE_METHODS and request.endpoint != DASH_CALLBACK_ENDPOINT:
        return False
    if request.endpoint in DASH_PAGE_ENDPOINTS:
        return _is_kiosk_path(request.path)
    return request.endpoint in KIOSK_ENDPOINTS or request.endpoint == DASH_CALLBACK_ENDPOINT


# --- kiosk arrival ------------------------------------------------------------------------------------------------


def _is_kiosk_arrival() -> bool:
    return request.method in ("GET", "HEAD") and _is_kiosk_path(request.path) and KIOSK_QUERY_PARAMETER in request.args


def _kiosk_arrival() -> Response:
    """/tv?kiosk=TOKEN: check it, move it into the kiosk cookie, and show /tv without the token in the address."""
    token = request.args.get(KIOSK_QUERY_PARAMETER, "")
    try:
        name = kiosk.kiosk_name_for(current_runtime().engine, token)
    except SQLAlchemyError:
        log.exception("kiosk token check failed")
        return _refusal(503, "The database is unavailable; this screen will work again once it is back.")
    if name is None:
        log.warning("refused an unknown or revoked kiosk token")
        return _kiosk_refused_page()
    rest = [(key, value) for key, value in request.args.items(multi=True) if key != KIOSK_QUERY_PARAMETER]
    response = redirect(request.path + (f"?{urlencode(rest)}" if rest else ""))
    response.set_cookie(
        KIOSK_COOKIE,
        token,
        max_age=int(KIOSK_COOKIE_MAX_AGE.total_seconds()),
        secure=security.cookie_secure(),
        httponly=True,
        samesite="Lax",
        path="/",
    )
    log.info("kiosk %s started a screen", name)
    return response


def _kiosk_refused_page() -> Response:
    return _page(
        "Screen not allowed",
        "<p>This screen's kiosk link is not valid: it was revoked, replaced or mistyped.</p>"
        "<p>An administrator can make a new one with <code>flask --app app:server kiosk create NAME</code>.</p>",
        401,
    )


# --- sign-in and sign-out views ---------------------------------------------------------------------------------------


def _auth_blueprint(settings: Settings) -> Blueprint:
    bp = Blueprint("auth", __name__)

    @bp.get("/login")
    def login():  # type: ignore[no-untyped-def]
        if settings.auth_disabled or _session_user(settings) is not None:
            return redirect("/")
        target = request.args.get("next")
        if _safe_next(target):
            session["next"] = target
        note = "<p>You are signed out.</p>" if "signed_out" in request.args else ""
        return _page(
            "Sign in",
            f"{note}<p>The KPI dashboard is for the organisation's Google accounts.</p>"
            f'<p><a class="btn btn-primary" href="{escape(url_for("google.login"))}">Sign in with Google</a></p>',
            200,
        )

    @bp.route("/logout", methods=["GET", "POST"])
    def logout():  # type: ignore[no-untyped-def]
        if settings.auth_disabled:
            return redirect("/")
        if request.method in SAFE_METHODS:
            # Sign-out is a POST with the CSRF token, so another site cannot sign anyone out with a link.
            return _page(
                "Sign out",
                '<form method="post" action="/logout">'
                f'<input type="hidden" name="{CSRF_FORM_FIELD}" value="{escape(csrf_token())}">'
                '<button class="btn btn-primary" type="submit">Sign out</button></form>',
                200,
            )
        if "user" in session:  # with nobody signed in there is nothing to protect, and nothing to end
            refusal = _refuse_foreign_origin() or _refuse_bad_csrf_token()
            if refusal is not None:
                return refusal
        try:
            user_sessions.end_session(current_runtime().engine, session.get("sid"))
        except SQLAlchemyError:
            log.exception("sign-out could not end the session")
            return _refusal(503, "Signing out needs the database, which is unavailable; try again shortly.")
        session.clear()
        response = redirect(url_for("auth.login", signed_out=1))
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    return bp


def _google_blueprint(settings: Settings) -> Blueprint:
    bp = make_google_blueprint(
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret,
        scope=GOOGLE_SCOPES,
        hosted_domain=settings.allowed_email_domains[0] if settings.allowed_email_domains else None,
        storage=NullStorage(),  # the app keeps its own session; Google's token is dropped after sign-in
        redirect_url="/",
    )

    def on_authorized(blueprint: Blueprint, token: Mapping[str, Any] | None) -> Response:
        return _finish_sign_in(settings, token)

    def on_error(blueprint: Blueprint, error: object = None, **_: object) -> Response:
        session.clear()
        log.info("Google sign-in ended with an error: %s", error)
        return _page("Sign-in cancelled", "<p>Google did not sign you in.</p>" + _try_again(), 403)

    # weak=False: these closures are referenced by nothing else and would otherwise be garbage-collected.
    oauth_authorized.connect(on_authorized, sender=bp, weak=False)
    oauth_error.connect(on_error, sender=bp, weak=False)

    @bp.errorhandler(Exception)
    def sign_in_failed(error: Exception):  # type: ignore[no-untyped-def]
        from werkzeug.exceptions import HTTPException

        if isinstance(error, HTTPException):
            return error
        # A replayed or forged callback (state mismatch, missing code), Google unreachable, a token we cannot read.
        log.warning("Google sign-in failed: %s", type(error).__name__)
        session.clear()
        return _page("Sign-in failed", "<p>Signing in with Google did not complete.</p>" + _try_again(), 400)

    return bp


class SignInRefused(Exception):
    """The Google account may not use the dashboard; the message says why (shown to that person)."""


def _finish_sign_in(settings: Settings, token: Mapping[str, Any] | None) -> Response:
    try:
        claims = id_token_claims(token, settings.google_client_id)
        email, name = admitted_identity(claims, settings)
    except SignInRefused as refused:
        session.clear()
        log.warning("sign-in refused: %s", refused)
        return _page("Access denied", f"<p>{escape(str(refused))}</p>" + _try_again(), 403)
    next_url = session.get("next")
    user_sessions.end_session(current_runtime().engine, session.get("sid"))  # a second sign-in replaces the first
    session.clear()
    session.permanent = True
    session["user"] = {"email": email, "name": name}
    session["signed_in_at"] = int(time.time())
    session["sid"] = user_sessions.start_session(current_runtime().engine, email, SESSION_LIFETIME)
    csrf_token()
    log.info("signed in: %s", email)
    return redirect(next_url if _safe_next(next_url) else "/")


def id_token_claims(token: Mapping[str, Any] | None, client_id: str, now: float | None = None) -> dict[str, Any]:
    """The claims of the ID token in Google's token response.

    The token came straight from Google's token endpoint over TLS in this request, so (OpenID Connect Core 3.1.3.7)
    TLS stands in for the signature check; the issuer, audience and expiry are still checked."""
    raw = token.get("id_token") if isinstance(token, Mapping) else None
    if not isinstance(raw, str) or raw.count(".") != 2:
        raise SignInRefused("Google did not send an identity token; try signing in again.")
    payload = raw.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise SignInRefused("Google's identity token could not be read; try signing in again.") from exc
    if not isinstance(claims, dict):
        raise SignInRefused("Google's identity token could not be read; try signing in again.")
    now = time.time() if now is None else now
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    expires = claims.get("exp")
    if claims.get("iss") not in GOOGLE_ISSUERS or client_id not in audiences:
        raise SignInRefused("The identity token was not issued by Google for this dashboard.")
    if not isinstance(expires, int | float) or expires + CLOCK_SKEW_SECONDS < now:
        raise SignInRefused("The identity token has expired; try signing in again.")
    return claims


def admitted_identity(claims: Mapping[str, Any], settings: Settings) -> tuple[str, str]:
    """(email, name) of an allowed account, else SignInRefused saying why."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInRefused("Google did not tell us your email address.")
    email = email.strip().lower()
    if claims.get("email_verified") not in (True, "true"):
        raise SignInRefused(f"The address {email} is not verified with Google, so it cannot be used to sign in.")
    name = str(claims.get("name") or email)
    if email in settings.allowed_emails:
        return email, name
    domain = email.rpartition("@")[2]
    if domain not in settings.allowed_email_domains:
        raise SignInRefused(f"{email} may not use this dashboard. Ask an administrator to allow your address.")
    hosted = claims.get("hd")
    if not isinstance(hosted, str) or hosted.strip().lower() not in settings.allowed_email_domains:
        # A personal Google account can carry a company address; only the organisation's Workspace vouches for it.
        raise SignInRefused(
            f"{email} is not an account of the organisation's Google Workspace ({domain}). "
            "Sign in with your work account."
        )
    return email, name


# --- pages ---------------------------------------------------------------------------------------------------------


def _try_again() -> str:
    return (
        '<p><a class="btn btn-primary" href="/login">Try again</a></p>'
        '<p class="text-muted small">To use another Google account, sign out of this one at Google first '
        "or use a private window.</p>"
    )


def _page(title: str, body: str, status: int) -> Response:
    """A small standalone HTML page (sign-in, refusals): no scripts, the local Bootstrap theme, escaped text only."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · KPI Dashboard</title>"
        '<link rel="icon" href="/_favicon.ico"><link rel="stylesheet" href="/assets/vendor/bootstrap.min.css">'
        '</head><body class="bg-light"><main class="container py-5"><div class="row justify-content-center">'
        f'<div class="col-md-8 col-lg-6"><h1 class="h3 mb-4">KPI Dashboard · {escape(title)}</h1>{body}</div>'
        "</div></main></body></html>"
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")
