"""Production safety around the gate in auth.py: start-up refusals, the reverse proxy, cookies, security headers
(a Content-Security-Policy the Dash pages satisfy), clean errors, secrets kept out of logs, and the shape check
of Dash callback payloads.

Used by auth.init_auth; nothing here decides who may see what (that is auth.py).
Must not import Dash's app module, callbacks/, layouts/ or sync/ (it reads a Dash app only through the object it
is given).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dash.exceptions import DependencyException
from dotenv import dotenv_values
from flask import Flask, Response, abort, jsonify, make_response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from settings import ConfigError, Settings

log = logging.getLogger("kpi.security")

MIN_SECRET_KEY_LENGTH = 16
# What app.py falls back to when SECRET_KEY is empty; never acceptable with sign-in on.
PLACEHOLDER_SECRET_KEYS = frozenset({"dev-only-not-secret", "changeme", "change-me", "secret"})
MAX_REQUEST_BYTES = 8 * 1024 * 1024  # Dash callback bodies are small; this only stops memory-exhaustion uploads

# Responses to XHR and download routes are JSON (Dash's renderer and scripts read them), pages are HTML.
XHR_PATH_PREFIXES = ("/_dash-", "/export/")
XHR_PATH_SUFFIXES = (".json", ".csv")


# --- where the server listens, and the host names it answers to ------------------------------------------------


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1, with or without a port ("127.0.0.1:8050", "[::1]:80")."""
    if not host:
        return False
    host = split_host(host)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_host(host: str) -> str:
    """The host name of a Host header without its port, lower case ("[::1]:8050" -> "::1")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.split(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_name(host: str) -> bool:
    """A Host header naming this computer in a way DNS cannot rebind: "localhost" or a loopback address."""
    name = split_host(host).rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """Django's ALLOWED_HOSTS rule: an exact name, or ".example.com" for example.com and every subdomain."""
    name = split_host(host).rstrip(".")
    for pattern in patterns:
        pattern = pattern.strip().lower().strip("[]")
        if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
            return True
        if name == pattern:
            return True
    return False


def host_refusal(host: str, settings: Settings) -> str | None:
    """Why this Host header is not answered, or None. A rebinding attacker's page reaches us under its own host
    name: with sign-in off only loopback names are answered, and ALLOWED_HOSTS narrows every mode."""
    if not host or has_control_characters(host):
        return "the request has no usable Host header"
    if settings.auth_disabled and not is_loopback_name(host):
        return "sign-in is off (AUTH_DISABLED), so only localhost, 127.0.0.1 and [::1] are answered"
    if settings.allowed_hosts and not host_matches(host, settings.allowed_hosts):
        return "this host name is not in ALLOWED_HOSTS"
    return None


def install_host_check(server: Flask, settings: Settings) -> None:
    """Refuse (400) a Host the deployment does not serve, before the gate and every view. /healthz stays open: a
    load balancer may probe it by address, and it tells nothing."""

    @server.before_request
    def _check_host() -> Response | None:
        if request.path == "/healthz":
            return None
        reason = host_refusal(request.host, settings)
        if reason is None:
            return None
        log.warning("refused Host %s: %s", request.host, reason)
        if wants_json():
            return make_response(jsonify(error=f"Bad Request: {reason}"), 400)
        return Response(f"Bad Request: {reason}\n", status=400, mimetype="text/plain")


def check_startup(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Refuse to start with sign-in on but unusable or unsafe. One line per problem, naming the key and the fix."""
    if settings.auth_disabled:
        return
    environ = os.environ if environ is None else environ
    local_only = "or set AUTH_DISABLED=true for local use on this computer only"
    key = settings.secret_key
    if not key:
        raise ConfigError(
            "SECRET_KEY is empty: set it to a long random string "
            f"(python -c 'import secrets; print(secrets.token_urlsafe(48))'), {local_only}"
        )
    if key in PLACEHOLDER_SECRET_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"SECRET_KEY is too weak (at least {MIN_SECRET_KEY_LENGTH} random characters): "
            "set it with python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    for name, value in (
        ("GOOGLE_OAUTH_CLIENT_ID", settings.google_client_id),
        ("GOOGLE_OAUTH_CLIENT_SECRET", settings.google_client_secret),
    ):
        if not value:
            raise ConfigError(
                f"{name} is empty: create a Google OAuth client (README: Sign-in and security) and set it, {local_only}"
            )
    if not settings.allowed_email_domains and not settings.allowed_emails:
        raise ConfigError(
            "ALLOWED_EMAIL_DOMAINS and ALLOWED_EMAILS are both empty, so nobody could sign in: "
            "set ALLOWED_EMAIL_DOMAINS=example.com (your Google Workspace domain) or ALLOWED_EMAILS=a@example.com"
        )
    if str(environ.get("FLASK_DEBUG", "")).strip().lower() in ("1", "true", "yes", "on"):
        raise ConfigError(
            "FLASK_DEBUG is on: the debugger shows tracebacks and runs code; unset it outside development"
        )


def check_listen_address(settings: Settings, host: str) -> None:
    """AUTH_DISABLED is for one computer: refuse to listen anywhere but loopback with it."""
    if settings.auth_disabled and not is_loopback_host(host):
        raise ConfigError(
            f"AUTH_DISABLED is true but the server would listen on {host}: anyone on the network could read the "
            "dashboard. Listen on 127.0.0.1, or turn sign-in on (remove AUTH_DISABLED; README: Sign-in and security)"
        )


def check_gunicorn_binds(settings: Settings, addresses: Iterable[Any]) -> None:
    """gunicorn's parsed binds: (host, port) tuples, unix socket paths (str) or file descriptors (int).

    A unix socket or an inherited descriptor usually sits behind a proxy that faces the network, so only a
    loopback TCP address counts as local."""
    for address in addresses:
        host = address[0] if isinstance(address, tuple) else f"unix/fd:{address}"
        check_listen_address(settings, host)


# --- reverse proxy, cookies ----------------------------------------------------------------------------------------


def deployment_value(name: str, environ: Mapping[str, str] | None = None, env_file: str | Path = ".env") -> str:
    """A deployment knob that is not in Settings (TRUSTED_PROXIES): the environment first, then `.env`."""
    environ = os.environ if environ is None else environ
    if name in environ:
        return str(environ[name]).strip()
    if Path(env_file).is_file():
        return str(dotenv_values(env_file).get(name) or "").strip()
    return ""


def trusted_proxy_count(environ: Mapping[str, str] | None = None) -> int:
    raw = deployment_value("TRUSTED_PROXIES", environ)
    if not raw:
        return 0
    try:
        count = int(raw)
    except ValueError as exc:
        raise ConfigError(f"TRUSTED_PROXIES must be a whole number of reverse proxies in front (got {raw!r})") from exc
    if not 0 <= count <= 5:
        raise ConfigError(f"TRUSTED_PROXIES must be between 0 and 5 (got {count})")
    return count


def install_proxy_fix(server: Flask, proxies: int) -> None:
    """Trust X-Forwarded-For/-Proto/-Host/-Port from exactly `proxies` hops, so https and the client address are
    seen as the browser sent them (secure cookies, redirect URIs, the origin check)."""
    if proxies > 0:
        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )


def cookie_secure() -> bool:
    """Secure cookies unless a browser on this computer talks plain http to localhost (development)."""
    return request.is_secure or not is_loopback_host(request.host)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session with the Secure flag decided per request (see cookie_secure)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookie_secure()


def configure_session_cookie(server: Flask) -> None:
    server.session_interface = SessionInterface()
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )


# --- security headers ----------------------------------------------------------------------------------------------


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


# --- errors ---------------------------------------------------------------------------------------------------------


def wants_json() -> bool:
    """XHR, download and non-GET requests get JSON errors; page navigations get HTML."""
    path = request.path
    return (
        request.method not in ("GET", "HEAD") or path.startswith(XHR_PATH_PREFIXES) or path.endswith(XHR_PATH_SUFFIXES)
    )


def install_error_handlers(server: Flask, dash_app: Any | None) -> None:
    """No traceback ever reaches a browser (the log keeps it, redacted); Dash callbacks that raise answer 422."""

    @server.errorhandler(InternalServerError)
    def _internal_error(error: InternalServerError):  # type: ignore[no-untyped-def]
        if wants_json():
            return jsonify(error="internal error; the details are in the server log"), 500
        return "Internal error; the details are in the server log.", 500, {"Content-Type": "text/plain; charset=utf-8"}

    @server.errorhandler(DependencyException)
    def _unknown_bundle(error: DependencyException):  # type: ignore[no-untyped-def]
        # Dash raises this for a path under /_dash-component-suites/ it does not serve: a 404, and one log line
        # instead of a traceback per request.
        log.info("no such Dash bundle: %s", request.path)
        return "Not found.\n", 404, {"Content-Type": "text/plain; charset=utf-8"}

    if dash_app is not None and getattr(dash_app, "_on_error", None) is None:
        dash_app._on_error = callback_error  # Dash reads its app-wide on_error handler from this attribute


callback_log = logging.getLogger("kpi.callbacks")


def callback_error(error: Exception) -> None:
    """Dash's app-wide on_error: a callback that raised answers 422 (503 when the database is down), never a 500
    with a traceback. The traceback goes to the log so that the callback's owner can fix it."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        from dash import ctx

        output = ", ".join(f"{item['id']}.{item['property']}" for item in _flat(ctx.outputs_list))
    except Exception:  # noqa: BLE001 - naming the callback is best effort; the error itself is what matters
        output = "?"
    callback_log.error("callback for %s raised %s", output, type(error).__name__, exc_info=error)
    if isinstance(error, SQLAlchemyError):
        abort(make_response(jsonify(error="the database is unavailable; try again shortly"), 503))
    abort(make_response(jsonify(error="this callback could not handle its input"), 422))


def _flat(items: Any) -> list[dict[str, Any]]:
    if isinstance(items, dict):
        return [items]
    flat: list[dict[str, Any]] = []
    for item in items or []:
        flat.extend(_flat(item))
    return flat


# --- secrets out of logs ------------------------------------------------------------------------------------------

_REDACT_MIN_LENGTH = 8
_redacted_values: set[str] = set()
_redaction_lock = threading.Lock()
_factory_installed = False
# Kiosk tokens travel once in a URL (/tv?kiosk=...); access logs print request lines. Also bearer/basic headers.
_TOKEN_PATTERNS = (
    re.compile(r"(kiosk=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"((?:access_token|id_token|refresh_token|client_secret)[\"']?\s*[=:]\s*[\"']?)[^&\s\"',}]+"),
    re.compile(r"([?&](?:code|state)=)[^&\s\"']+"),  # the OAuth callback's query, in access logs
    re.compile(r"(Authorization[\"']?\s*[:=]\s*[\"']?(?:Bearer|Basic)\s+)[^\s\"',}]+", re.IGNORECASE),
)
# Libraries that print client secrets, authorization codes or tokens at DEBUG level.
CHATTY_LOGGERS = ("flask_dance", "oauthlib", "requests_oauthlib")


# C0 control characters and DEL, shown escaped: a CR or LF from a request must not start a forged log line.
_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def has_control_characters(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


def escape_controls(text: str) -> str:
    """`text` on one line: CR, LF, tab and the other control characters as backslash escapes.

    The one helper for anything a request sent that ends up in a log line; the log record factory applies it to
    every argument of every record, so `log.info("... %s", request_value)` is safe whichever logger writes it."""
    return text.translate(_CONTROL_ESCAPES)


class _OneLine:
    """A log argument shown through escape_controls, whether the format asks for %s or %r."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return escape_controls(str(self.value))

    def __repr__(self) -> str:
        return escape_controls(repr(self.value))


def _one_line_arg(value: Any) -> Any:
    if value is None or isinstance(value, int | float):  # bool is an int; %d and %f keep working
        return value
    return _OneLine(value)


class _OneLineMapping(Mapping[Any, Any]):
    """Mapping arguments (gunicorn's access log atoms) escaped on lookup: the wrapped mapping keeps answering its
    own way (gunicorn's answers "-" for a header the request lacks)."""

    def __init__(self, mapping: Mapping[Any, Any]) -> None:
        self.mapping = mapping

    def __getitem__(self, key: Any) -> Any:
        return _one_line_arg(self.mapping[key])

    def __iter__(self) -> Any:
        return iter(self.mapping)

    def __len__(self) -> int:
        return len(self.mapping)


def _one_line_args(args: Any) -> Any:
    if isinstance(args, Mapping):
        return _OneLineMapping(args)
    if isinstance(args, tuple):
        return tuple(_one_line_arg(value) for value in args)
    return args


def redact(text: str) -> str:
    for value in sorted(_redacted_values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "[redacted]")
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Every log record of this process has known secret values and token-looking parameters replaced.

    A record factory (not a handler filter) so that handlers added later (gunicorn's, pytest's) are covered too."""
    global _factory_installed
    with _redaction_lock:
        _redacted_values.update(value for value in secrets if value and len(value) >= _REDACT_MIN_LENGTH)
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True
    for name in CHATTY_LOGGERS:
        # Their own level, not the inherited one: a root logger switched to DEBUG later must not turn them on.
        if logging.getLogger(name).level < logging.INFO:
            logging.getLogger(name).setLevel(logging.INFO)


def _redact_record(record: logging.LogRecord) -> None:
    if record.args:
        record.args = _one_line_args(record.args)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is the caller's bug; keep the raw template
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))


def settings_secrets(settings: Settings) -> list[str]:
    values = [settings.secret_key, settings.google_client_secret]
    if settings.vtiger is not None:
        values.append(settings.vtiger.access_key)
    if settings.redmine is not None:
        values.extend([settings.redmine.api_key, settings.redmine.password])
    return [value for value in values if value]


# --- Dash callback payloads ---------------------------------------------------------------------------------------


class PayloadError(ValueError):
    """A /_dash-update-component body that Dash's renderer would never send."""


@dataclass(frozen=True)
class CallbackCall:
    """One validated callback request: which callback, what it writes, and what it was sent."""

    output_key: str
    output_ids: tuple[str | dict[str, Any], ...]
    sent: tuple[tuple[str, str, Any], ...]  # (component id, property, value) for the plain (non-wildcard) arguments

    def value_of(self, component_id: str, prop: str) -> Any:
        return next((value for cid, name, value in self.sent if cid == component_id and name == prop), None)

    def declares(self, component_id: str, prop: str) -> bool:
        return any(cid == component_id and name == prop for cid, name, _ in self.sent)


def output_ids(output_key: str) -> tuple[str | dict[str, Any], ...]:
    """Component ids a callback writes, from its key in app.callback_map (pattern-matching ids as dicts)."""
    from dash._utils import split_callback_id

    parts = split_callback_id(output_key)
    parts = parts if isinstance(parts, list) else [parts]
    ids: list[str | dict[str, Any]] = []
    for part in parts:
        component_id = part["id"]
        if isinstance(component_id, str) and component_id.startswith("{"):
            try:
                parsed = json.loads(component_id)
            except ValueError:
                parsed = component_id
            ids.append(parsed if isinstance(parsed, dict) else component_id)
        else:
            ids.append(component_id)
    return tuple(ids)


def request_json() -> Any:
    """The request's JSON body, None when it is not JSON; PayloadError when it nests deeper than the parser can
    follow (json raises RecursionError, which Flask would turn into a 500)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        raise PayloadError("the body nests too deeply") from None


def parse_callback_call(body: Any, callback_map: Mapping[str, Mapping[str, Any]]) -> CallbackCall:
    """Check a callback body against the callback it names, the way Dash's renderer builds it, so that malformed
    input is a clean 400 here instead of a KeyError or TypeError (a 500) inside Dash."""
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    output = body.get("output")
    entry = callback_map.get(output) if isinstance(output, str) else None
    if entry is None or "callback" not in entry:  # clientside callbacks are in the map too, without a function
        raise PayloadError("unknown callback")
    sent: list[tuple[str, str, Any]] = []
    for field in ("inputs", "state"):
        declared = list(entry.get(field) or [])
        given = body.get(field, [])
        if not isinstance(given, list) or len(given) != len(declared):
            raise PayloadError(f"{field} must list the callback's {len(declared)} {field}")
        for spec, item in zip(declared, given, strict=True):
            sent.extend(_check_argument(spec, item, field))
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(item, str) for item in changed):
        raise PayloadError("changedPropIds must be a list of strings")
    if not entry.get("no_output") and "outputs" in body:
        _check_outputs(output, body["outputs"])
    return CallbackCall(output_key=output, output_ids=output_ids(output), sent=tuple(sent))


def _is_wildcard(component_id: Any) -> bool:
    return isinstance(component_id, str) and component_id.startswith("{")


def _check_argument(spec: Mapping[str, Any], item: Any, field: str) -> list[tuple[str, str, Any]]:
    if not _is_wildcard(spec["id"]):
        if not isinstance(item, dict) or item.get("id") != spec["id"] or item.get("property") != spec["property"]:
            raise PayloadError(f"{field} do not match the callback's arguments")
        return [(spec["id"], spec["property"], item.get("value"))]
    # Pattern-matching argument: one dict (MATCH) or a list of dicts (ALL, ALLSMALLER), each with a dict id.
    items = item if isinstance(item, list) else [item]
    for one in items:
        if not isinstance(one, dict) or not isinstance(one.get("id"), dict) or one.get("property") != spec["property"]:
            raise PayloadError(f"{field} do not match the callback's arguments")
    return []


def _check_outputs(output_key: str, outputs: Any) -> None:
    declared = output_ids(output_key)
    multi = output_key.startswith("..")
    given = outputs if multi else [outputs]
    if not isinstance(given, list) or len(given) != len(declared):
        raise PayloadError("outputs do not match the callback's outputs")
    for component_id, item in zip(declared, given, strict=True):
        items = item if isinstance(item, list) and isinstance(component_id, dict) else [item]
        for one in items:
            if not isinstance(one, dict) or not isinstance(one.get("property"), str):
                raise PayloadError("outputs do not match the callback's outputs")
            if isinstance(component_id, dict):
                if not isinstance(one.get("id"), dict):
                    raise PayloadError("outputs do not match the callback's outputs")
            elif one.get("id") != component_id:
                raise PayloadError("outputs do not match the callback's outputs")
