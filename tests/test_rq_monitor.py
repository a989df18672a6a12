"""rq-dashboard at /rq on a real Redis: no GET changes anything (a cross-site link to /rq/requeue/<queue> used to
requeue every failed job), and its actions are POSTs that need this session's CSRF token and this origin."""

from __future__ import annotations

import operator

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from sync.jobs import QUEUE_NAME
from tests.auth_support import auth_settings, build_app, csrf_headers, sign_in
from web.csrf import CSRF_HEADER


@pytest.fixture
def failed_job(redis: Redis) -> Job:
    """A job that really failed: run by a worker, its ZeroDivisionError recorded in the failed registry."""
    queue = Queue(QUEUE_NAME, connection=redis)
    job = queue.enqueue(operator.truediv, 1, 0)
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert job.get_status(refresh=True) == JobStatus.FAILED
    return job


@pytest.fixture(params=["signed-in", "local"])
def rq_client(request, settings_for, sqlite_url, redis_url):
    if request.param == "local":
        dash_app = build_app(settings_for(sqlite_url, auth_disabled=True, redis_url=redis_url))
        client = dash_app.server.test_client()
    else:
        dash_app = build_app(auth_settings(settings_for, sqlite_url, redis_url=redis_url))
        client = dash_app.server.test_client()
        sign_in(client)
    assert client.get("/rq/").status_code == 200  # the monitor itself opens (and sets the CSRF cookie)
    yield client
    dash_app.server.extensions["kpi"].engine.dispose()


def still_failed(redis: Redis, job: Job) -> bool:
    queue = Queue(QUEUE_NAME, connection=redis)
    return job.get_status(refresh=True) == JobStatus.FAILED and job.id in queue.failed_job_registry.get_job_ids()


def test_a_get_never_requeues_or_deletes(rq_client, redis: Redis, failed_job: Job) -> None:
    actions = (
        f"/rq/requeue/{QUEUE_NAME}",
        "/rq/requeue/all",
        f"/rq/job/{failed_job.id}/requeue",
        f"/rq/job/{failed_job.id}/delete",
        f"/rq/queue/{QUEUE_NAME}/failed/empty",
        f"/rq/queue/{QUEUE_NAME}/compact",
    )
    for path in actions:
        for method in ("GET", "HEAD"):
            response = rq_client.open(path, method=method)
            # requeue/<queue> takes GET in rq-dashboard and is refused here; the POST-only routes never reach
            # rq-dashboard on a GET (Dash's page route answers it).
            assert not response.is_json, (method, path, response.status_code)
            assert still_failed(redis, failed_job), (method, path)
    for queue in (QUEUE_NAME, "all"):
        refused = rq_client.get(f"/rq/requeue/{queue}")
        assert refused.status_code == 405 and refused.headers["Allow"] == "POST"
    assert rq_client.get("/rq/0/data/queues.json").status_code == 200  # reading still works


def test_a_post_without_the_csrf_token_or_from_another_site_changes_nothing(
    settings_for, sqlite_url, redis_url, redis: Redis, failed_job: Job
) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url, redis_url=redis_url))
    client = dash_app.server.test_client()
    sign_in(client)
    client.get("/rq/")
    requeue = f"/rq/requeue/{QUEUE_NAME}"
    assert client.post(requeue).status_code == 403
    assert client.post(requeue, headers={CSRF_HEADER: "forged"}).status_code == 403
    foreign = {**csrf_headers(client), "Origin": "https://evil.example"}
    assert client.post(requeue, headers=foreign).status_code == 403
    assert still_failed(redis, failed_job)
    # The monitor's own button: a POST from this origin with the token rq-dashboard's script reads from the cookie.
    done = client.post(requeue, headers={**csrf_headers(client), "Origin": "http://localhost"})
    assert done.status_code == 200 and done.get_json() == {"status": "OK", "count": 1}
    assert failed_job.get_status(refresh=True) == JobStatus.QUEUED
    dash_app.server.extensions["kpi"].engine.dispose()


def test_the_monitors_own_scripts_send_actions_as_posts() -> None:
    """The 405 breaks nothing: every action in rq-dashboard's scripts is a $.post (a change of version is seen)."""
    from importlib.resources import files

    scripts = files("rq_dashboard") / "templates" / "rq_dashboard" / "scripts"
    text = "".join((scripts / name).read_text() for name in ("jobs.js", "job.js", "dashboard.js"))
    assert "$.post(" in text and "$.get(" not in text.replace("$.getJSON(", "")
    assert "X-CSRFToken" in text
