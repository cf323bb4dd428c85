"""Logging set-up: one line per event with stable keys, as text or JSON, and never a secret.

Pass context as `extra`, e.g. `log.info("feed failed", extra={"feed": 3})`; it is rendered
as `feed=3` in text lines and as a field of its own in JSON lines.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]

# The token appears in every Bot API URL (".../bot<token>/method"); hide it wherever it shows up.
_TOKEN_RE = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,64}")
MARKER = "<redacted>"

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_BARE_VALUE = re.compile(r"^[^\s\"=]+$")


class Redactor:
    """Replace the configured secrets, and anything shaped like a bot token, with a marker."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a token is replaced whole before its secret half is.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MARKER)
        return _TOKEN_RE.sub(MARKER, text)


class RedactTokens(logging.Filter):
    """Redact a record's message, arguments, context values and traceback in place."""

    def __init__(self, secrets: Iterable[str | None] | None = None) -> None:
        super().__init__()
        self.redact = Redactor(secrets or ())

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in context(record).items():
            if isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


def context(record: logging.LogRecord) -> dict[str, Any]:
    """Return the record's `extra` fields, in the order they were given."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if _BARE_VALUE.match(text) else json.dumps(text, ensure_ascii=False)


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class TextFormatter(logging.Formatter):
    """`2026-05-12T14:05:03.120Z INFO bot.ingest.watcher: message key=value ...` on one line.

    An exception logged at ERROR or above carries its traceback (newlines escaped); below
    that, only its last line (`error=...`): library debug output is full of expected ones.
    """

    def __init__(self, redact: Redactor | None = None, *, tracebacks: bool = True) -> None:
        super().__init__()
        self.redact = redact or Redactor()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"{_timestamp(record)} {record.levelname} {record.name}: "
            + _one_line(record.getMessage())
        ]
        parts.extend(f"{key}={_value(value)}" for key, value in context(record).items())
        trace = _trace(record, self)
        if trace and self.tracebacks and record.levelno >= logging.ERROR:
            parts.append(f"traceback={json.dumps(trace, ensure_ascii=False)}")
        elif trace:
            parts.append(f"error={_value(_last_line(trace))}")
        return self.redact(" ".join(parts))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the context fields, traceback."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": self.redact(record.getMessage()),
        }
        for key, value in context(record).items():
            if key not in event:
                event[key] = self.redact(value) if isinstance(value, str) else value
        trace = _trace(record, self)
        if trace and record.levelno >= logging.ERROR:
            event["traceback"] = self.redact(trace)
        elif trace:
            event["error"] = self.redact(_last_line(trace))
        return json.dumps(event, ensure_ascii=False, default=lambda v: self.redact(str(v)))


def _last_line(trace: str) -> str:
    """Return the exception line of a formatted traceback ("ValueError: boom")."""
    lines = [line for line in trace.splitlines() if line.strip() and not line.startswith(" ")]
    return lines[-1] if lines else trace.strip()


def _trace(record: logging.LogRecord, formatter: logging.Formatter) -> str:
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    pieces = [p for p in (record.exc_text, record.stack_info) if p]
    return "\n".join(pieces)


def setup_logging(
    level: str,
    *,
    secrets: Iterable[str | None] | None = None,
    fmt: LogFormat = "text",
    stream: TextIO | None = None,
    tracebacks: bool = True,
) -> None:
    """Configure the root logger; quiet the libraries whose INFO lines carry URLs.

    With `tracebacks=False` (the shell, where people read the output), an exception is
    shown as its last line only.
    """
    redact = Redactor(secrets or ())
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter(redact) if fmt == "json" else TextFormatter(redact, tracebacks=tracebacks)
    )
    handler.setFormatter(formatter)
    handler.addFilter(RedactTokens(redact.secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token; the
    # scheduler and Alembic's plugin set-up are only chatty there.
    for name in ("httpx", "httpcore", "apscheduler", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # One line per request on the webhook port is noise; failures are still logged.
    logging.getLogger("tornado.access").setLevel(max(logging.WARNING, root.level))


def secrets_of(token: str | None, *others: str | None) -> list[str]:
    """Return what must never be logged: the token, its secret half, and the other secrets."""
    found: list[str] = []
    if token:
        found.append(token)
        found.append(token.partition(":")[2])
    found.extend(s for s in others if s)
    return found
