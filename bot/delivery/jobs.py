"""A sender's configuration and the claimed outbox rows it sends."""

from __future__ import annotations

import math
import os
import socket
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telegram import InlineKeyboardMarkup

    from bot.config import Settings


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
    silent: bool = False  # the chat's quiet hours: no notification
    previews: bool = True  # the chat's link previews setting
    # The buttons under an alert (its chat's matched topic), if any.
    reply_markup: InlineKeyboardMarkup | None = None
    # Set for an edit of a sent alert (its story's other sources): the message to edit.
    edit_message_id: int | None = None


def new_sender_id() -> str:
    """Return an id that names this process in logs and in the outbox_sender table."""
    host = socket.gethostname().split(".")[0][:30]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
