"""Drain the outbox: claim due rows, render, send at Telegram's limits, record the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.db import repo
from bot.db.engine import session_scope
from bot.db.models import utcnow
from bot.delivery.errors import Action, Outcome, classify
from bot.delivery.pacing import Pacer
from bot.delivery.render import Alert, render_alert, render_broadcast, render_plain

log = logging.getLogger(__name__)

CLAIM_BATCH = 100
MAX_IN_FLIGHT = 32
IDLE_WAIT = 0.5


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


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter for transient send failures, capped at 10 minutes."""
    base: float = min(600.0, 2.0 ** min(attempts, 10))
    return base * random.uniform(0.5, 1.0)


class Sender:
    """The only place that sends alerts and broadcasts."""

    def __init__(self, *, engine: Engine, bot: Bot, rate: float, max_attempts: int = 8) -> None:
        self.engine = engine
        self.bot = bot
        self.pacer = Pacer(rate=rate)
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    def wake(self) -> None:
        """Tell the sender new rows were queued."""
        self._wake.set()

    async def run(self) -> None:
        """Send until stopped."""
        await asyncio.to_thread(self._requeue)
        while not self._stopping:
            try:
                jobs = await asyncio.to_thread(self._claim)
            except Exception:
                log.exception("outbox claim failed; retrying")
                jobs = []
            if not jobs:
                await self._idle()
                continue
            for job in jobs:
                if self._stopping:
                    break
                await asyncio.sleep(self.pacer.global_wait())
                await self._slots.acquire()
                self.pacer.take(job.chat_id)
                task = asyncio.create_task(self._deliver(job))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
        # Whatever was claimed but not started goes back to the queue at the next start.

    async def stop(self) -> None:
        """Stop claiming and wait for sends in flight."""
        self._stopping = True
        self._wake.set()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=10)

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=IDLE_WAIT)

    def _requeue(self) -> None:
        with session_scope(self.engine) as session:
            count = repo.requeue_in_flight(session=session)
        if count:
            log.warning("requeued %d messages that were in flight at the last stop", count)

    def _claim(self) -> list[Job]:
        now = utcnow()
        with session_scope(self.engine) as session:
            rows = repo.claim_due(
                session=session,
                now=now,
                limit=CLAIM_BATCH,
                skip_chats=self.pacer.busy_chats(),
                one_per_chat=True,
            )
            if not rows:
                return []
            entries, broadcasts, names = repo.deliveries_payload(session=session, rows=rows)
            jobs = []
            for row in rows:
                assert row.id is not None
                if row.entry_id is not None and row.entry_id in entries:
                    e = entries[row.entry_id]
                    alert = Alert(
                        title=e.title,
                        summary=e.summary,
                        link=e.link,
                        source=names.get(e.feed_id, ""),
                        published=e.published_at or e.seen_at,
                    )
                    html, plain = render_alert(alert), render_plain(alert)
                elif row.broadcast_id is not None and row.broadcast_id in broadcasts:
                    text = broadcasts[row.broadcast_id].text
                    html, plain = render_broadcast(text), text[:4096]
                else:
                    repo.mark_failed(session=session, delivery_id=row.id, error="nothing to send")
                    continue
                jobs.append(
                    Job(
                        delivery_id=row.id,
                        chat_id=row.chat_id,
                        thread_id=row.thread_id,
                        attempts=row.attempts,
                        html=html,
                        plain=plain,
                        is_broadcast=row.broadcast_id is not None,
                    )
                )
            return jobs

    async def _deliver(self, job: Job) -> None:
        try:
            outcome = await self._send(job, plain=False)
            if outcome is not None and outcome.action is Action.PLAIN_TEXT:
                log.error(
                    "render bug (delivery %d): %s; resending as plain text",
                    job.delivery_id,
                    outcome.reason,
                )
                outcome = await self._send(job, plain=True)
                if outcome is not None and outcome.action is Action.PLAIN_TEXT:
                    outcome = Outcome(Action.FAIL, outcome.reason)
            if outcome is not None and outcome.action is Action.MIGRATE:
                assert outcome.new_chat_id is not None
                await asyncio.to_thread(self._migrate, job, outcome.new_chat_id)
                return
            await asyncio.to_thread(self._record, job, outcome)
        except Exception:
            log.exception("delivery %d: unexpected error", job.delivery_id)
            await asyncio.to_thread(
                self._record, job, Outcome(Action.RETRY, "unexpected error while sending")
            )
        finally:
            self._slots.release()

    async def _send(self, job: Job, *, plain: bool) -> Outcome | None:
        try:
            await self.bot.send_message(
                chat_id=job.chat_id,
                text=job.plain if plain else job.html,
                parse_mode=None if plain else ParseMode.HTML,
                message_thread_id=job.thread_id,
                link_preview_options=LinkPreviewOptions(is_disabled=job.is_broadcast),
            )
        except TelegramError as err:
            return classify(err)
        return None

    def _record(self, job: Job, outcome: Outcome | None) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            if outcome is None:
                repo.mark_sent(session=session, delivery_id=job.delivery_id, when=now)
                log.debug("delivery %d sent to chat %d", job.delivery_id, job.chat_id)
                return
            action = outcome.action
            if action is Action.RETRY_AFTER:
                wait = max(outcome.retry_after, 1.0)
                self.pacer.hold_chat(job.chat_id, wait)
                repo.mark_retry(
                    session=session,
                    delivery_id=job.delivery_id,
                    at=now + timedelta(seconds=wait),
                    error=outcome.reason,
                    count_attempt=False,
                )
                log.warning("chat %d: flood control, waiting %.0fs", job.chat_id, wait)
            elif action is Action.DEACTIVATE:
                repo.mark_failed(session=session, delivery_id=job.delivery_id, error=outcome.reason)
                cancelled = repo.deactivate_chat(
                    session=session, chat_id=job.chat_id, reason=outcome.reason
                )
                log.info(
                    "chat %d is unreachable (%s); marked inactive, %d queued messages cancelled",
                    job.chat_id,
                    outcome.reason,
                    cancelled,
                )
            elif action is Action.RETRY and job.attempts < self.max_attempts:
                delay = backoff_seconds(job.attempts)
                repo.mark_retry(
                    session=session,
                    delivery_id=job.delivery_id,
                    at=now + timedelta(seconds=delay),
                    error=outcome.reason,
                )
                log.warning(
                    "delivery %d to chat %d failed (%s); retry in %.0fs",
                    job.delivery_id,
                    job.chat_id,
                    outcome.reason,
                    delay,
                )
            elif action is Action.UNKNOWN:
                # A read timeout does not mean the message was not delivered (DESIGN.md §2):
                # resending could duplicate it, so the row is closed as "unknown".
                repo.mark_unknown(
                    session=session, delivery_id=job.delivery_id, error=outcome.reason
                )
                log.warning(
                    "delivery %d to chat %d: outcome unknown (%s); not resent",
                    job.delivery_id,
                    job.chat_id,
                    outcome.reason,
                )
            else:
                repo.mark_failed(session=session, delivery_id=job.delivery_id, error=outcome.reason)
                log.warning(
                    "delivery %d to chat %d failed for good: %s",
                    job.delivery_id,
                    job.chat_id,
                    outcome.reason,
                )

    def _migrate(self, job: Job, new_chat_id: int) -> None:
        with session_scope(self.engine) as session:
            repo.migrate_chat(session=session, old_id=job.chat_id, new_id=new_chat_id)
        log.info("chat %d moved to %d; its messages follow", job.chat_id, new_chat_id)
        self.wake()
