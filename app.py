"""The app factory. `create_app(settings)` builds the Flask server and the Dash app around it; nothing
happens at import time. `server` is resolved lazily for gunicorn and the Flask CLI (`app:server`).

`python app.py` serves on http://127.0.0.1:8050 (PORT sets the port; LOG_REQUESTS=1 prints a line per request).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import dash
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from settings import PROJECT_DIR, ConfigError, Settings, load_settings
from web.runtime import Runtime


def create_app(settings: Settings | None = None) -> dash.Dash:
    from callbacks import register_callbacks
    from layouts.shell import app_layout
    from models.db import make_engine
    from web.cache import init_cache
    from web.callback_answers import init_callback_answers
    from web.cli import register_cli
    from web.compression import init_compression
    from web.errors import callback_error
    from web.gate import init_auth
    from web.routes import register_routes
    from web.rq_monitor import mount_rq_dashboard
    from web.screens import app_version, register_screens
    from web.webhooks import register_webhooks

    settings = settings or load_settings()
    server = Flask(__name__)
    server.config.update(SECRET_KEY=settings.secret_key or "dev-only-not-secret", TESTING=settings.testing)
    runtime = Runtime(settings=settings, engine=make_engine(settings.database_url))
    runtime.app_version = app_version()
    server.extensions["kpi"] = runtime
    runtime.cache = init_cache(server, settings, runtime.app_version)  # Redis when REDIS_URL is set (web/cache.py)

    app = dash.Dash(
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash annotates bool | Callable[[], Any]; its docs take a Flask app
        assets_folder=str(PROJECT_DIR / "assets"),
        title="KPI Dashboard",
        update_title=None,  # type: ignore[arg-type]  # Dash annotates str; None turns the title change off (its docs)
        serve_locally=True,
        suppress_callback_exceptions=True,
        meta_tags=[
            {"name": "viewport", "content": "width=device-width, initial-scale=1"},
            {"name": "kpi-version", "content": runtime.app_version},  # what a TV reports it runs
        ],
        assets_path_ignore=["lazy"],  # assets/lazy/: fetched on demand (the partial plotly.js bundle), not on load
        on_error=callback_error,  # a callback that raises answers 422 (503 without the database), never a 500
    )
    app.layout = app_layout
    init_auth(server, settings, app)  # the gate, sign-in, kiosk tokens, security headers (web/gate.py)
    register_callbacks(app)
    register_routes(server)
    register_webhooks(server)
    register_screens(server)
    register_cli(server)
    mount_rq_dashboard(server, settings)  # /rq when REDIS_URL is set, behind the same gate
    init_compression(server)  # brotli/gzip for HTML, JS, CSS and JSON, Dash's bundles included
    if settings.embedded_sync and not settings.uses_redis and not settings.testing:
        # Started by the first web request (or at once by `python app.py`), not here: the Flask CLI builds this
        # app too, and `db upgrade` or `sync run` must not spawn a sync thread.
        @server.before_request
        def _embedded_sync() -> None:
            start_embedded_sync(runtime)

    if not settings.testing:

        @server.before_request
        def _sales_rollups() -> None:
            start_sales_rollups(runtime)

    init_callback_answers(server, app)  # last: its before_request runs after the gate, its after_request first
    return app


def start_embedded_sync(runtime: Runtime) -> object:
    """The embedded scheduler of this app, started once (see sync/scheduler.py), and the morning digest's thread
    when a digest is configured (digest/schedule.py)."""
    from digest.schedule import ensure_digest_thread
    from sync.scheduler import ensure_embedded_scheduler

    ensure_digest_thread(runtime, runtime.settings, runtime.engine)
    return ensure_embedded_scheduler(runtime, runtime.settings, runtime.engine)


def start_sales_rollups(runtime: Runtime) -> None:
    """Once per process: re-derive the sales roll-ups in a background thread when the rules or TIMEZONE changed
    since they were derived (models/sales_rollups.py). The pages keep answering meanwhile; a click never derives."""
    import logging
    import threading

    from models import sales_rollups

    if runtime.sales_rollups_started:
        return
    runtime.sales_rollups_started = True

    def ensure() -> None:
        try:
            sales_rollups.ensure(runtime.engine, runtime.settings.kpi.sales, runtime.settings.timezone)
        except Exception:
            logging.getLogger(__name__).exception("deriving the sales roll-ups failed")

    threading.Thread(target=ensure, name="sales-rollups", daemon=True).start()


def start_rollups(runtime: Runtime) -> None:
    """The roll-ups the pages read always exist: missing ones are built now, ones built for another TIMEZONE or
    KPI catalogue are rebuilt in the background (models/rollups.py). A database `db upgrade` has not migrated yet
    is left to the upgrade (which builds them)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from models import rollups

    try:
        rollups.start_up(runtime.engine, runtime.settings.timezone)
    except (OperationalError, ProgrammingError) as exc:  # no rollup_state table (yet): `db upgrade` builds them
        logging.getLogger("kpi.startup").warning(
            "roll-ups not checked at start-up (%s); run `flask --app app:server db upgrade`", exc.orig
        )


def _app_or_exit() -> dash.Dash:
    """create_app, with a configuration error (a malformed setting or kpi.toml) as one line. Stage names VTiger
    lacks are not an error: /status and /sales show them as a warning."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from models.db import DatabaseUrlError

    try:
        dash_app = create_app(load_settings())
        runtime = dash_app.server.extensions["kpi"]
        with runtime.engine.connect():
            pass  # an unreachable database is one line now, not a traceback at the first request
        start_rollups(runtime)
        return dash_app
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    except DatabaseUrlError as exc:
        sys.exit(f"database error: {exc}")
    except SQLAlchemyError as exc:  # start-up reads the database: unreachable is one line, not a traceback
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        sys.exit(f"database error: {reason}; check DATABASE_URL")


def _listen_or_exit(settings: Settings, host: str) -> None:
    """AUTH_DISABLED may only listen on loopback (web/startup_checks.py; gunicorn.conf.py checks the same)."""
    from web.startup_checks import check_listen_address

    try:
        check_listen_address(settings, host)
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")


def __getattr__(name: str) -> Any:
    """`app:server` for gunicorn and `flask --app app:server`: built on first access, not at import."""
    if name == "server":
        server = _app_or_exit().server
        globals()["server"] = server
        return server
    raise AttributeError(name)


class PlainRequestHandler(WSGIRequestHandler):
    """Werkzeug's request line without its colour codes (they garble a log file or a piped terminal)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s" %s %s', self.requestline, getattr(code, "value", code), size)


def configure_logging(*, log_requests: bool) -> None:
    """What `python app.py` prints: warnings and errors from anywhere, the start-up lines (listening, first sync
    started / done) and a line per request only when LOG_REQUESTS=1."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("kpi.startup").setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.INFO if log_requests else logging.WARNING)


def serve(dash_app: dash.Dash, host: str, port: int) -> None:
    """Listen (PORT=0: any free port), say where, start the embedded sync, then serve until Ctrl+C."""
    runtime = dash_app.server.extensions["kpi"]
    http = make_server(host, port, dash_app.server, threaded=True, request_handler=PlainRequestHandler)
    logging.getLogger("kpi.startup").info("KPI dashboard listening on http://%s:%s", host, http.server_port)
    if runtime.settings.embedded_sync and not runtime.settings.uses_redis:
        start_embedded_sync(runtime)  # fill the database while the browser is still opening
    try:
        http.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        http.server_close()


if __name__ == "__main__":
    configure_logging(log_requests=os.environ.get("LOG_REQUESTS", "").strip().lower() in ("1", "true", "yes"))
    dash_app = _app_or_exit()
    _listen_or_exit(dash_app.server.extensions["kpi"].settings, "127.0.0.1")
    serve(dash_app, "127.0.0.1", int(os.environ.get("PORT", "8050")))
