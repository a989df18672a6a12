"""Handing the digest over, against a real SMTP server on loopback (aiosmtpd) and a local HTTP receiver
(pytest-httpserver): the e-mail's parts and figures, the Slack payload, STARTTLS with a login, retries with backoff
against a server that fails then succeeds, and permanent failures recorded on the run, never retried."""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import replace
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from digest.deliver import DeliveryFailed, RetryPolicy, send_email
from digest.render import email_message
from digest.runs import recent_runs
from digest.send import Target, send_slot
from settings import DigestAudience, Settings
from tests.digest_seed import DAY, SENT_AT, digest_settings, seed_digest_week
from tests.digest_smtp import free_port, self_signed_certificate, smtp_server

ANN = "ann@example.com"


@pytest.fixture
def seeded(sqlite_engine: Engine, settings_for) -> tuple[Engine, Settings]:
    seed_digest_week(sqlite_engine)
    settings = replace(digest_settings(settings_for(str(sqlite_engine.url))), digest_from="kpi@example.com")
    return sqlite_engine, settings


class Sleeps:
    """A RetryPolicy's sleep that records the waits and can act during one (start the server that was down)."""

    def __init__(self, during=None) -> None:
        self.waits: list[float] = []
        self.during = during

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.during:
            self.during(len(self.waits))


def send(engine: Engine, settings: Settings, recipient: str = ANN, sleeps: Sleeps | None = None) -> list:
    policy = RetryPolicy(delays=(5, 30, 90), sleep=sleeps or Sleeps())
    target = Target(recipient, DigestAudience())
    return send_slot(engine, settings, SENT_AT, "schedule", DAY, [target], SENT_AT, policy)


def test_the_email_has_a_text_and_an_html_part_with_the_figures_and_nothing_remote(seeded) -> None:
    engine, settings = seeded
    with smtp_server() as server:
        outcomes = send(engine, replace(settings, smtp_url=server.url))
        assert [outcome.status for outcome in outcomes] == ["sent"]
        (message,) = server.messages
        assert server.mailbox.envelopes == [("kpi@example.com", [ANN])]

    assert message["Subject"] == "KPI digest · Wed 2 Dec 2026"
    assert (message["From"], message["To"]) == ("kpi@example.com", ANN)
    assert message.get_content_type() == "multipart/alternative"
    text_part, html_part = message.iter_parts()
    assert (text_part.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
    text, html = text_part.get_content(), html_part.get_content()

    assert "<script" not in html.lower() and "<img" not in html.lower() and "<style" not in html.lower()
    assert not re.search(r"""\b(src|background)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert "<link" not in html.lower()
    assert 'href="https://kpi.example.com/cases?date=2026-12-02"' in html
    assert 'href="https://kpi.example.com/sales?date=2026-12-02"' in html
    assert 'href="https://kpi.example.com/redmine?date=2026-12-02"' in html
    # The hand-counted figures (tests/digest_seed.py) in both parts: 3 cases created on Wednesday, 1 on Tuesday.
    assert re.search(r"Created\s+3\s+▲ 2", text)
    assert re.search(r"Kill rate\s+66%", text)
    assert "Backlog (open now): 4" in text
    assert "Team points 14 of a goal of 24 (8 each × 3)" in text
    assert "Reached the goal: Ann" in text
    assert "None" not in text and "None" not in html and "nan" not in text.lower()
    assert ">66%<" in html and "Team points <strong>14</strong>" in html
    (run,) = recent_runs(engine)
    assert (run.recipient, run.status, run.attempts, run.trigger) == (ANN, "sent", 1, "schedule")


def test_the_chat_message_is_slack_blocks(seeded, httpserver: HTTPServer) -> None:
    engine, settings = seeded
    httpserver.expect_oneshot_request("/hooks/abc", method="POST").respond_with_data("ok")
    settings = replace(settings, digest_webhook_url=httpserver.url_for("/hooks/abc"))

    assert [outcome.status for outcome in send(engine, settings, "chat")] == ["sent"]

    (request, _), = httpserver.log  # fmt: skip
    assert request.headers["Content-Type"] == "application/json"
    payload = json.loads(request.data)
    assert payload["text"] == "KPI digest · Wed 2 Dec 2026"
    blocks = payload["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": payload["text"], "emoji": False}}
    assert {block["type"] for block in blocks} <= {"header", "section", "context", "divider"}
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn" and len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
    texts = json.dumps(payload, ensure_ascii=False)
    assert "Created: *3* (▲ 2 vs Tue 1\u00a0Dec)" in texts
    assert "<https://kpi.example.com/sales?date=2026-12-02|Open the sales page>" in texts
    assert "None" not in texts


def test_smtp_starttls_with_a_login(seeded, tmp_path: Path) -> None:
    engine, settings = seeded
    cert, key = self_signed_certificate(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert))
    with smtp_server(tls_files=(cert, key), password="s3cret-pass") as server:
        message = email_message(_digest(engine, settings), sender="kpi@example.com", to=ANN)
        send_email(server.url, message, tls_context=trusting)
        assert len(server.messages) == 1
        with pytest.raises(DeliveryFailed) as refused:
            send_email(server.url.replace("s3cret-pass", "wrong"), message, tls_context=trusting)
        assert refused.value.permanent and "535" in str(refused.value)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the whole connection is TLS
def test_smtps_speaks_tls_from_the_first_byte_and_trusts_only_what_it_is_told(
    seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, settings = seeded
    cert, key = self_signed_certificate(tmp_path)
    message = email_message(_digest(engine, settings), sender="kpi@example.com", to=ANN)
    with smtp_server(tls_files=(cert, key), password="s3cret-pass", implicit_tls=True) as server:
        assert server.url.startswith("smtps://digest:s3cret-pass@127.0.0.1:")
        # Unknown to the system's CAs, the self-signed server is refused for good, before any password goes out.
        with pytest.raises(DeliveryFailed) as untrusted:
            send_email(server.url, message)
        assert untrusted.value.permanent and "not trusted" in str(untrusted.value)
        assert "s3cret-pass" not in str(untrusted.value)
        assert server.mailbox.data_commands == 0

        send_email(server.url, message, tls_context=ssl.create_default_context(cafile=str(cert)))
        # SSL_CERT_FILE (read by OpenSSL when the default context is made) is how a private CA is trusted.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        send_email(server.url, message)
        with pytest.raises(DeliveryFailed) as refused:
            send_email(server.url.replace("s3cret-pass", "wrong"), message)
        assert refused.value.permanent and "535" in str(refused.value)

        assert len(server.messages) == 2
        assert all(version.startswith("TLSv1.") for version in server.mailbox.tls_versions)
    assert server.messages[0]["Subject"] == "KPI digest · Wed 2 Dec 2026"


def test_no_password_is_sent_without_tls(seeded) -> None:
    engine, settings = seeded
    with smtp_server() as server:
        url = server.url.replace("smtp://", "smtp://digest:s3cret-pass@")
        outcomes = send(engine, replace(settings, smtp_url=url))
        assert server.mailbox.data_commands == 0
    assert outcomes[0].status == "failed" and "STARTTLS" in outcomes[0].error
    assert "s3cret-pass" not in recent_runs(engine)[0].error


def test_transient_smtp_replies_are_retried_with_backoff(seeded) -> None:
    engine, settings = seeded
    sleeps = Sleeps()
    with smtp_server() as server:
        server.replies.extend(["451 4.3.0 Try again later", "452 4.3.1 Insufficient storage"])
        outcomes = send(engine, replace(settings, smtp_url=server.url), sleeps=sleeps)
        assert len(server.messages) == 1 and server.mailbox.data_commands == 3
    assert sleeps.waits == [5, 30]
    assert outcomes[0].status == "sent"
    (run,) = recent_runs(engine)
    assert (run.status, run.attempts) == ("sent", 3)


def test_a_server_that_is_down_then_up_gets_the_digest_once(seeded) -> None:
    engine, settings = seeded
    port = free_port()
    started = []

    def start_on_second_wait(waits: int) -> None:
        if waits == 2:
            started.append(smtp_server_on(port))

    outcomes = send(engine, replace(settings, smtp_url=f"smtp://127.0.0.1:{port}"), sleeps=Sleeps(start_on_second_wait))
    try:
        assert outcomes[0].status == "sent"
        assert len(started[0][1].messages) == 1
        assert recent_runs(engine)[0].attempts == 3  # refused, refused, sent
    finally:
        started[0][0].__exit__(None, None, None)


def smtp_server_on(port: int):
    """Start an SMTP server on `port` now (the context manager and the server it yields)."""
    import tests.digest_smtp as digest_smtp

    original = digest_smtp.free_port
    digest_smtp.free_port = lambda: port
    try:
        manager = digest_smtp.smtp_server()
        server = manager.__enter__()
    finally:
        digest_smtp.free_port = original
    return manager, server


def test_a_permanent_smtp_failure_is_recorded_and_not_retried(seeded) -> None:
    engine, settings = seeded
    sleeps = Sleeps()
    with smtp_server() as server:
        server.replies.append("550 5.1.1 No such user here")
        outcomes = send(engine, replace(settings, smtp_url=server.url), sleeps=sleeps)
        # A later run of the same slot (another worker, a restart) does not send it again.
        again = send(engine, replace(settings, smtp_url=server.url), sleeps=sleeps)
        assert server.messages == [] and server.mailbox.data_commands == 1
    assert sleeps.waits == []
    assert outcomes[0].status == "failed" and again[0].status == "skipped"
    (run,) = recent_runs(engine)
    assert (run.status, run.attempts) == ("failed", 1)
    assert "550" in run.error and "permanent" in run.error


def test_retries_that_run_out_are_recorded(seeded) -> None:
    engine, settings = seeded
    sleeps = Sleeps()
    with smtp_server() as server:
        server.replies.extend(["451 4.3.0 Try again later"] * 4)
        outcomes = send(engine, replace(settings, smtp_url=server.url), sleeps=sleeps)
    assert sleeps.waits == [5, 30, 90]
    assert outcomes[0].status == "failed"
    (run,) = recent_runs(engine)
    assert (run.status, run.attempts) == ("failed", 4) and "451" in run.error


def test_the_webhook_is_retried_on_5xx_and_given_up_on_4xx(seeded, httpserver: HTTPServer) -> None:
    engine, settings = seeded
    settings = replace(settings, digest_webhook_url=httpserver.url_for("/hook"))
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("slow down", status=429)
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    sleeps = Sleeps()

    assert send(engine, settings, "chat", sleeps)[0].status == "sent"
    assert sleeps.waits == [5, 30] and len(httpserver.log) == 3

    httpserver.clear()
    httpserver.expect_request("/hook", method="POST").respond_with_data("invalid_payload", status=400)
    later = send_slot(engine, settings, SENT_AT.replace(hour=7), "manual", DAY, [Target("chat", DigestAudience())],
                      SENT_AT, RetryPolicy(sleep=sleeps))  # fmt: skip
    assert later[0].status == "failed" and "HTTP 400" in later[0].error and len(httpserver.log) == 1
    assert settings.digest_webhook_url not in later[0].error


def _digest(engine: Engine, settings: Settings):
    from digest.compose import compose_digest

    return compose_digest(engine, settings, DAY, DigestAudience(), SENT_AT)
