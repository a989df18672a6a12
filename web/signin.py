"""Sign-in with Google: the /login and /logout views, Google's OAuth blueprint and the decision who may sign in.

Flask-Dance's Google blueprint (/login/google, /login/google/authorized) with scopes openid, email and
profile and the first allowed domain as the `hd` hint (a hint only). The decision is made here, server side, from
the ID token Google returns on the TLS token request: the email must be verified, and either listed in
ALLOWED_EMAILS or in an ALLOWED_EMAIL_DOMAINS domain with an `hd` (Google Workspace) claim of an allowed domain.
Anyone else gets a 403 page and no session. The Google token is never stored (NullStorage): the app's own signed
session keeps the email and name, for SESSION_LIFETIME at most, and a session id that web/sessions.py keeps on the
server: signing out ends it there, so a copied cookie stops working too.

Must not import callbacks/, layouts/ or sync/.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Mapping
from html import escape
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, request, session, url_for
from flask_dance.consumer import oauth_authorized, oauth_error
from flask_dance.consumer.storage import NullStorage
from flask_dance.contrib.google import make_google_blueprint
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns; flask.Response extends it

from settings import Settings
from web import sessions
from web.csrf import (
    CSRF_COOKIE,
    CSRF_FORM_FIELD,
    SAFE_METHODS,
    csrf_token,
    refuse_bad_csrf_token,
    refuse_foreign_origin,
)
from web.log_redaction import has_control_characters
from web.plain_pages import page, refusal, try_again
from web.runtime import current_runtime
from web.sessions import SESSION_LIFETIME
from web.viewer import session_user

log = logging.getLogger("kpi.auth")

GOOGLE_SCOPES = [
    "openid",
    # The full names Google answers with for "email" and "profile" (a short name makes oauthlib see a changed scope).
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
]
GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
CLOCK_SKEW_SECONDS = 120


def safe_next(target: object) -> TypeGuard[str]:
    """Only a path on this site: no scheme, no host, no protocol-relative `//` or `/\\` tricks, and no control
    characters (a CR or LF would break the Location header of the redirect that follows sign-in)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if has_control_characters(target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and not target.startswith(("/login", "/logout"))


# --- sign-in and sign-out views ---------------------------------------------------------------------------------------


def auth_blueprint(settings: Settings) -> Blueprint:
    bp = Blueprint("auth", __name__)

    @bp.get("/login")
    def login() -> BaseResponse:
        if settings.auth_disabled or session_user(settings) is not None:
            return redirect("/")
        target = request.args.get("next")
        if safe_next(target):
            session["next"] = target
        note = "<p>You are signed out.</p>" if "signed_out" in request.args else ""
        return page(
            "Sign in",
            f"{note}<p>The KPI dashboard is for the organisation's Google accounts.</p>"
            f'<p><a class="btn btn-primary" href="{escape(url_for("google.login"))}">Sign in with Google</a></p>',
            200,
        )

    @bp.route("/logout", methods=["GET", "POST"])
    def logout() -> BaseResponse:
        if settings.auth_disabled:
            return redirect("/")
        if request.method in SAFE_METHODS:
            # Sign-out is a POST with the CSRF token, so another site cannot sign anyone out with a link.
            return page(
                "Sign out",
                '<form method="post" action="/logout">'
                f'<input type="hidden" name="{CSRF_FORM_FIELD}" value="{escape(csrf_token())}">'
                '<button class="btn btn-primary" type="submit">Sign out</button></form>',
                200,
            )
        if "user" in session:  # with nobody signed in there is nothing to protect, and nothing to end
            refused = refuse_foreign_origin() or refuse_bad_csrf_token()
            if refused is not None:
                return refused
        try:
            sessions.end_session(current_runtime().engine, session.get("sid"))
        except SQLAlchemyError:
            log.exception("sign-out could not end the session")
            return refusal(503, "Signing out needs the database, which is unavailable; try again shortly.")
        session.clear()
        response = redirect(url_for("auth.login", signed_out=1))
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    return bp


def google_blueprint(settings: Settings) -> Blueprint:
    bp = make_google_blueprint(
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret,
        scope=GOOGLE_SCOPES,
        hosted_domain=settings.allowed_email_domains[0] if settings.allowed_email_domains else None,
        storage=NullStorage(),  # the app keeps its own session; Google's token is dropped after sign-in
        redirect_url="/",
    )

    def on_authorized(blueprint: Blueprint, token: Mapping[str, Any] | None) -> BaseResponse:
        return _finish_sign_in(settings, token)

    def on_error(blueprint: Blueprint, error: object = None, **_: object) -> Response:
        session.clear()
        log.info("Google sign-in ended with an error: %s", error)
        return page("Sign-in cancelled", "<p>Google did not sign you in.</p>" + try_again(), 403)

    # weak=False: these closures are referenced by nothing else and would otherwise be garbage-collected.
    oauth_authorized.connect(on_authorized, sender=bp, weak=False)
    oauth_error.connect(on_error, sender=bp, weak=False)

    @bp.errorhandler(Exception)
    def sign_in_failed(error: Exception) -> BaseResponse | HTTPException:
        if isinstance(error, HTTPException):
            return error
        # A replayed or forged callback (state mismatch, missing code), Google unreachable, a token we cannot read.
        log.warning("Google sign-in failed: %s", type(error).__name__)
        session.clear()
        return page("Sign-in failed", "<p>Signing in with Google did not complete.</p>" + try_again(), 400)

    return bp


class SignInRefused(Exception):
    """The Google account may not use the dashboard; the message says why (shown to that person)."""


def _finish_sign_in(settings: Settings, token: Mapping[str, Any] | None) -> BaseResponse:
    try:
        claims = id_token_claims(token, settings.google_client_id)
        email, name = admitted_identity(claims, settings)
    except SignInRefused as refused:
        session.clear()
        log.warning("sign-in refused: %s", refused)
        return page("Access denied", f"<p>{escape(str(refused))}</p>" + try_again(), 403)
    next_url = session.get("next")
    sessions.end_session(current_runtime().engine, session.get("sid"))  # a second sign-in replaces the first
    session.clear()
    session.permanent = True
    session["user"] = {"email": email, "name": name}
    session["signed_in_at"] = int(time.time())
    session["sid"] = sessions.start_session(current_runtime().engine, email, SESSION_LIFETIME)
    csrf_token()
    log.info("signed in: %s", email)
    return redirect(next_url if safe_next(next_url) else "/")


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
