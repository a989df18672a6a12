"""The one gate in front of every route, and its kiosk rules.

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

The gate (`_gate`, a before_request on the Flask server) runs before every route, including routes added later by
other modules and blueprints (rq-dashboard must be a blueprint on this server, not a separate WSGI app, or it is
not behind the gate). Without a viewer: pages redirect to Google sign-in; Dash XHR routes (/_dash-*), exports
and other non-page requests answer 401 JSON. Every state-changing request (POST etc.) must carry the CSRF token
(web/csrf.py), and a foreign Origin is refused. AUTH_DISABLED lets every request through as the "local" viewer,
but only from this computer (loopback, not through a proxy). Who the viewer is: web/viewer.py; sign-in:
web/signin.py.

Must not import callbacks/, layouts/ or sync/: the gate knows routes by endpoint and path, not by page code.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, redirect, request, session, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns; flask.Response extends it

from settings import Settings
from web import kiosk, sessions
from web.callback_payloads import CallbackCall, PayloadError, parse_callback_call, request_json
from web.cookies import configure_session_cookie, cookie_secure
from web.csrf import SAFE_METHODS, refuse_bad_csrf_token, refuse_foreign_origin, set_csrf_cookie
from web.errors import install_error_handlers, wants_json
from web.headers import install_security_headers
from web.hosts import install_host_check, is_loopback_host
from web.kiosk import KIOSK_COOKIE
from web.log_redaction import install_log_redaction, settings_secrets
from web.plain_pages import json_refusal, page, refusal
from web.proxy import install_proxy_fix, trusted_proxy_count
from web.runtime import current_runtime
from web.sessions import SESSION_LIFETIME
from web.signin import auth_blueprint, google_blueprint, safe_next
from web.startup_checks import check_startup
from web.viewer import LOCAL_VIEWER, Viewer, current_viewer

log = logging.getLogger("kpi.auth")

KIOSK_PAGE_PATH = "/tv"
KIOSK_CALLBACK_OUTPUT_PREFIX = "tv-"
KIOSK_SHELL_OUTPUT_IDS = frozenset({"page-content", "chrome", "page-notice", "freshness-badge"})
KIOSK_QUERY_PARAMETER = "kiosk"
KIOSK_COOKIE_MAX_AGE = timedelta(days=400)  # browsers cap cookie lifetimes at 400 days

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


# --- wiring ------------------------------------------------------------------------------------------------------


def init_auth(server: Flask, settings: Settings, dash_app: Any | None = None) -> None:
    """Put the gate, sign-in, kiosk tokens and the security measures on `server`.

    Raises settings.ConfigError when sign-in is on but cannot work safely (no SECRET_KEY, no Google client, nobody
    allowed). `dash_app` gives the Content-Security-Policy the hashes of Dash's inline scripts and the callback
    map used to check callback payloads."""
    if not settings.testing:
        check_startup(settings)
    install_log_redaction(settings_secrets(settings))
    install_proxy_fix(server, trusted_proxy_count())
    configure_session_cookie(server)
    server.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME
    server.extensions["kpi_auth"] = {"dash_app": dash_app}
    install_host_check(server, settings)  # first: a foreign Host is refused before anything else runs

    server.register_blueprint(auth_blueprint(settings))
    if not settings.auth_disabled:
        server.register_blueprint(google_blueprint(settings), url_prefix="/login")
    server.before_request(_gate)
    server.after_request(set_csrf_cookie)
    install_security_headers(server, dash_app)
    install_error_handlers(server)
    server.cli.add_command(kiosk.kiosk_group)
    server.cli.add_command(sessions.sessions_group)


def _dash_app() -> Any | None:
    from flask import current_app

    return current_app.extensions["kpi_auth"]["dash_app"]


# --- the gate ---------------------------------------------------------------------------------------------------


def _gate() -> BaseResponse | None:
    settings: Settings = current_runtime().settings
    if request.endpoint in PUBLIC_ENDPOINTS or request.path.startswith(PUBLIC_PATH_PREFIXES):
        return None  # the sign-in views check their own state and CSRF token; a webhook its token
    if settings.auth_disabled:
        g.kpi_viewer = LOCAL_VIEWER
        return _refuse_remote_when_local() or refuse_foreign_origin() or _check_callback_payload(LOCAL_VIEWER)
    if _is_kiosk_arrival():
        return _kiosk_arrival()
    try:
        viewer = current_viewer()
    except SQLAlchemyError:
        log.exception("kiosk token check failed")
        return json_refusal(503, "the database is unavailable; try again shortly")
    if viewer is None:
        return _refuse_unauthenticated()
    if viewer.is_kiosk and not _kiosk_may_request():
        return _refuse_kiosk()
    if request.method not in SAFE_METHODS:
        refused = refuse_foreign_origin() or refuse_bad_csrf_token()
        if refused is not None:
            return refused
    return _check_callback_payload(viewer)


def _refuse_remote_when_local() -> Response | None:
    """AUTH_DISABLED serves this computer only: a non-loopback peer, or anything relayed by a proxy, is refused."""
    relayed = any(name in request.headers for name in ("X-Forwarded-For", "Forwarded", "X-Real-Ip"))
    if relayed or not is_loopback_host(request.remote_addr):
        log.warning("AUTH_DISABLED: refused a request from %s", request.remote_addr)
        message = "Sign-in is off (AUTH_DISABLED), so this dashboard only answers on the computer that runs it."
        return refusal(403, message)
    return None


def _refuse_unauthenticated() -> BaseResponse:
    if request.path.rstrip("/") == KIOSK_PAGE_PATH and request.cookies.get(KIOSK_COOKIE):
        return _kiosk_refused_page()
    # Only a page navigation is sent to Google; a sub-resource (the browser's own /favicon.ico, an image, a script)
    # gets a plain 401, so it neither becomes the page to return to nor a cross-origin redirect.
    navigation = request.headers.get("Sec-Fetch-Dest", "document") in ("document", "iframe")
    if wants_json() or not navigation:
        return json_refusal(401, "sign-in required", login=url_for("google.login"))
    next_url = request.full_path if request.query_string else request.path
    if safe_next(next_url):
        session["next"] = next_url
    return redirect(url_for("google.login"))


def _refuse_kiosk() -> Response:
    log.info("kiosk refused: %s %s", request.method, request.path)
    return refusal(403, "This screen is signed in with a kiosk token, which opens /tv only.")


# --- Dash callbacks -------------------------------------------------------------------------------------------------


def _check_callback_payload(viewer: Viewer) -> Response | None:
    """Malformed callback bodies answer 400 here (Dash itself would raise a 500); kiosks get their callbacks only."""
    if request.endpoint != DASH_CALLBACK_ENDPOINT or request.method != "POST":
        return None
    dash_app = _dash_app()
    if dash_app is None:
        return json_refusal(403, "callbacks are not available") if viewer.is_kiosk else None
    try:
        call = parse_callback_call(request_json(), dash_app.callback_map)
    except PayloadError as exc:
        return json_refusal(400, f"malformed callback request: {exc}")
    if viewer.is_kiosk and not kiosk_may_call(call):
        log.info("kiosk %s refused callback %s", viewer.name, call.output_key)
        return _refuse_kiosk()
    return None


def kiosk_may_call(call: CallbackCall) -> bool:
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


def _kiosk_arrival() -> BaseResponse:
    """/tv?kiosk=TOKEN: check it, move it into the kiosk cookie, and show /tv without the token in the address."""
    token = request.args.get(KIOSK_QUERY_PARAMETER, "")
    try:
        name = kiosk.kiosk_name_for(current_runtime().engine, token)
    except SQLAlchemyError:
        log.exception("kiosk token check failed")
        return refusal(503, "The database is unavailable; this screen will work again once it is back.")
    if name is None:
        log.warning("refused an unknown or revoked kiosk token")
        return _kiosk_refused_page()
    rest = [(key, value) for key, value in request.args.items(multi=True) if key != KIOSK_QUERY_PARAMETER]
    response = redirect(request.path + (f"?{urlencode(rest)}" if rest else ""))
    response.set_cookie(
        KIOSK_COOKIE,
        token,
        max_age=int(KIOSK_COOKIE_MAX_AGE.total_seconds()),
        secure=cookie_secure(),
        httponly=True,
        samesite="Lax",
        path="/",
    )
    log.info("kiosk %s started a screen", name)
    return response


def _kiosk_refused_page() -> Response:
    return page(
        "Screen not allowed",
        "<p>This screen's kiosk link is not valid: it was revoked, replaced or mistyped.</p>"
        "<p>An administrator can make a new one with <code>flask --app app:server kiosk create NAME</code>.</p>",
        401,
    )
