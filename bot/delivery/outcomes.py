"""What the outbox lanes need besides the loop: settings, claimed jobs and their results."""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.backoff import backoff
from bot.db import outbox
from bot.delivery.errors import Action, Outcome

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("bot.delivery.sender")


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """How one sender process behaves; `from_settings` maps the documented settings."""

    rate: float = 25.0
    paid_rate: float = 1000.0
    allow_paid_broadcast: bool = False
    max_attempts: int = 8
    retry_base: float = 2.0  # first retry after 1-2 s, doubling up to `retry_cap`
    retry_cap: float = 600.0
    max_in_flight: int = 0  # 0: a quarter second of sending at the full rate, 8 to 256
    lease: float = 10.0
    heartbeat_every: float = 1.0
    flush_every: float = 0.1
    backlog_seconds: float = 0.25
    idle_wait: float = 0.5

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderConfig:
        """Return the configuration the settings ask for."""
        return cls(
            rate=settings.send_rate,
            paid_rate=settings.paid_send_rate,
            allow_paid_broadcast=settings.allow_paid_broadcast,
            max_attempts=settings.send_max_attempts,
        )

    @property
    def total_rate(self) -> float:
        return self.rate + (self.paid_rate if self.allow_paid_broadcast else 0.0)

    @property
    def beat_every(self) -> float:
        """Return the heartbeat interval: never more than a fifth of the lease."""
        return min(self.heartbeat_every, self.lease / 5)

    @property
    def in_flight_limit(self) -> int:
        if self.max_in_flight > 0:
            return self.max_in_flight
        return max(8, min(256, math.ceil(self.total_rate * 0.25)))


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed outbox row with everything needed to send it."""

    delivery_id: int
    chat_id: int
    thread_id: int | None
    attempts: int
    html: str
    plain: str
    is_broadcast: bool


def backoff_seconds(attempts: int, *, base: float = 2.0, cap: float = 600.0) -> float:
    """Return the wait before retry number `attempts`: exponential, with jitter in [½, 1]."""
    return backoff(attempts, base=base, cap=cap, jitter=0.5)


def new_sender_id() -> str:
    """Return an id that names this process in logs and in the outbox_sender table."""
    host = socket.gethostname().split(".")[0][:30]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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


def log_result(job: Job, result: outbox.SendResult) -> None:
    """Log a send's outcome (sent at DEBUG, everything else at WARNING)."""
    ctx = {"chat": job.chat_id, "delivery": job.delivery_id}
    if result.state == "sent":
        log.debug("delivery %d sent to chat %d", job.delivery_id, job.chat_id, extra=ctx)
    elif result.state == "queued" and result.count_attempt and result.migrate_to is None:
        log.warning(
            "delivery %d to chat %d failed (%s); retry at %s",
            job.delivery_id,
            job.chat_id,
            result.error,
            result.at.strftime("%H:%M:%S"),
            extra=ctx,
        )
    elif result.state == "unknown":
        # A read timeout does not mean the message was not delivered (DESIGN.md §2):
        # resending could duplicate it, so the row is closed as "unknown".
        log.warning(
            "delivery %d to chat %d: outcome unknown (%s); not resent",
            job.delivery_id,
            job.chat_id,
            result.error,
            extra=ctx,
        )
    elif result.state in ("failed", "dead") and not result.deactivate:
        log.warning(
            "delivery %d to chat %d failed for good (%s): %s",
            job.delivery_id,
            job.chat_id,
            result.state,
            result.error,
            extra=ctx,
        )
