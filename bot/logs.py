"""Logging set-up: one line per event, and never the bot token."""

from __future__ import annotations

import logging
import re

# The token appears in every Bot API URL (".../bot<token>/method"); hide it wherever it shows up.
_TOKEN_RE = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,64}")


class RedactTokens(logging.Filter):
    """Replace anything shaped like a bot token, and the configured token, with a marker."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return _TOKEN_RE.sub("<token>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so the formatter prints the clean copy.
            formatter = logging.Formatter()
            record.exc_text = self.redact(formatter.formatException(record.exc_info))
            record.exc_info = None
            clean = f"{clean}\n{record.exc_text}"
            record.exc_text = None
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


def setup_logging(level: str, *, secrets: list[str] | None = None) -> None:
    """Configure the root logger; quiet the libraries whose INFO lines carry URLs."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.addFilter(RedactTokens(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for name in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
