"""gunicorn reads this file from the working directory by default (the Procfile's `web:` line runs there).

on_starting refuses to start when AUTH_DISABLED is set and gunicorn would listen on anything but loopback
(web.startup_checks.check_listen_address; README: Sign-in and security). post_worker_init freezes what the worker
built at start-up out of the garbage collector's sight (docs/performance.md: the fast path). Other gunicorn
settings stay on the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the gunicorn console script does not put . on the path

# Keep idle connections longer than a viewer's pause between clicks (and shorter than the usual proxy's 75 s):
# with gunicorn's default of 2 s, a click after a pause could meet a connection the server was closing that very
# moment (the one error of the first load test at full scale). gthread keeps idle connections in its poller, not
# in a thread.
keepalive = 65


def on_starting(server: Any) -> None:
    from settings import ConfigError, load_settings
    from web.startup_checks import check_gunicorn_binds

    try:
        check_gunicorn_binds(load_settings(), server.cfg.address)
    except ConfigError as exc:
        raise SystemExit(f"configuration error: {exc}") from None


def post_worker_init(worker: Any) -> None:
    from web.runtime import freeze_startup_objects

    freeze_startup_objects()
