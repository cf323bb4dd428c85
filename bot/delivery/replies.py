"""The door's first lane: answers to people (replies, edits, button answers, notices).

Replies live in memory (a person waiting for an answer is the only one who wants it, and
after a restart the update is gone anyway). Each chat's replies leave in the order they
were handed over, within the chat's pacing; button answers (`answerCallbackQuery`) are not
messages and are not paced per chat. A reply that could not be sent within
`max_age` seconds (429s, an outage) is dropped with a log line and a metric, never silently.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.error import BadRequest, TelegramError

from bot.delivery.pacing import Pacer
from bot.delivery.policy import Action, Outcome
from bot.delivery.render import MAX_MESSAGE_CHARS, utf16_cut, visible_text
from bot.ops import metrics

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 120.0
# Replies may take up to this share of the send rate while alerts or broadcasts are waiting;
# the rest stays with the fan-out, which therefore always moves.
REPLY_SHARE = 0.6
SHARE_WINDOW = 1.0
SCAN = 64
RETRY_CAP = 10.0

_seq = itertools.count()


@dataclass(eq=False, slots=True)
class Reply:
    """One Bot API call for a person: `method` of python-telegram-bot's Bot with `kwargs`."""

    method: str
    kwargs: dict[str, Any]
    chat_id: int | None  # None: not paced per chat (button answers)
    future: asyncio.Future[Any]
    kind: str = "reply"  # reply, edit, answer, notice, upload
    # Sending it twice does no harm (edits, button answers): resent after an unknown outcome.
    idempotent: bool = False
    key: tuple[Any, ...] | None = None  # a later call with the same key replaces this one
    created: float = field(default_factory=time.monotonic)
    not_before: float = 0.0
    attempts: int = 0
    seq: int = field(default_factory=lambda: next(_seq))
    followers: list[asyncio.Future[Any]] = field(default_factory=list)

    def finish(self, result: Any) -> None:
        """Resolve the caller's future (and those of calls this one replaced)."""
        for fut in (self.future, *self.followers):
            if not fut.done():
                fut.set_result(result)


def plain_fallback(text: str) -> str:
    """Return HTML as the plain text it shows, cut to Telegram's limit (for render bugs)."""
    return utf16_cut(visible_text(text), MAX_MESSAGE_CHARS)


class ReplyLane:
    """Replies waiting to be sent, per chat in order; the oldest chat's turn first."""

    def __init__(
        self,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self._clock = clock
        self._chats: dict[int, deque[Reply]] = {}
        self._free: deque[Reply] = deque()
        self._keyed: dict[tuple[Any, ...], Reply] = {}
        self._recent: deque[float] = deque()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._free) + sum(len(q) for q in self._chats.values())

    def put(self, reply: Reply) -> None:
        """Queue a reply behind the chat's earlier ones (or merge it into a pending edit)."""
        reply.created = self._clock()
        if reply.key is not None:
            pending = self._keyed.get(reply.key)
            if pending is not None:
                pending.kwargs = reply.kwargs
                pending.followers.append(reply.future)
                return
            self._keyed[reply.key] = reply
        if reply.chat_id is None:
            self._free.append(reply)
        else:
            self._chats.setdefault(reply.chat_id, deque()).append(reply)

    def requeue(self, reply: Reply, *, at: float) -> None:
        """Put a reply back at the head of its chat's queue, not to be sent before `at`."""
        reply.not_before = at
        if reply.key is not None:
            self._keyed.setdefault(reply.key, reply)
        if reply.chat_id is None:
            self._free.appendleft(reply)
        else:
            self._chats.setdefault(reply.chat_id, deque()).appendleft(reply)

    def _taken(self, reply: Reply) -> Reply:
        if reply.key is not None and self._keyed.get(reply.key) is reply:
            del self._keyed[reply.key]
        return reply

    def expire(self) -> None:
        """Drop replies older than `max_age` (log line, metric, caller's future gets None)."""
        cutoff = self._clock() - self.max_age
        for queue in (self._free, *self._chats.values()):
            kept = [r for r in queue if r.created > cutoff]
            if len(kept) == len(queue):
                continue
            for reply in queue:
                if reply.created <= cutoff:
                    self.drop(self._taken(reply), f"not sent within {self.max_age:g}s")
            queue.clear()
            queue.extend(kept)
        for chat in [c for c, q in self._chats.items() if not q]:
            del self._chats[chat]

    def drop(self, reply: Reply, reason: str) -> None:
        """Give up on a reply: say so in the log and the metrics, resolve its future to None."""
        self.dropped += 1
        log.warning(
            "%s to chat %s dropped: %s",
            reply.kind,
            reply.chat_id if reply.chat_id is not None else "-",
            reason,
            extra={"chat": reply.chat_id} if reply.chat_id is not None else None,
        )
        metrics.record_reply(reply.kind, "drop")
        reply.finish(None)

    def share_used(self) -> float:
        """Return the replies sent in the last second."""
        now = self._clock()
        while self._recent and self._recent[0] < now - SHARE_WINDOW:
            self._recent.popleft()
        return len(self._recent)

    def note_sent(self) -> None:
        """Count a reply that left, for the reply share."""
        self._recent.append(self._clock())

    def pick(self, pacer: Pacer, *, budget_free: bool) -> tuple[Reply | None, float]:
        """Return the next reply that may go now, or how long until one may.

        Button answers go regardless of the budget; messages and edits need `budget_free`
        (a global token) and their chat's turn.
        """
        now = self._clock()
        wait = math.inf
        for n, reply in enumerate(self._free):
            if reply.not_before <= now:
                del self._free[n]
                return self._taken(reply), 0.0
            wait = min(wait, reply.not_before - now)
        for n, (chat, queue) in enumerate(self._chats.items()):
            if n >= SCAN:
                break
            head = queue[0]
            ready = max(head.not_before - now, pacer.chat_wait(chat))
            if ready <= 0 and budget_free:
                queue.popleft()
                if not queue:
                    del self._chats[chat]
                return self._taken(head), 0.0
            wait = min(wait, ready)
        return None, wait

    def drain(self) -> list[Reply]:
        """Take every queued reply out (at stop)."""
        out = list(self._free)
        for queue in self._chats.values():
            out.extend(queue)
        self._free.clear()
        self._chats.clear()
        self._keyed.clear()
        return out


@dataclass(frozen=True, slots=True)
class Step:
    """What to do after a reply's attempt: `sent`, `again` at `at`, or `drop` for `reason`."""

    verdict: str
    at: float = 0.0
    reason: str = ""


def reply_next(
    reply: Reply, error: TelegramError | None, outcome: Outcome | None, *, now: float
) -> Step:
    """Decide what follows a reply's attempt; adjust the reply for a resend where needed."""
    if error is None or outcome is None:
        return Step("sent")
    action, reason = outcome.action, outcome.reason
    if isinstance(error, BadRequest) and "not modified" in error.message.lower():
        return Step("sent")  # an edit that changes nothing (two quick taps) did its job
    if action is Action.RETRY_AFTER:
        return Step("again", at=now + max(outcome.retry_after, 1.0))
    if action is Action.RETRY or (action is Action.UNKNOWN and reply.idempotent):
        reply.attempts += 1
        return Step("again", at=now + min(RETRY_CAP, 0.5 * 2.0 ** (reply.attempts - 1)))
    if action is Action.UNKNOWN:
        return Step("drop", reason=f"outcome unknown ({reason}); not resent, it may have arrived")
    if action is Action.MIGRATE and outcome.new_chat_id is not None:
        reply.chat_id = outcome.new_chat_id
        reply.kwargs["chat_id"] = outcome.new_chat_id
        return Step("again", at=now)
    if action is Action.PLAIN_TEXT and reply.kwargs.get("parse_mode") and "text" in reply.kwargs:
        log.error("render bug (%s): %s; resending as plain text", reply.kind, reason)
        reply.kwargs["text"] = plain_fallback(str(reply.kwargs["text"]))
        reply.kwargs["parse_mode"] = None
        return Step("again", at=now)
    return Step("drop", reason=reason)
