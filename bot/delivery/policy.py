"""What follows a send: Bot API errors mapped to an action (DESIGN.md §2), and the outcome an
outbox row gets from it (sent, queued again after a wait, failed, dead or unknown)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.backoff import backoff
from bot.db import outbox
from bot.delivery.jobs import Job, SenderConfig


class Action(Enum):
    RETRY_AFTER = "retry_after"  # 429: wait the given time, do not count an attempt
    DEACTIVATE = "deactivate"  # 403 or chat not found: stop sending to the chat
    MIGRATE = "migrate"  # group became a supergroup: move and resend
    PLAIN_TEXT = "plain_text"  # our HTML or length was wrong: resend once as plain text
    RETRY = "retry"  # not sent (5xx, connection refused, pool timeout): back off and retry
    UNKNOWN = "unknown"  # the request may have reached Telegram: don't resend blindly
    FAIL = "fail"  # any other refusal: resending won't help


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    reason: str
    retry_after: float = 0.0
    new_chat_id: int | None = None


# A rejected token (revoked in @BotFather) stops every send: wait a minute, as for a
# bot-wide 429, rather than fail messages that will go out once the token is fixed.
TOKEN_PAUSE = 60.0

# The request never left this process, or Telegram never read it whole (the connection
# failed before the last byte was written; an HTTP server acts on whole requests only):
# safe to resend.
_NOT_SENT = (
    httpx.PoolTimeout,
    httpx.ConnectTimeout,
    httpx.ConnectError,
    httpx.WriteTimeout,
    httpx.WriteError,
)


def classify(err: TelegramError) -> Outcome:
    """Decide what to do with a failed send."""
    if isinstance(err, RetryAfter):
        with warnings.catch_warnings():
            # PTB 22.2+ warns that retry_after becomes a timedelta; accept both shapes.
            warnings.simplefilter("ignore")
            seconds = err.retry_after
        wait = seconds.total_seconds() if hasattr(seconds, "total_seconds") else float(seconds)
        return Outcome(
            Action.RETRY_AFTER, f"flood control: retry after {wait:g}s", retry_after=wait
        )
    if isinstance(err, InvalidToken):
        return Outcome(
            Action.RETRY_AFTER, "the bot token was rejected; waiting", retry_after=TOKEN_PAUSE
        )
    if isinstance(err, ChatMigrated):
        return Outcome(Action.MIGRATE, "chat migrated", new_chat_id=int(err.new_chat_id))
    if isinstance(err, Forbidden):
        return Outcome(Action.DEACTIVATE, err.message)
    if isinstance(err, BadRequest):
        text = err.message.lower()
        if "chat not found" in text or "user is deactivated" in text:
            return Outcome(Action.DEACTIVATE, err.message)
        if "can't parse entities" in text or "message is too long" in text:
            return Outcome(Action.PLAIN_TEXT, err.message)
        return Outcome(Action.FAIL, err.message)
    if isinstance(err, TimedOut | NetworkError):
        cause = err.__cause__
        if isinstance(err, TimedOut) and cause is None and "pool timeout" in err.message.lower():
            return Outcome(Action.RETRY, err.message)
        if isinstance(cause, _NOT_SENT) or (cause is None and not isinstance(err, TimedOut)):
            # Bad Gateway and other 5xx arrive as NetworkError without an httpx cause.
            return Outcome(Action.RETRY, err.message)
        return Outcome(Action.UNKNOWN, err.message or type(cause).__name__)
    return Outcome(Action.FAIL, err.message)


def is_link_failure(err: TelegramError) -> bool:
    """Tell whether a failed call says the link to the Bot API is down (no answer from
    Telegram, or a 5xx from its front end), as opposed to an answer about this call."""
    if isinstance(err, BadRequest | Forbidden | RetryAfter | ChatMigrated | InvalidToken):
        return False
    if isinstance(err, TimedOut) and "pool timeout" in err.message.lower():
        return False  # our own connection pool was full: says nothing about the link
    return isinstance(err, NetworkError)


# -- after a send ------------------------------------------------------------------------------


def backoff_seconds(attempts: int, *, base: float = 2.0, cap: float = 600.0) -> float:
    """Return the wait before retry number `attempts`: exponential, with jitter in [½, 1]."""
    return backoff(attempts, base=base, cap=cap, jitter=0.5)


def result_for(
    job: Job,
    outcome: Outcome | None,
    *,
    now: datetime,
    config: SenderConfig,
) -> outbox.SendResult:
    """Decide what to write for a finished send (pure; 429 pacing is the caller's)."""
    d, c = job.delivery_id, job.chat_id
    if outcome is None:
        return outbox.SendResult(delivery_id=d, chat_id=c, state="sent", at=now)
    action, reason = outcome.action, outcome.reason
    if action is Action.RETRY_AFTER:
        until = now + timedelta(seconds=max(outcome.retry_after, 1.0))
        return outbox.SendResult(
            delivery_id=d,
            chat_id=c,
            state="queued",
            at=until,
            error=reason,
            count_attempt=False,
            hold_chat_until=until,
        )
    if action is Action.DEACTIVATE:
        return outbox.SendResult(
            delivery_id=d, chat_id=c, state="failed", at=now, error=reason, deactivate=True
        )
    if action is Action.MIGRATE:
        return outbox.SendResult(
            delivery_id=d,
            chat_id=c,
            state="queued",
            at=now,
            error=reason,
            migrate_to=outcome.new_chat_id,
        )
    if action is Action.RETRY:
        if job.attempts < config.max_attempts:
            delay = backoff_seconds(job.attempts, base=config.retry_base, cap=config.retry_cap)
            at = now + timedelta(seconds=delay)
            return outbox.SendResult(delivery_id=d, chat_id=c, state="queued", at=at, error=reason)
        reason = f"gave up after {job.attempts} attempts: {reason}"
        return outbox.SendResult(delivery_id=d, chat_id=c, state="dead", at=now, error=reason)
    if action is Action.UNKNOWN:
        return outbox.SendResult(delivery_id=d, chat_id=c, state="unknown", at=now, error=reason)
    return outbox.SendResult(delivery_id=d, chat_id=c, state="failed", at=now, error=reason)
