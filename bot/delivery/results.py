"""Writing down what happened to each send: outcomes recorded in batches, and logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlmodel import Session

from bot.db import outbox
from bot.delivery.jobs import Job

log = logging.getLogger("bot.delivery.sender")

T = TypeVar("T")
Db = Callable[[Callable[[Session], T]], Awaitable[T]]


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


class Results:
    """Send outcomes waiting to be written, and the loop that writes them in batches.

    A message is "in flight" from the moment it is sent until its batch is committed.
    """

    def __init__(
        self, *, owner: str, db: Db[outbox.RecordReport], every: float, retry_wait: float
    ) -> None:
        self.owner = owner
        self._db = db
        self._every = every
        self._retry_wait = retry_wait
        self._pending: list[outbox.SendResult] = []
        self._ready = asyncio.Event()
        self.on_requeue: Callable[[], None] = lambda: None

    def add(self, result: outbox.SendResult) -> None:
        """Queue an outcome for the next batch."""
        self._pending.append(result)
        self._ready.set()

    async def run(self) -> None:
        """Write a batch every `every` seconds while there are outcomes, until cancelled."""
        while True:
            await self._ready.wait()
            await asyncio.sleep(self._every)
            await self.flush()

    async def flush(self) -> None:
        """Write the outcomes queued so far; on failure keep them for the next try."""
        if not self._pending:
            self._ready.clear()
            return
        batch, self._pending = self._pending, []
        self._ready.clear()
        owner = self.owner
        try:
            report = await self._db(
                lambda s: outbox.record_results(session=s, owner=owner, results=batch)
            )
        except Exception as err:
            log.warning("could not record %d send outcomes (%s); retrying", len(batch), err)
            self._pending[:0] = batch
            self._ready.set()
            await asyncio.sleep(self._retry_wait)
            return
        for chat, cancelled in report.deactivated:
            log.info(
                "chat %d is unreachable; marked inactive, %d queued messages cancelled",
                chat,
                cancelled,
                extra={"chat": chat},
            )
        for old, new in report.migrated:
            log.info("chat %d moved to %d; its messages follow", old, new, extra={"chat": new})
        if report.migrated or report.retried:
            self.on_requeue()
