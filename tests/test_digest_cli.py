"""`digest preview` and `digest send --now` through Flask's CLI runner, against a real SMTP server on loopback; and
the /status "Digest" section (its rows, and in Chromium)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import Engine, update

from app import create_app
from callbacks import status as status_callbacks
from digest import runs
from digest.runs import recent_runs
from models.schema import digest_runs
from settings import DigestAudience, DigestRecipient, Settings
from tests.browser import console_errors, screenshot, wait_for
from tests.digest_seed import DAY, digest_settings, seed_digest_week
from tests.digest_smtp import smtp_server
from web.runtime import Runtime


@pytest.fixture
def digest_app_settings(sqlite_engine: Engine, settings_for) -> Settings:
    seed_digest_week(sqlite_engine)
    settings = digest_settings(settings_for(str(sqlite_engine.url)))
    lead = DigestRecipient("lead@example.com", DigestAudience(("Hardware",), ("cases",)))
    rules = replace(settings.kpi.digest, recipients=(lead, DigestRecipient("boss@example.com")))
    return replace(settings, kpi=replace(settings.kpi, digest=rules), digest_from="kpi@example.com")


def test_preview_writes_the_html_and_prints_the_text(digest_app_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "preview.html"
    runner = create_app(digest_app_settings).server.test_cli_runner()

    result = runner.invoke(args=["digest", "preview", "--date", DAY.isoformat(), "--out", str(out)])

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("KPI digest · Wed 2 Dec 2026")
    assert "CASES · All groups" in result.stdout and "SALES · All groups" in result.stdout
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "KPI digest · Wed 2 Dec 2026" in html
    assert f"HTML written to {out}" in result.stderr
    # --to shows what that recipient gets: the lead's Hardware cases only.
    lead = runner.invoke(args=["digest", "preview", "--date", "2026-12-02", "--to", "lead@example.com", "--out",
                               str(out)])  # fmt: skip
    assert "CASES · Hardware" in lead.stdout and "SALES" not in lead.stdout and "REDMINE" not in lead.stdout
    assert recent_runs(create_app(digest_app_settings).server.extensions["kpi"].engine) == []  # nothing recorded


def test_preview_refuses_a_bad_date(digest_app_settings: Settings) -> None:
    result = (
        create_app(digest_app_settings)
        .server.test_cli_runner()
        .invoke(args=["digest", "preview", "--date", "2.12.2026"])
    )
    assert result.exit_code == 1 and result.stderr.strip() == "--date must be a date like 2026-12-02 (got '2.12.2026')"


def test_send_now_sends_and_records_like_a_scheduled_run(digest_app_settings: Settings) -> None:
    with smtp_server() as server:
        settings = replace(digest_app_settings, smtp_url=server.url)
        app = create_app(settings)
        result = app.server.test_cli_runner().invoke(args=["digest", "send", "--now", "--date", "2026-12-02"])
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == ["lead@example.com: sent", "boss@example.com: sent"]
        assert sorted(to for _, recipients in server.mailbox.envelopes for to in recipients) == [
            "boss@example.com",
            "lead@example.com",
        ]
        one = app.server.test_cli_runner().invoke(args=["digest", "send", "--now", "--to", "someone@example.com"])
        assert one.exit_code == 0 and one.stdout.strip() == "someone@example.com: sent"
    rows = recent_runs(app.server.extensions["kpi"].engine)
    assert {(run.trigger, run.status) for run in rows} == {("manual", "sent")}
    assert sorted(run.recipient for run in rows) == ["boss@example.com", "lead@example.com", "someone@example.com"]


def test_send_without_smtp_is_one_clear_line(digest_app_settings: Settings) -> None:
    result = create_app(digest_app_settings).server.test_cli_runner().invoke(args=["digest", "send", "--now"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "digest send: SMTP_URL is empty: set it (smtp://user:password@host:587) to e-mail the digest"
    )


def test_send_needs_now(digest_app_settings: Settings) -> None:
    result = create_app(digest_app_settings).server.test_cli_runner().invoke(args=["digest", "send"])
    assert result.exit_code != 0 and "--now" in result.output


# --- /status ---------------------------------------------------------------------------------------------------


@pytest.fixture
def settings(digest_app_settings: Settings) -> Settings:
    """The app of the `app` and `live_server` fixtures: the seeded digest settings, signed in."""
    return replace(digest_app_settings, auth_disabled=True)


def record(engine: Engine) -> None:
    """A sent run (second attempt), a failed one and one cut off mid-send three hours ago."""
    now = runs.utcnow()
    sent = runs.claim(engine, now - timedelta(days=1), "schedule", "lead@example.com", DAY)
    assert sent is not None
    runs.note_attempt(engine, sent, 2)
    runs.finish(engine, sent, "sent")
    failed = runs.claim(engine, now - timedelta(days=1), "schedule", "chat", DAY)
    assert failed is not None
    runs.finish(engine, failed, "failed", "webhook answered HTTP 404 no_service (permanent)")
    cut = runs.claim(engine, now - timedelta(hours=3), "manual", "boss@example.com", DAY)
    with engine.begin() as conn:
        conn.execute(update(digest_runs).where(digest_runs.c.id == cut).values(claimed_at=now - timedelta(hours=3)))


def test_the_status_rows_show_each_run_and_an_interrupted_one(settings: Settings, sqlite_engine: Engine) -> None:
    record(sqlite_engine)
    rows = status_callbacks.digest_rows(Runtime(settings=settings, engine=sqlite_engine))

    assert [(row["Recipient"], row["Result"], row["Attempts"]) for row in rows] == [
        ("chat", "failed", 0),
        ("lead@example.com", "sent", 2),
        ("boss@example.com", "interrupted", 0),
    ]
    assert rows[0]["Error"] == "webhook answered HTTP 404 no_service (permanent)"
    assert rows[2]["Error"] == status_callbacks.INTERRUPTED_TEXT and rows[2]["Finished"] == "—"
    text = status_callbacks.digest_schedule_text(settings, runs.utcnow())
    assert text.startswith("Next digest ") and text.endswith(" 07:30 to 2 addresses.")
    nobody = replace(settings.kpi.digest, recipients=())
    text = status_callbacks.digest_schedule_text(
        replace(settings, kpi=replace(settings.kpi, digest=nobody)), runs.utcnow()
    )
    assert text.startswith("No digest configured")


@pytest.mark.browser
def test_the_status_page_lists_the_digest_runs(app, live_server, browser, sqlite_engine: Engine) -> None:
    record(sqlite_engine)
    browser.get(live_server.url + "/status")
    rows = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#status-digest-rows tbody tr"), message="runs")
    assert [row.find_elements(By.TAG_NAME, "td")[4].text for row in rows] == ["failed", "sent", "interrupted"]
    section = browser.find_element(By.ID, "status-digest")
    assert section.is_displayed() and "HTTP 404 no_service" in section.text
    assert "Next digest" in browser.find_element(By.ID, "status-digest-schedule").text
    assert "None" not in section.text and "NaT" not in section.text
    width = browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 0  # no sideways scroll
    screenshot(browser, "status-digest-1280")
    assert console_errors(browser) == []


def test_preview_on_a_database_without_tables_is_one_line(settings_for, tmp_path: Path) -> None:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'empty.db'}"))
    result = app.server.test_cli_runner().invoke(args=["digest", "preview", "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 1
    assert result.stderr.startswith("digest preview failed: no such table") and result.stderr.count("\n") == 1
