"""Drain the outbox: claim due rows, render, send at Telegram's limits, record the outcome.

One `Sender` runs per process; several processes may share a PostgreSQL database.

- **Claims and leases.** A claim marks rows "sending" with this sender's id. Each sender
  beats a heartbeat row (`outbox_sender`) every second; rows held by a sender silent for
  `lease` seconds go back to the queue. A sender whose own heartbeat could not be written
  for half that time starts no more sends and gives its unsent claims back, so it does not
  race a sender that may take them over. After `kill -9` the dead sender's rows (the ones
  in flight and a fraction of a second of claimed backlog) are sent again once its lease
  runs out; a clean stop hands unsent claims back at once.
- **Rate shares.** The heartbeat also tells each sender how many are alive; each takes
  1/n of SEND_RATE (and of PAID_SEND_RATE), and chats are split among them by chat id, so
  per-chat spacing holds across processes too. Heartbeats rather than a shared token
  bucket row: no database round trip per message, and the heartbeat is needed for the
  leases anyway. A starting sender beats twice a heartbeat apart and, when it finds others,
  waits another heartbeat and a half before sending, so they have cut their share first.
- **Priorities.** Alerts are claimed before broadcasts and jump ahead of claimed broadcasts;
  a sender holds only about a quarter second of claimed work, so a breaking alert waits
  behind at most that much of a large broadcast.
- **Batched writes.** Outcomes are written together every 100 ms; a message is "in flight"
  from the moment it is sent until its batch is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import metrics
from bot.db import outbox
from bot.db.engine import session_scope
from bot.db.models import Delivery, Entry, utcnow
from bot.delivery.errors import Action, Outcome, classify
from bot.delivery.pacing import Pacer
from bot.delivery.render import (
    Alert,
    render_alert,
    render_broadcast,
    render_broadcast_plain,
    render_plain,
)

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

PAYLOAD_CACHE = 512
# Outcomes where the message did not reach the chat, so the chat's spacing doesn't apply.
NOT_SENT = (Action.RETRY, Action.MIGRATE, Action.DEACTIVATE)
# Waits shorter than this are slept through without listening for wake-ups (cheaper).
SHORT_WAIT = 0.01


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
    delay = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 30))
    return delay * random.uniform(0.5, 1.0)


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


class Sender:
    """The only place that sends alerts and broadcasts."""

    def __init__(
        self,
        *,
        engine: Engine,
        bot: Bot,
        config: SenderConfig | None = None,
        owns_bot: bool = False,
        sender_id: str | None = None,
        alert_html: Callable[[Alert], str] = render_alert,
    ) -> None:
        self.engine = engine
        self.bot = bot
        self.config = config or SenderConfig()
        self.id = sender_id or new_sender_id()
        self.pacer = Pacer(rate=self.config.rate, paid_rate=self.config.paid_rate)
        self._owns_bot = owns_bot
        self._alert_html = alert_html
        self._paid = self.config.allow_paid_broadcast
        self._wake = asyncio.Event()
        self._stopping = False
        self._finished = asyncio.Event()
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._alerts: list[Job] = []
        self._broadcasts: list[Job] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.config.in_flight_limit)
        self._results: list[outbox.SendResult] = []
        self._results_ready = asyncio.Event()
        self._db_lock = asyncio.Lock()
        self._shard = (0, 1)
        self._live: list[str] = []
        self._last_beat = -math.inf
        self._next_claim = 0.0
        # What claimed rows need, loaded once per story or broadcast (see _load_payload).
        self._entries: dict[int, Entry] = {}
        self._alert_texts: dict[int, tuple[str, str]] = {}
        self._broadcast_texts: dict[int, tuple[str, str]] = {}
        self.sent = 0

    # -- lifecycle -------------------------------------------------------------------------

    def wake(self) -> None:
        """Tell the sender new rows were queued (safe to call from any thread)."""
        self._next_claim = 0.0
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Send until stopped."""
        helpers: list[asyncio.Task[None]] = []
        self._running = True
        self._loop = asyncio.get_running_loop()
        try:
            await self._start_bot()
            while not self._stopping and not await self._beat():
                await self._sleep(self.config.beat_every)
            # Beat once more a heartbeat later, so senders that started at the same moment see
            # each other; then, if others are live, let them cut their share before sending.
            await self._sleep(self.config.beat_every)
            await self._beat()
            if len(self._live) > 1 and not self._stopping:
                await self._sleep(self.config.beat_every * 1.5)
                await self._beat()
            helpers = [
                asyncio.create_task(self._heartbeats(), name="outbox-heartbeat"),
                asyncio.create_task(self._flushes(), name="outbox-flush"),
            ]
            await self._send_loop()
        finally:
            for task in helpers:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*helpers, return_exceptions=True)
            await self._wind_down()
            self._finished.set()

    async def stop(self) -> None:
        """Stop claiming, let sends in flight finish and record them, give back the rest."""
        self._stopping = True
        self._wake.set()
        if not self._running:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._finished.wait(), timeout=15)

    async def _start_bot(self) -> None:
        try:
            await self.bot.initialize()
        except TelegramError as err:
            # The request pool is ready even when getMe failed; sends report their own errors.
            log.warning("could not reach the Bot API at start (%s); sending anyway", err)

    async def _wind_down(self) -> None:
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=10)
        await self._flush()
        backlog = [j.delivery_id for j in (*self._alerts, *self._broadcasts)]
        self._alerts.clear()
        self._broadcasts.clear()
        try:
            await self._db(lambda s: outbox.release(session=s, owner=self.id, ids=backlog))
            await self._db(lambda s: outbox.retire(session=s, sender_id=self.id))
        except Exception as err:
            log.warning("could not hand back claimed messages at stop: %s", err)
        if self._owns_bot:
            with contextlib.suppress(Exception):
                await self.bot.shutdown()

    async def _sleep(self, seconds: float) -> None:
        """Wait up to `seconds`, less if `wake()` was called (also while not sleeping)."""
        if self._wake.is_set():
            self._wake.clear()
            return
        if seconds <= 0:
            return
        if seconds < SHORT_WAIT:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _db(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with session_scope(self.engine) as session:
                return work(session)

        async with self._db_lock:
            return await asyncio.to_thread(run)

    # -- heartbeats and leases --------------------------------------------------------------

    def _lease_ok(self) -> bool:
        return time.monotonic() - self._last_beat < self.config.lease / 2

    async def _beat(self) -> bool:
        stale = self.config.lease

        def work(session: Session) -> list[str]:
            now = outbox.db_now(session=session)
            return outbox.heartbeat(session=session, sender_id=self.id, now=now, stale_after=stale)

        try:
            live = await self._db(work)
        except Exception as err:
            log.warning("sender heartbeat failed: %s", err)
            return False
        self._last_beat = time.monotonic()
        if self.id not in live:
            live = sorted([*live, self.id])
        if live != self._live:
            if len(live) > 1 and self.engine.dialect.name == "sqlite":
                log.warning("%d senders share this SQLite database; run one", len(live))
            position = live.index(self.id) + 1
            log.info("%d sender(s) live; this one is %d of %d", len(live), position, len(live))
        self._live = live
        self._shard = (live.index(self.id), len(live))
        self.pacer.set_shares(len(live))
        return True

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.config.beat_every)
            await self._beat()
            await self._reclaim()

    async def _reclaim(self) -> None:
        stale = self.config.lease

        def work(session: Session) -> int:
            now = outbox.db_now(session=session)
            return outbox.reclaim_abandoned(session=session, now=now, stale_after=stale)

        try:
            count = await self._db(work)
        except Exception as err:
            log.warning("could not take back abandoned messages: %s", err)
            return
        if count:
            log.warning("took back %d messages left in flight by a sender that stopped", count)
            self.wake()

    # -- claiming ---------------------------------------------------------------------------

    def _backlog_target(self) -> int:
        rate = self.pacer.rate(False) + (self.pacer.rate(True) if self._paid else 0.0)
        return max(8, math.ceil(rate * self.config.backlog_seconds))

    async def _claim(self) -> None:
        target = self._backlog_target()
        have = len(self._alerts) + len(self._broadcasts)
        # Refill when a quarter is left: fewer, fuller claims, and still never more than
        # `backlog_seconds` of work ahead of an alert claimed next.
        if have > target // 4 or time.monotonic() < self._next_claim:
            return
        now_wall = utcnow()
        busy = {
            chat: now_wall + timedelta(seconds=wait)
            for chat, wait in self.pacer.busy_chats().items()
        }
        for job in (*self._alerts, *self._broadcasts):
            busy.setdefault(job.chat_id, now_wall + timedelta(seconds=1))
        shard, limit = self._shard, target - have
        try:
            jobs = await self._db(lambda s: self._claim_jobs(s, busy, shard, limit))
        except Exception as err:
            log.warning("outbox claim failed (%s); retrying", err)
            self._next_claim = time.monotonic() + self.config.idle_wait
            return
        for job in jobs:
            (self._broadcasts if job.is_broadcast else self._alerts).append(job)
        if len(jobs) < limit:
            # Nothing more is due now; look again when the next row is, or after a short while.
            self._next_claim = time.monotonic() + await self._until_next_due()

    async def _until_next_due(self) -> float:
        shard = self._shard
        try:
            due = await self._db(lambda s: outbox.next_due_at(session=s, shard=shard))
        except Exception:
            return self.config.idle_wait
        if due is None:
            return self.config.idle_wait
        return min(self.config.idle_wait, max(0.0, (due - utcnow()).total_seconds()))

    def _claim_jobs(
        self,
        session: Session,
        busy: dict[int, datetime],
        shard: tuple[int, int],
        limit: int,
    ) -> list[Job]:
        rows = outbox.claim_due(
            session=session,
            owner=self.id,
            now=utcnow(),
            claimed_at=outbox.db_now(session=session),
            limit=limit,
            busy=busy,
            shard=shard,
        )
        if not rows:
            return []
        self._load_payload(session, rows)
        metrics.note_claimed(rows=rows, entries=self._entries)
        jobs = []
        nothing: list[outbox.SendResult] = []
        for row in rows:
            assert row.id is not None
            texts = self._texts(row)
            if texts is None:
                nothing.append(
                    outbox.SendResult(
                        delivery_id=row.id,
                        chat_id=row.chat_id,
                        state="failed",
                        at=utcnow(),
                        error="nothing to send",
                    )
                )
                continue
            jobs.append(
                Job(
                    delivery_id=row.id,
                    chat_id=row.chat_id,
                    thread_id=row.thread_id,
                    attempts=row.attempts,
                    html=texts[0],
                    plain=texts[1],
                    is_broadcast=row.broadcast_id is not None,
                )
            )
        if nothing:
            outbox.record_results(session=session, owner=self.id, results=nothing)
        return jobs

    def _load_payload(self, session: Session, rows: Sequence[Delivery]) -> None:
        """Load the stories and broadcasts of claimed rows that aren't cached yet.

        Neither changes once queued, so a fan-out of one story loads it once, not per claim.
        """
        entry_ids = {r.entry_id for r in rows if r.entry_id is not None} - self._entries.keys()
        bc_ids = {r.broadcast_id for r in rows if r.broadcast_id is not None}
        bc_ids -= self._broadcast_texts.keys()
        if not entry_ids and not bc_ids:
            return
        if len(self._entries) + len(self._broadcast_texts) >= PAYLOAD_CACHE:
            self._entries.clear()
            self._alert_texts.clear()
            self._broadcast_texts.clear()
        entries, broadcasts, names = outbox.deliveries_payload(
            session=session, entry_ids=entry_ids, broadcast_ids=bc_ids
        )
        for entry_id, e in entries.items():
            self._entries[entry_id] = e
            alert = Alert(
                title=e.title,
                summary=e.summary,
                link=e.link,
                source=names.get(e.feed_id, ""),
                published=e.published_at or e.seen_at,
            )
            self._alert_texts[entry_id] = (self._alert_html(alert), render_plain(alert))
        for bc_id, bc in broadcasts.items():
            self._broadcast_texts[bc_id] = (
                render_broadcast(bc.text),
                render_broadcast_plain(bc.text),
            )

    def _texts(self, row: Delivery) -> tuple[str, str] | None:
        if row.entry_id is not None:
            return self._alert_texts.get(row.entry_id)
        if row.broadcast_id is not None:
            return self._broadcast_texts.get(row.broadcast_id)
        return None

    # -- sending ----------------------------------------------------------------------------

    def _pick(self) -> tuple[Job | None, float]:
        """Return the next job that may go now (alerts first), or how long to wait."""
        waits = [self.config.idle_wait]
        for queue, paid in ((self._alerts, False), (self._broadcasts, self._paid)):
            if not queue:
                continue
            wait = self.pacer.global_wait(paid)
            if wait > 0:
                waits.append(wait)
                continue
            for n, job in enumerate(queue[:64]):
                chat_wait = self.pacer.chat_wait(job.chat_id)
                if chat_wait <= 0:
                    del queue[n]
                    return job, 0.0
                waits.append(min(chat_wait, self.config.idle_wait))
        return None, min(waits)

    async def _send_loop(self) -> None:
        while not self._stopping:
            if not self._lease_ok():
                await self._give_back_backlog()
                await self._sleep(self.config.beat_every)
                continue
            await self._claim()
            job, wait = self._pick()
            if job is None:
                if not self._alerts and not self._broadcasts:
                    wait = min(wait, max(0.0, self._next_claim - time.monotonic()))
                await self._sleep(max(wait, 0.001))
                continue
            await self._slots.acquire()
            paid = job.is_broadcast and self._paid
            self.pacer.take(job.chat_id, paid)
            task = asyncio.create_task(self._deliver(job, paid))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _give_back_backlog(self) -> None:
        backlog = [j.delivery_id for j in (*self._alerts, *self._broadcasts)]
        if not backlog:
            return
        log.warning("sender heartbeat is late; giving back %d claimed messages", len(backlog))
        self._alerts.clear()
        self._broadcasts.clear()
        with contextlib.suppress(Exception):
            await self._db(lambda s: outbox.release(session=s, owner=self.id, ids=backlog))

    async def _deliver(self, job: Job, paid: bool) -> None:
        try:
            outcome = await self._send(job, plain=False, paid=paid)
            if outcome is not None and outcome.action is Action.PLAIN_TEXT:
                log.error(
                    "render bug (delivery %d): %s; resending as plain text",
                    job.delivery_id,
                    outcome.reason,
                )
                outcome = await self._send(job, plain=True, paid=paid)
                if outcome is not None and outcome.action is Action.PLAIN_TEXT:
                    outcome = Outcome(Action.FAIL, outcome.reason)
        except Exception:
            log.exception(
                "delivery %d: unexpected error while sending",
                job.delivery_id,
                extra={"chat": job.chat_id, "delivery": job.delivery_id},
            )
            outcome = Outcome(Action.RETRY, "unexpected error while sending")
        finally:
            self._slots.release()
        self.pacer.done(job.chat_id, delivered=outcome is None or outcome.action not in NOT_SENT)
        if outcome is not None and outcome.action is Action.RETRY_AFTER:
            wait = max(outcome.retry_after, 1.0)
            if self.pacer.too_many_requests(job.chat_id, wait, paid):
                log.warning(
                    "flood control for the whole bot: pausing %.0fs, rate now %.1f/s",
                    wait,
                    self.pacer.rate(paid),
                )
            else:
                log.warning(
                    "chat %d: flood control, waiting %.0fs",
                    job.chat_id,
                    wait,
                    extra={"chat": job.chat_id},
                )
        result = result_for(job, outcome, now=utcnow(), config=self.config)
        metrics.record_send(job, result)
        self._log_result(job, result)
        if result.state == "sent":
            self.sent += 1
        self._results.append(result)
        self._results_ready.set()

    async def _send(self, job: Job, *, plain: bool, paid: bool) -> Outcome | None:
        try:
            await self.bot.send_message(
                chat_id=job.chat_id,
                text=job.plain if plain else job.html,
                parse_mode=None if plain else ParseMode.HTML,
                message_thread_id=job.thread_id,
                link_preview_options=LinkPreviewOptions(is_disabled=job.is_broadcast),
                allow_paid_broadcast=True if paid else None,
            )
        except TelegramError as err:
            return classify(err)
        return None

    @staticmethod
    def _log_result(job: Job, result: outbox.SendResult) -> None:
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

    # -- recording --------------------------------------------------------------------------

    async def _flushes(self) -> None:
        while True:
            await self._results_ready.wait()
            await asyncio.sleep(self.config.flush_every)
            await self._flush()

    async def _flush(self) -> None:
        if not self._results:
            self._results_ready.clear()
            return
        batch, self._results = self._results, []
        self._results_ready.clear()
        try:
            report = await self._db(
                lambda s: outbox.record_results(session=s, owner=self.id, results=batch)
            )
        except Exception as err:
            log.warning("could not record %d send outcomes (%s); retrying", len(batch), err)
            self._results[:0] = batch
            self._results_ready.set()
            await asyncio.sleep(self.config.idle_wait)
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
            self.wake()

    # -- for tests and the benchmark --------------------------------------------------------

    @property
    def backlog(self) -> Sequence[Job]:
        """Return the claimed jobs not yet started."""
        return (*self._alerts, *self._broadcasts)
