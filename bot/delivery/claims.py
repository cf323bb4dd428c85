"""The outbox lanes: claims, leases and heartbeats (see sender.py); outcomes go to results.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import mutes, outbox
from bot.db import stories as stories_db
from bot.db.engine import session_scope
from bot.db.models import Delivery, utcnow
from bot.delivery.alert_buttons import parse_topic_ids, personalize
from bot.delivery.jobs import Job, SenderConfig, new_sender_id
from bot.delivery.pacing import Pacer
from bot.delivery.payload import Payloads, entry_alert
from bot.delivery.render import AlertHtml
from bot.delivery.results import Results
from bot.delivery.story_edits import edited_alert
from bot.i18n import Translator, translator
from bot.ops import metrics
from bot.stories.alerts import Source, also_sources

log = logging.getLogger("bot.delivery.sender")

T = TypeVar("T")
# Seconds an edit waits when the alert it edits is not sent yet.
EDIT_WAIT = 5.0


class OutboxLanes:
    """Alerts and broadcasts claimed from the outbox, waiting for the send loop."""

    def __init__(
        self,
        *,
        engine: Engine,
        config: SenderConfig,
        sender_id: str | None,
        alert_html: AlertHtml,
        chat_burst: int,
    ) -> None:
        self.engine = engine
        self.config = config
        self.id = sender_id or new_sender_id()
        self.pacer = Pacer(rate=config.rate, paid_rate=config.paid_rate, chat_burst=chat_burst)
        self._payloads = Payloads(alert_html=alert_html)
        self._alert_html = alert_html
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._alerts: list[Job] = []
        self._broadcasts: list[Job] = []
        self._db_lock = asyncio.Lock()
        self.results = Results(
            owner=self.id, db=self._db, every=config.flush_every, retry_wait=config.idle_wait
        )
        self.results.on_requeue = self.wake
        self._shard = (0, 1)
        self._live: list[str] = []
        self._last_beat = -math.inf
        self._next_claim = 0.0
        self._gave_back = False
        self._paid = config.allow_paid_broadcast

    def wake(self) -> None:
        """Tell the sender new rows were queued (safe to call from any thread)."""
        self._next_claim = 0.0
        self.kick()

    def kick(self) -> None:
        """Make the loop look again at once (safe to call from any thread)."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

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
        self._payloads.load(session, rows)
        metrics.note_claimed(rows=rows, entries=self._payloads.entries)
        jobs: list[Job] = []
        nothing: list[outbox.SendResult] = []
        edits = [r for r in rows if r.story_id is not None and r.entry_id is None]
        if edits:
            jobs, nothing = self._edit_jobs(session, edits)
            rows = [r for r in rows if not (r.story_id is not None and r.entry_id is None)]
        matched = {row.id: parse_topic_ids(row.topic_ids) for row in rows if row.topic_ids}
        refs = mutes.topic_refs(
            session=session, topic_ids=(t for ids in matched.values() for t in ids)
        )
        for row in rows:
            assert row.id is not None
            texts = self._payloads.texts(row)
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
            t = translator(self._payloads.language(row.chat_id))
            jobs.append(self._chat_job(row, texts, matched.get(row.id, []), refs, t))
        if nothing:
            outbox.record_results(session=session, owner=self.id, results=nothing)
        return jobs

    def _chat_job(
        self,
        row: Delivery,
        texts: tuple[str, str],
        topic_ids: Sequence[int],
        refs: Mapping[int, mutes.TopicRef],
        t: Translator,
        *,
        edit_message_id: int | None = None,
    ) -> Job:
        """Return the job sending (or editing) a row's message as its chat gets it: the
        chat's matched topics and their buttons, its language, quiet hours and previews."""
        assert row.id is not None
        topics = [(i, refs[i].tag, refs[i].label) for i in topic_ids if i in refs]
        html, plain, markup = personalize(texts[0], texts[1], topics, t)
        quiet, previews = self._payloads.send_options(row.chat_id)
        return Job(
            delivery_id=row.id,
            chat_id=row.chat_id,
            thread_id=row.thread_id,
            attempts=row.attempts,
            html=html,
            plain=plain,
            is_broadcast=row.broadcast_id is not None,
            # An edit never notifies: quiet hours only matter for new messages.
            silent=quiet and edit_message_id is None,
            previews=previews,
            reply_markup=markup,
            edit_message_id=edit_message_id,
        )

    def _edit_jobs(
        self, session: Session, rows: list[Delivery]
    ) -> tuple[list[Job], list[outbox.SendResult]]:
        """Render claimed edits of story alerts: the alert's text with an "Also:" line.

        An edit whose alert is still waiting goes back to the queue for a few seconds; one
        whose alert never arrived (failed, or its outcome unknown) has nothing to edit.
        """
        now = utcnow()
        found = stories_db.edit_payloads(session=session, rows=rows, now=now)
        matched = {
            row_id: parse_topic_ids(payload.topic_ids)
            for row_id, payload in found.items()
            if isinstance(payload, stories_db.EditPayload)
        }
        refs = mutes.topic_refs(
            session=session, topic_ids=(i for ids in matched.values() for i in ids)
        )
        jobs: list[Job] = []
        done: list[outbox.SendResult] = []
        for row in rows:
            assert row.id is not None
            payload = found.get(row.id)
            if isinstance(payload, stories_db.EditPayload):
                entry = payload.entry
                alert = entry_alert(entry, payload.source)
                alerted = Source(name=payload.source, link=entry.link)
                others, more = also_sources(payload.others, alerted=alerted)
                t = translator(self._payloads.language(row.chat_id))
                texts = edited_alert(alert, others, more, alert_html=self._alert_html, t=t)
                jobs.append(
                    self._chat_job(
                        row, texts, matched[row.id], refs, t, edit_message_id=payload.message_id
                    )
                )
            elif payload == "wait":
                at = now + timedelta(seconds=EDIT_WAIT)
                done.append(
                    outbox.SendResult(
                        delivery_id=row.id,
                        chat_id=row.chat_id,
                        state="queued",
                        at=at,
                        count_attempt=False,
                    )
                )
            else:
                done.append(
                    outbox.SendResult(
                        delivery_id=row.id,
                        chat_id=row.chat_id,
                        state="failed",
                        at=now,
                        error="no alert to edit",
                    )
                )
        return jobs, done

    async def _give_back_backlog(self) -> None:
        self._gave_back = True
        backlog = [j.delivery_id for j in (*self._alerts, *self._broadcasts)]
        if not backlog:
            return
        log.warning("sender heartbeat is late; giving back %d claimed messages", len(backlog))
        self._alerts.clear()
        self._broadcasts.clear()
        with contextlib.suppress(Exception):
            await self._db(lambda s: outbox.release(session=s, owner=self.id, ids=backlog))

    # -- for tests and the benchmark --------------------------------------------------------

    @property
    def backlog(self) -> Sequence[Job]:
        """Return the claimed jobs not yet started."""
        return (*self._alerts, *self._broadcasts)
