"""The host names the server answers to: loopback detection, ALLOWED_HOSTS (Django's rule) and the Host check
that refuses (400) a Host header the deployment does not serve, before the gate and every view."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from flask import Flask, Response, jsonify, make_response, request

from settings import Settings
from web.errors import wants_json
from web.log_redaction import has_control_characters

log = logging.getLogger("kpi.security")


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
