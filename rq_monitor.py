"""RQ monitoring: rq-dashboard mounted at /rq when REDIS_URL is set. It sits behind the same sign-in gate as the
rest of the app, because the gate (auth.py) guards every route of the Flask server, this blueprint included.

Must not import Dash layouts, callbacks or sync.
"""

from __future__ import annotations

from flask import Flask

from settings import Settings

RQ_PREFIX = "/rq"


def mount_rq_dashboard(server: Flask, settings: Settings) -> bool:
    """Register rq-dashboard on the server when Redis is configured; True when mounted."""
    if not settings.uses_redis:
        return False
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    server.config.setdefault("RQ_DASHBOARD_REDIS_URL", settings.redis_url)
    server.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 5000)
    server.register_blueprint(rq_dashboard.blueprint, url_prefix=RQ_PREFIX)
    setup_rq_connection(server)  # a lazy client: nothing connects until /rq is opened
    return True
