"""Typed settings, read from the environment and a `.env` file in the working directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.feeds.identity import hide_credentials

# Telegram tokens look like "123456789:AA..." (bot id, colon, 35 url-safe characters);
# accept a little more latitude on the secret's length than @BotFather hands out today.
TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,64}$")

TOKEN_HELP = (
    "Create a bot with @BotFather in Telegram (send /newbot), copy the token it gives you "
    "and set it: TELEGRAM_BOT_TOKEN=123456789:AA... in the environment or in .env"
)


# Telegram accepts 1-256 of these characters as a webhook's secret_token (Bot API, setWebhook);
# demand enough of them that the secret can't be guessed.
WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
WEBHOOK_SECRET_HELP = (
    "16 to 256 characters of A-Z, a-z, 0-9, _ and -, e.g. the output of "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
)


class SettingsError(Exception):
    """Settings that can't be used; the message names the variable and the fix."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the service; documented one per line in .env.example."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    database_url: str = "sqlite:///newsbot.db"
    feeds: Annotated[list[str], NoDecode] = Field(default_factory=list)
    poll_interval_seconds: int = Field(default=120, ge=1)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    allow_private_networks: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # Fetching (feeds and article pages)
    fetch_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_concurrency: int = Field(default=16, ge=1, le=256)
    feed_disable_after_errors: int = Field(default=100, ge=1)
    parse_processes: int | Literal["auto"] = "auto"
    entry_retention_days: int = Field(default=30, ge=1)
    # Stories: reports of one event grouped within this window (0: off, every report alerts);
    # edits adding sources to an alert are paced.
    story_window_hours: float = Field(default=24.0, ge=0, le=24 * 14)
    story_edit_interval_seconds: float = Field(default=600.0, ge=0, le=86400)

    # Summaries
    fetch_articles: bool = True
    article_deadline_seconds: float = Field(default=10.0, gt=0, le=300)
    summary_max_chars: int = Field(default=400, ge=80, le=2000)
    summarizer: Literal["extractive", "llm"] = "extractive"
    llm_base_url: str = ""
    llm_api_key: SecretStr | None = None
    llm_model: str = ""
    llm_max_concurrency: int = Field(default=4, ge=1, le=64)
    llm_timeout_seconds: float = Field(default=20.0, gt=0, le=300)

    # Delivery
    send_rate: float = Field(default=25.0, gt=0, le=1000)
    allow_paid_broadcast: bool = False
    paid_send_rate: float = Field(default=1000.0, gt=0, le=1000)
    send_max_attempts: int = Field(default=8, ge=1, le=100)
    reply_max_age_seconds: float = Field(default=120.0, ge=5, le=3600)

    # Production: webhook, health and metrics, logs, hot standby
    webhook_url: str = ""
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    metrics_listen: str = "0.0.0.0"
    metrics_port: int = Field(default=9090, ge=0, le=65535)
    log_format: Literal["text", "json"] = "text"
    standby_check_seconds: float = Field(default=5.0, ge=0.5, le=60)

    # newsbot shell
    sample_interval_seconds: float = Field(default=20.0, ge=0.1, le=3600)

    # Topic catalog (YAML or TOML); empty: the built-in catalog
    topics_file: Path | None = None

    @field_validator("topics_file", mode="before")
    @classmethod
    def _blank_path(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("feeds", mode="before")
    @classmethod
    def _feeds_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admins_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("parse_processes")
    @classmethod
    def _processes(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value <= 32:
            raise ValueError("must be auto, or 0 (parse in threads) to 32 processes")
        return value

    @field_validator("feeds")
    @classmethod
    def _feed_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return list(dict.fromkeys(value))

    @field_validator("telegram_bot_token", "llm_api_key", "webhook_secret", mode="before")
    @classmethod
    def _blank_secret(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(r"^https://[^\s/?#]+[^\s]*$", value, re.IGNORECASE):
            raise ValueError("must be an https:// URL (Telegram delivers webhooks over HTTPS only)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET_RE.match(value.get_secret_value()):
            raise ValueError(f"must be {WEBHOOK_SECRET_HELP}")
        if value is None and info.data.get("webhook_url"):
            raise ValueError(f"is required when WEBHOOK_URL is set: {WEBHOOK_SECRET_HELP}")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("summarizer", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _llm_complete(self) -> Settings:
        if self.summarizer == "llm":
            missing = [
                name
                for name, value in (
                    ("LLM_BASE_URL", self.llm_base_url),
                    ("LLM_MODEL", self.llm_model),
                )
                if not value.strip()
            ]
            if missing:
                raise ValueError(f"SUMMARIZER=llm needs {' and '.join(missing)}")
            if not re.match(r"^https?://", self.llm_base_url, re.IGNORECASE):
                raise ValueError("LLM_BASE_URL must be an http(s) URL")
        return self

    def bot_token(self) -> str:
        """Return the token, or raise SettingsError saying how to get one."""
        if self.telegram_bot_token is None:
            raise SettingsError(f"TELEGRAM_BOT_TOKEN is not set. {TOKEN_HELP}")
        token = self.telegram_bot_token.get_secret_value()
        if not TOKEN_RE.match(token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (expected digits, a colon "
                f"and a long secret). {TOKEN_HELP}"
            )
        return token


def describe_validation_error(err: ValidationError) -> str:
    """Turn pydantic's report into one line per bad variable, without echoing secrets.

    Credentials in URLs (`https://user:password@host/`) never show either.
    """
    lines = []
    for problem in err.errors():
        name = str(problem["loc"][0]).upper() if problem["loc"] else "SUMMARIZER"
        msg = problem["msg"].removeprefix("Value error, ")
        secret = any(word in name.lower() for word in ("token", "key", "secret"))
        if secret or not problem["loc"]:
            lines.append(f"{name}: {msg}")
        else:
            lines.append(f"{name}: {msg} (got {problem.get('input')!r})")
    return hide_credentials("Invalid settings: " + "; ".join(lines))


def get_settings(**overrides: object) -> Settings:
    """Build settings now (never at import), raising SettingsError with a clear message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(describe_validation_error(err)) from None
