"""Secrets out of logs: known secret values and token-looking parameters are replaced in every log record of the
process, and whatever a request sent is shown on one line (a CR or LF must not start a forged log line)."""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from settings import Settings

_REDACT_MIN_LENGTH = 8
_redacted_values: set[str] = set()
_redaction_lock = threading.Lock()
_factory_installed = False
# Kiosk tokens travel once in a URL (/tv?kiosk=...); access logs print request lines. Also bearer/basic headers.
_TOKEN_PATTERNS = (
    re.compile(r"(kiosk=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"((?:access_token|id_token|refresh_token|client_secret)[\"']?\s*[=:]\s*[\"']?)[^&\s\"',}]+"),
    re.compile(r"([?&](?:code|state)=)[^&\s\"']+"),  # the OAuth callback's query, in access logs
    re.compile(r"(Authorization[\"']?\s*[:=]\s*[\"']?(?:Bearer|Basic)\s+)[^\s\"',}]+", re.IGNORECASE),
)
# Libraries that print client secrets, authorization codes or tokens at DEBUG level.
CHATTY_LOGGERS = ("flask_dance", "oauthlib", "requests_oauthlib")


# C0 control characters and DEL, shown escaped: a CR or LF from a request must not start a forged log line.
_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def has_control_characters(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


def escape_controls(text: str) -> str:
    """`text` on one line: CR, LF, tab and the other control characters as backslash escapes.

    The one helper for anything a request sent that ends up in a log line; the log record factory applies it to
    every argument of every record, so `log.info("... %s", request_value)` is safe whichever logger writes it."""
    return text.translate(_CONTROL_ESCAPES)


class _OneLine:
    """A log argument shown through escape_controls, whether the format asks for %s or %r."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return escape_controls(str(self.value))

    def __repr__(self) -> str:
        return escape_controls(repr(self.value))


def _one_line_arg(value: Any) -> Any:
    if value is None or isinstance(value, int | float):  # bool is an int; %d and %f keep working
        return value
    return _OneLine(value)


class _OneLineMapping(Mapping[Any, Any]):
    """Mapping arguments (gunicorn's access log atoms) escaped on lookup: the wrapped mapping keeps answering its
    own way (gunicorn's answers "-" for a header the request lacks)."""

    def __init__(self, mapping: Mapping[Any, Any]) -> None:
        self.mapping = mapping

    def __getitem__(self, key: Any) -> Any:
        return _one_line_arg(self.mapping[key])

    def __iter__(self) -> Any:
        return iter(self.mapping)

    def __len__(self) -> int:
        return len(self.mapping)


def _one_line_args(args: Any) -> Any:
    if isinstance(args, Mapping):
        return _OneLineMapping(args)
    if isinstance(args, tuple):
        return tuple(_one_line_arg(value) for value in args)
    return args


def redact(text: str) -> str:
    for value in sorted(_redacted_values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "[redacted]")
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Every log record of this process has known secret values and token-looking parameters replaced.

    A record factory (not a handler filter) so that handlers added later (gunicorn's, pytest's) are covered too."""
    global _factory_installed
    with _redaction_lock:
        _redacted_values.update(value for value in secrets if value and len(value) >= _REDACT_MIN_LENGTH)
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True
    for name in CHATTY_LOGGERS:
        # Their own level, not the inherited one: a root logger switched to DEBUG later must not turn them on.
        if logging.getLogger(name).level < logging.INFO:
            logging.getLogger(name).setLevel(logging.INFO)


def _redact_record(record: logging.LogRecord) -> None:
    if record.args:
        record.args = _one_line_args(record.args)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is the caller's bug; keep the raw template
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))


def settings_secrets(settings: Settings) -> list[str]:
    values = [settings.secret_key, settings.google_client_secret]
    if settings.vtiger is not None:
        values.append(settings.vtiger.access_key)
    if settings.redmine is not None:
        values.extend([settings.redmine.api_key, settings.redmine.password])
    return [value for value in values if value]
