"""[digest] in kpi.toml and the digest's environment variables: read into settings, and every mistake one clear
line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import ConfigError, DigestAudience, DigestRecipient, load_kpi_rules, load_settings


def test_the_digest_section_is_read(tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(
        '[digest]\ntime = "06:05"\ndays = ["Mon", "friday"]\ncatch_up_hours = 1.5\n'
        '[[digest.recipients]]\nemail = "lead@example.com"\ngroups = ["Support"]\npages = ["cases", "redmine"]\n'
        '[[digest.recipients]]\nemail = "boss@example.com"\n'
        '[digest.chat]\npages = ["sales"]\n'
    )
    rules = load_kpi_rules(path).digest
    assert rules.time == (6, 5)
    assert rules.days == (0, 4)
    assert rules.catch_up_hours == 1.5
    assert rules.recipients == (
        DigestRecipient("lead@example.com", DigestAudience(("Support",), ("cases", "redmine"))),
        DigestRecipient("boss@example.com", DigestAudience((), ("cases", "sales", "redmine"))),
    )
    assert rules.chat == DigestAudience((), ("sales",))


def test_a_recipient_may_name_redmine_projects(tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(
        '[[digest.recipients]]\nemail = "pm@example.com"\nprojects = ["Portal", "Firmware"]\n'
        '[[digest.recipients]]\nemail = "lead@example.com"\ngroups = ["Support"]\n'
        '[digest.chat]\nprojects = ["Portal"]\npages = ["redmine"]\n'
    )
    rules = load_kpi_rules(path).digest
    assert [recipient.audience.projects for recipient in rules.recipients] == [("Portal", "Firmware"), ()]
    assert rules.recipients[0].audience.pages == ("cases", "sales", "redmine")
    assert rules.chat == DigestAudience((), ("redmine",), ("Portal",))


def test_the_example_file_sends_nothing() -> None:
    rules = load_kpi_rules(Path(__file__).resolve().parent.parent / "kpi.example.toml").digest
    assert rules.time == (7, 30) and rules.days == (0, 1, 2, 3, 4) and rules.recipients == ()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[digest]\ntime = "7.30"\n', 'digest.time must be a local time of day such as "07:30"'),
        ('[digest]\ntime = "24:00"\n', "digest.time must be a local time of day"),
        ('[digest]\ndays = ["mon", "funday"]\n', "digest.days must list days of the week"),
        ("[digest]\ndays = []\n", "digest.days must list days of the week"),
        ("[digest]\nwhen = 1\n", "digest.when is not a known key"),
        ('[[digest.recipients]]\nemail = "not an address"\n', "digest.recipients[0].email must be an e-mail address"),
        ('[[digest.recipients]]\nemail = "a@example.com"\npages = ["support"]\n',
         "digest.recipients[0].pages must list pages among cases, sales, redmine"),
        ('[[digest.recipients]]\nemail = "a@example.com"\nteam = "x"\n', "digest.recipients[0].team is not a known"),
        ('[digest.chat]\ngroups = "Support"\n', "digest.chat.groups must be a list of non-empty strings"),
        ('[[digest.recipients]]\nemail = "a@example.com"\nprojects = "Portal"\n',
         "digest.recipients[0].projects must be a list of non-empty strings"),
        ('[[digest.recipients]]\nemail = "a@example.com"\nprojects = [""]\n',
         "digest.recipients[0].projects must be a list of non-empty strings"),
        ('[[digest.recipients]]\nemail = "a@example.com"\nprojects = ["Portal"]\npages = ["cases"]\n',
         "digest.recipients[0].projects names Redmine projects but pages leaves out redmine"),
        ('[digest.chat]\nprojects = ["Portal"]\npages = ["sales"]\n',
         "digest.chat.projects names Redmine projects but pages leaves out redmine"),
        ("[digest]\nrecipients = 3\n", "digest.recipients must be an array of tables"),
    ],
)  # fmt: skip
def test_a_bad_digest_section_names_the_key(toml: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_kpi_rules(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_digest_environment_is_read() -> None:
    settings = load_settings(
        {
            "SMTP_URL": "smtps://kpi:p%40ss@mail.example.com:465",
            "DIGEST_FROM": "kpi@example.com",
            "DIGEST_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X",
            "PUBLIC_URL": "https://kpi.example.com/",
        },
        env_file=None,
        credentials_file=None,
    )
    assert settings.smtp_url == "smtps://kpi:p%40ss@mail.example.com:465"
    assert settings.public_url == "https://kpi.example.com"
    assert (settings.digest_from, settings.digest_webhook_url) == (
        "kpi@example.com",
        "https://hooks.slack.com/services/T/B/X",
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("SMTP_URL", "mail.example.com:587", "SMTP_URL must look like smtp://user:password@mail.example.com:587"),
        ("SMTP_URL", "http://mail.example.com", "SMTP_URL must look like"),
        ("SMTP_URL", "smtp://mail.example.com:port", "SMTP_URL is not a URL"),
        ("DIGEST_FROM", "kpi at example", "DIGEST_FROM must be an e-mail address"),
        ("DIGEST_WEBHOOK_URL", "hooks.slack.com/x", "DIGEST_WEBHOOK_URL must start with http:// or https://"),
        ("PUBLIC_URL", "kpi.example.com", "PUBLIC_URL must start with http:// or https://"),
    ],
)
def test_a_bad_digest_variable_names_itself(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({key: value}, env_file=None, credentials_file=None)
    assert message in str(caught.value)


def test_recipients_without_a_mail_server_stop_start_up(tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text('[[digest.recipients]]\nemail = "lead@example.com"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings({"KPI_CONFIG": str(path)}, env_file=None, credentials_file=None)
    assert str(caught.value) == f"SMTP_URL is empty but {path} lists digest recipients: set SMTP_URL, or remove them"
    with pytest.raises(ConfigError, match="DIGEST_FROM is empty"):
        load_settings({"KPI_CONFIG": str(path), "SMTP_URL": "smtp://127.0.0.1"}, env_file=None, credentials_file=None)
    settings = load_settings(
        {"KPI_CONFIG": str(path), "SMTP_URL": "smtp://127.0.0.1:25", "DIGEST_FROM": "kpi@example.com"},
        env_file=None,
        credentials_file=None,
    )
    assert [recipient.email for recipient in settings.kpi.digest.recipients] == ["lead@example.com"]
