"""The reverse proxy in front: how many hops to trust (TRUSTED_PROXIES), and Werkzeug's ProxyFix for them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from settings import ConfigError


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
        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Werkzeug's documented way: wrap wsgi_app
            server.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
