"""RQ monitoring: rq-dashboard mounted at /rq when REDIS_URL is set. It sits behind the same sign-in gate as the
rest of the app, because the gate (web/gate.py) guards every route of the Flask server, this blueprint included, so
its actions (POSTs) need the CSRF token like every other state-changing request.

No GET changes state: rq-dashboard answers `GET /rq/requeue/<queue>` by requeueing every failed job, which a link
on another site could trigger. Its own scripts send every action as a POST (jobs.js, job.js: `$.post`), so a GET
or HEAD to any of its routes that also takes POST is refused with 405.

Must not import Dash layouts, callbacks or sync.
"""

from __future__ import annotations

from flask import Flask, Response, request

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
    server.before_request(refuse_rq_actions_on_get)
    return True


def refuse_rq_actions_on_get() -> Response | None:
    """405 for a GET (or HEAD) to an rq-dashboard route that acts: one that also accepts POST."""
    rule = request.url_rule
    if request.blueprint != "rq_dashboard" or rule is None or request.method not in ("GET", "HEAD"):
        return None
    if "POST" not in (rule.methods or ()):
        return None
    response = Response("This action needs a POST (the RQ monitor's buttons send one).\n", 405, mimetype="text/plain")
    response.headers["Allow"] = "POST"
    return response
