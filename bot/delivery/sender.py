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
- **Batched writes.** Outcomes are written together every 100 ms (results.py); a message is
  "in flight" from the moment it is sent until its batch is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import replace

from sqlalchemy.engine import Engine
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.db import outbox
from bot.db.models import utcnow
from bot.delivery.breaker import Breaker
from bot.delivery.claims import OutboxLanes
from bot.delivery.jobs import Job, SenderConfig
from bot.delivery.policy import Action, Outcome, classify, is_link_failure, result_for
from bot.delivery.render import AlertHtml, render_alert
from bot.delivery.replies import REPLY_SHARE, Reply, ReplyLane, reply_next
from bot.delivery.results import log_result
from bot.ops import metrics

__all__ = ["Sender", "SenderConfig"]

log = logging.getLogger(__name__)

# Outcomes where the message did not reach the chat, so the chat's spacing doesn't apply.
NOT_SENT = (Action.RETRY, Action.MIGRATE, Action.DEACTIVATE)
# Waits shorter than this are slept through without listening for wake-ups (cheaper).
SHORT_WAIT = 0.01
# The Bot API's answer to a probe must come within this (seconds).
PROBE_TIMEOUT = 3.0
# A clean stop still sends the replies already handed over, for at most this long.
STOP_GRACE = 5.0
EXPIRE_EVERY = 0.5
# Bot API, editMessageText: the answer when the new text is the message's text already.
NOT_MODIFIED = "message is not modified"
# Messages a private chat may receive back to back before the 1/s spacing applies (Telegram
# tolerates short bursts; this stays below the ~5 it lets through).
CHAT_BURST = 3


class Sender(OutboxLanes):
    """The door's send loop: replies, then alerts, then broadcasts, through one pacer.

    Alerts and broadcasts come from the outbox (claims, leases, batched outcomes); replies
    from the in-memory `replies` lane that `bot.delivery.door.Door` fills.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        bot: Bot,
        config: SenderConfig | None = None,
        owns_bot: bool = False,
        sender_id: str | None = None,
        alert_html: AlertHtml = render_alert,
        replies: ReplyLane | None = None,
    ) -> None:
        super().__init__(
            engine=engine,
            config=config or SenderConfig(),
            sender_id=sender_id,
            alert_html=alert_html,
            chat_burst=CHAT_BURST,
        )
        self.bot = bot
        self.breaker = Breaker()
        self.replies = replies if replies is not None else ReplyLane()
        self._owns_bot = owns_bot
        self._stopping = False
        self._stop_deadline = math.inf
        self._stopped = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False
        self._outbox_ready = False
        # Sends in flight: when each started, and whether its answer time counts (uploads don't).
        self._in_flight: dict[asyncio.Task[None], tuple[float, bool]] = {}
        self._slots = asyncio.Semaphore(self.config.in_flight_limit)
        self._next_expiry = 0.0
        self._last_answer = -math.inf
        self._probe_task: asyncio.Task[None] | None = None
        # Message ids of alerts just sent, until their outcome is recorded (edits need them).
        self._message_ids: dict[int, int] = {}
        self.sent = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Send until stopped: replies at once, alerts and broadcasts once the heartbeat is up."""
        helpers: list[asyncio.Task[None]] = []
        self._running = True
        self._loop = asyncio.get_running_loop()
        sending: asyncio.Task[None] | None = None
        try:
            await self._start_bot()
            sending = asyncio.create_task(self._send_loop(), name="door-send-loop")
            while not self._stopping and not await self._beat():
                await self._pause(self.config.beat_every)
            # Beat once more a heartbeat later, so senders that started at the same moment see
            # each other; then, if others are live, let them cut their share before sending.
            await self._pause(self.config.beat_every)
            await self._beat()
            if len(self._live) > 1 and not self._stopping:
                await self._pause(self.config.beat_every * 1.5)
                await self._beat()
            helpers = [
                asyncio.create_task(self._heartbeats(), name="outbox-heartbeat"),
                asyncio.create_task(self.results.run(), name="outbox-flush"),
            ]
            self._outbox_ready = True
            self.kick()
            await sending
        except Exception:
            log.exception("the door's send loop stopped")
            raise
        finally:
            if sending is not None and not sending.done():
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
            for task in helpers:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*helpers, return_exceptions=True)
            await self._wind_down()
            self._finished.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def stop(self) -> None:
        """Stop claiming, send the replies handed over (for a few seconds at most), let sends
        in flight finish and record them, give back the rest."""
        self._stopping = True
        self._stop_deadline = time.monotonic() + STOP_GRACE
        self._stopped.set()
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
        if self._probe_task is not None:
            self._probe_task.cancel()
        for reply in self.replies.drain():
            self.replies.drop(reply, "the bot is stopping")
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=10)
        await self.results.flush()
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

    # -- sending ----------------------------------------------------------------------------

    def _gate(self) -> float:
        """Return how long no new send may start (breaker open, or a send unanswered)."""
        breaker = self.breaker
        if not breaker.allows:
            self._start_probe()
            return self.config.idle_wait
        now = time.monotonic()
        oldest = min(
            (t for t, counts in self._in_flight.values() if counts and t > breaker.cleared_at),
            default=now,
        )
        if self._last_answer > oldest:
            return 0.0  # answers keep coming: a slow request, not a dead link
        age = now - oldest
        if age >= breaker.stall_after():
            breaker.stalled(age)
            self._start_probe()
            return self.config.idle_wait
        if age >= breaker.hold_after():
            return min(breaker.stall_after() - age, 0.05)
        return 0.0

    def _pick(self, outbox_ok: bool) -> tuple[Job | Reply | None, float]:
        """Return the next send that may start now (replies, alerts, broadcasts), or the wait."""
        waits = [self.config.idle_wait]
        free_wait = self.pacer.global_wait(False)
        outbox_waiting = outbox_ok and bool(self._alerts or self._broadcasts)
        # While the fan-out has work, replies take at most their share of the rate.
        cap = max(1.0, REPLY_SHARE * self.pacer.rate(False))
        within_share = not outbox_waiting or self.replies.share_used() < cap
        if len(self.replies):
            reply, wait = self.replies.pick(self.pacer, budget_free=free_wait <= 0 and within_share)
            if reply is not None:
                return reply, 0.0
            waits.append(max(wait, free_wait))
        if not outbox_ok:
            return None, min(waits)
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
        if not within_share and len(self.replies):
            # The fan-out could not use the turn: give it to a reply after all.
            reply, _ = self.replies.pick(self.pacer, budget_free=free_wait <= 0)
            if reply is not None:
                return reply, 0.0
        return None, min(waits)

    async def _send_loop(self) -> None:
        while not self._stopping or (len(self.replies) and time.monotonic() < self._stop_deadline):
            now = time.monotonic()
            if now >= self._next_expiry:
                self.replies.expire()
                self._next_expiry = now + EXPIRE_EVERY
            outbox_ok = self._outbox_ready and not self._stopping and self._lease_ok()
            if outbox_ok:
                self._gave_back = False
                await self._claim()
            elif self._outbox_ready and not self._stopping and not self._gave_back:
                await self._give_back_backlog()
            gate = self._gate()
            if gate > 0:
                await self._sleep(gate)
                continue
            item, wait = self._pick(outbox_ok)
            if item is None:
                if outbox_ok and not self._alerts and not self._broadcasts:
                    wait = min(wait, max(0.0, self._next_claim - time.monotonic()))
                await self._sleep(max(wait, 0.001))
                continue
            await self._slots.acquire()
            if isinstance(item, Reply):
                if item.chat_id is not None:
                    self.pacer.take(item.chat_id)
                task = asyncio.create_task(self._deliver_reply(item))
                counts = item.kind != "upload"
            else:
                paid = item.is_broadcast and self._paid
                self.pacer.take(item.chat_id, paid)
                task = asyncio.create_task(self._deliver(item, paid))
                counts = True
            self._in_flight[task] = (time.monotonic(), counts)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()

    # -- the link ---------------------------------------------------------------------------

    def _note_link(self, err: TelegramError | None, started: float) -> None:
        """Feed the breaker: an answer from Telegram, or a failure of the link."""
        if err is not None and is_link_failure(err):
            self.breaker.failed(err.message or type(err).__name__)
        else:
            self._last_answer = time.monotonic()
            self.breaker.answered(self._last_answer - started)

    def _start_probe(self) -> None:
        if self._probe_task is None or self._probe_task.done():
            self._probe_task = asyncio.create_task(self._probe(), name="bot-api-probe")

    async def _probe(self) -> None:
        """Ask getMe until the Bot API answers, backing off; then let every lane go on."""
        while not self.breaker.allows:
            try:
                await self.bot.get_me(
                    read_timeout=PROBE_TIMEOUT,
                    write_timeout=PROBE_TIMEOUT,
                    connect_timeout=PROBE_TIMEOUT,
                    pool_timeout=PROBE_TIMEOUT,
                )
            except TelegramError as err:
                if is_link_failure(err):
                    await asyncio.sleep(self.breaker.probe_failed(err.message))
                    continue
            except Exception as err:  # a bug must not leave every lane paused for good
                log.exception("Bot API probe failed unexpectedly")
                await asyncio.sleep(self.breaker.probe_failed(type(err).__name__))
                continue
            self.breaker.probe_answered()
            self.kick()

    # -- replies ----------------------------------------------------------------------------

    async def _deliver_reply(self, reply: Reply) -> None:
        started = time.monotonic()
        error: TelegramError | None = None
        result: object = None
        try:
            result = await getattr(self.bot, reply.method)(**reply.kwargs)
        except TelegramError as err:
            error = err
        except Exception:
            log.exception("%s to chat %s: unexpected error", reply.kind, reply.chat_id)
            error = TelegramError("unexpected error while sending")
        finally:
            self._slots.release()
        self._note_link(error, started)
        outcome = None if error is None else classify(error)
        if reply.chat_id is not None:
            self.pacer.done(
                reply.chat_id, delivered=outcome is None or outcome.action not in NOT_SENT
            )
        if outcome is not None and outcome.action is Action.RETRY_AFTER and reply.chat_id:
            self._note_429(reply.chat_id, outcome.retry_after, paid=False)
        step = reply_next(reply, error, outcome, now=time.monotonic())
        if step.verdict != "drop":
            metrics.record_reply(reply.kind, step.verdict)
        if step.verdict == "sent":
            if reply.chat_id is not None:
                self.replies.note_sent()  # button answers use no budget
            reply.finish(result if error is None else True)
        elif step.verdict == "again":
            self.replies.requeue(reply, at=step.at)
        else:
            self.replies.drop(reply, step.reason)

    def _note_429(self, chat_id: int, retry_after: float, *, paid: bool) -> None:
        wait = max(retry_after, 1.0)
        if self.pacer.too_many_requests(chat_id, wait, paid):
            log.warning(
                "flood control for the whole bot: pausing %.0fs, rate now %.1f/s",
                wait,
                self.pacer.rate(paid),
            )
        else:
            log.warning(
                "chat %d: flood control, waiting %.0fs", chat_id, wait, extra={"chat": chat_id}
            )

    # -- alerts and broadcasts --------------------------------------------------------------

    async def _deliver(self, job: Job, paid: bool) -> None:
        started = time.monotonic()
        error: TelegramError | None = None
        self._message_ids.pop(job.delivery_id, None)
        try:
            outcome, error = await self._send(job, plain=False, paid=paid)
            if outcome is not None and outcome.action is Action.PLAIN_TEXT:
                log.error(
                    "render bug (delivery %d): %s; resending as plain text",
                    job.delivery_id,
                    outcome.reason,
                )
                outcome, error = await self._send(job, plain=True, paid=paid)
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
        self._note_link(error, started)
        self.pacer.done(job.chat_id, delivered=outcome is None or outcome.action not in NOT_SENT)
        if outcome is not None and outcome.action is Action.RETRY_AFTER:
            self._note_429(job.chat_id, outcome.retry_after, paid=paid)
        result = result_for(job, outcome, now=utcnow(), config=self.config)
        message_id = self._message_ids.pop(job.delivery_id, None)
        if message_id is not None and result.state == "sent":
            result = replace(result, message_id=message_id)
        metrics.record_send(job, result)
        log_result(job, result)
        if result.state == "sent":
            self.sent += 1
        self.results.add(result)

    async def _send(
        self, job: Job, *, plain: bool, paid: bool
    ) -> tuple[Outcome | None, TelegramError | None]:
        try:
            if job.edit_message_id is not None:
                # Adds the story's other sources to the alert the chat already has.
                await self.bot.edit_message_text(
                    chat_id=job.chat_id,
                    message_id=job.edit_message_id,
                    text=job.plain if plain else job.html,
                    parse_mode=None if plain else ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=not job.previews),
                    # Without it the edit would drop the alert's buttons.
                    reply_markup=job.reply_markup,
                )
                return None, None
            message = await self.bot.send_message(
                chat_id=job.chat_id,
                text=job.plain if plain else job.html,
                parse_mode=None if plain else ParseMode.HTML,
                message_thread_id=job.thread_id,
                link_preview_options=LinkPreviewOptions(
                    is_disabled=job.is_broadcast or not job.previews
                ),
                disable_notification=True if job.silent else None,
                allow_paid_broadcast=True if paid else None,
                reply_markup=job.reply_markup,
            )
        except TelegramError as err:
            if job.edit_message_id is not None and NOT_MODIFIED in err.message.lower():
                return None, None  # the alert already says it all: nothing left to do
            return classify(err), err
        self._message_ids[job.delivery_id] = message.message_id
        return None, None
