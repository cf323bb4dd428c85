"""Send pacing at Telegram's documented limits (Bot FAQ, "My bot is hitting limits").

About 30 messages a second overall (1000 with allow_paid_broadcast), 1 a second to one chat
(short bursts tolerated) and 20 a minute to a group or channel. The door keeps below these on
its own rather than finding them with 429s: a token bucket per rate class, and per-chat
spacing measured from the moment Telegram answered the previous message to that chat, with
an optional burst of a few messages (a generic cell rate algorithm: one number per chat).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

PRIVATE_INTERVAL = 1.0  # seconds between messages to one private chat
GROUP_INTERVAL = 3.0  # 20 messages a minute to one group or channel
# A bucket holds this many seconds of sending, at least one message: enough to absorb the
# event loop waking a little late, far too little to be the burst at start-up that
# PTB's AIORateLimiter lets through.
BURST_SECONDS = 0.05
# How 429s are read as bot-wide rather than per chat (README, "Delivery"): several chats
# refused within a short window, or a wait longer than any per-chat window (a minute).
GLOBAL_429_CHATS = 3
GLOBAL_429_WINDOW = 2.0
GLOBAL_RETRY_AFTER = 60.0
# After a bot-wide 429 the rate halves (down to a tenth at most) and climbs back by this
# fraction of the configured rate every second once the wait is over.
MIN_FACTOR = 0.1
RECOVERY_PER_SECOND = 0.05


def chat_interval(chat_id: int) -> float:
    """Return the minimum spacing of messages to the chat (groups and channels have ids < 0)."""
    return GROUP_INTERVAL if chat_id < 0 else PRIVATE_INTERVAL


class TokenBucket:
    """Tokens at `rate` per second, holding at most `burst`; starts with one token."""

    def __init__(self, *, rate: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._stamp = clock()
        self.rate = rate
        self.tokens = 1.0

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate * BURST_SECONDS)

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on, keeping what was earned so far."""
        self._refill()
        self.rate = rate

    def wait(self) -> float:
        """Return seconds until a token is available."""
        self._refill()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        """Spend a token (the caller checked `wait()`); debt is repaid before the next one."""
        self._refill()
        self.tokens -= 1.0


@dataclass(slots=True)
class _Class:
    """One rate class: free sends, or paid broadcasts."""

    base: float
    bucket: TokenBucket
    paused_until: float = 0.0
    factor: float = 1.0  # after a bot-wide 429, recovering from `factor` at `recover_from`
    recover_from: float = 0.0


class Pacer:
    """Rate classes with token buckets, per-chat spacing and the reading of 429s.

    `shares` divides the rates among live sender processes. Clock injectable for tests.
    """

    def __init__(
        self,
        *,
        rate: float,
        paid_rate: float | None = None,
        chat_burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.chat_burst = max(1, chat_burst)
        self._shares = 1
        self._classes = {
            False: _Class(base=rate, bucket=TokenBucket(rate=rate, clock=clock)),
            True: _Class(
                base=paid_rate or rate, bucket=TokenBucket(rate=paid_rate or rate, clock=clock)
            ),
        }
        self._in_flight: dict[int, int] = {}
        self._chat_ready: dict[int, float] = {}
        self._refusals: deque[tuple[float, int]] = deque()

    # -- rates -----------------------------------------------------------------------------

    def factor(self, paid: bool = False) -> float:
        """Return the fraction of the configured rate in use now (1.0 unless backing off)."""
        cls = self._classes[paid]
        now = self._clock()
        if cls.factor >= 1.0 or now < cls.recover_from:
            return cls.factor
        return min(1.0, cls.factor + (now - cls.recover_from) * RECOVERY_PER_SECOND)

    def rate(self, paid: bool = False) -> float:
        """Return this process's rate for the class now."""
        return self._classes[paid].base * self.factor(paid) / self._shares

    def set_shares(self, shares: int) -> None:
        """Use 1/shares of the configured rates (one share per live sender process)."""
        self._shares = max(1, shares)

    def _sync(self, paid: bool) -> _Class:
        cls = self._classes[paid]
        rate = self.rate(paid)
        if cls.factor < 1.0 and rate >= cls.base / self._shares:
            cls.factor = 1.0
        if not math.isclose(cls.bucket.rate, rate):
            cls.bucket.set_rate(rate)
        return cls

    def global_wait(self, paid: bool = False) -> float:
        """Return how long to wait before the next send of the class may start."""
        cls = self._sync(paid)
        return max(cls.bucket.wait(), cls.paused_until - self._clock())

    # -- chats -----------------------------------------------------------------------------

    def take(self, chat_id: int, paid: bool = False) -> None:
        """Record that a send to `chat_id` starts now."""
        self._sync(paid).bucket.take()
        self._in_flight[chat_id] = self._in_flight.get(chat_id, 0) + 1

    def done(self, chat_id: int, *, delivered: bool = True) -> None:
        """Record that the send ended; after a message reached the chat, the chat's next
        interval counts from now (a send that never got through costs the chat nothing)."""
        left = self._in_flight.get(chat_id, 1) - 1
        if left > 0:
            self._in_flight[chat_id] = left
        else:
            self._in_flight.pop(chat_id, None)
        if not delivered:
            return
        # `_chat_ready` holds the theoretical arrival time: it runs ahead of the clock by one
        # interval per message of the current burst.
        now = self._clock()
        ready = max(self._chat_ready.get(chat_id, 0.0), now) + chat_interval(chat_id)
        self._chat_ready[chat_id] = ready

    def _allowance(self, chat_id: int) -> float:
        return (self.chat_burst - 1) * chat_interval(chat_id)

    def chat_wait(self, chat_id: int) -> float:
        """Return how long the chat must wait for its next message (inf while one is out)."""
        if chat_id in self._in_flight:
            return math.inf
        ready = self._chat_ready.get(chat_id, 0.0) - self._allowance(chat_id)
        return max(0.0, ready - self._clock())

    def hold_chat(self, chat_id: int, seconds: float) -> None:
        """Keep the chat waiting at least `seconds` (its burst allowance spent too)."""
        ready = self._clock() + seconds + self._allowance(chat_id)
        self._chat_ready[chat_id] = max(self._chat_ready.get(chat_id, 0.0), ready)

    def pause_all(self, seconds: float, paid: bool = False) -> None:
        """Stop every send of the class for `seconds`."""
        cls = self._classes[paid]
        cls.paused_until = max(cls.paused_until, self._clock() + seconds)

    def busy_chats(self) -> dict[int, float]:
        """Return {chat: seconds until it may receive again} for chats not free now."""
        now = self._clock()
        busy: dict[int, float] = {}
        for chat, ready in list(self._chat_ready.items()):
            if ready <= now:
                del self._chat_ready[chat]
                continue
            wait = ready - self._allowance(chat) - now
            if wait > 0:
                busy[chat] = wait
        for chat in self._in_flight:
            busy[chat] = max(busy.get(chat, 0.0), chat_interval(chat))
        return busy

    # -- 429s ------------------------------------------------------------------------------

    def too_many_requests(self, chat_id: int, retry_after: float, paid: bool = False) -> bool:
        """Honour a 429; return True when it was read as bot-wide.

        The chat always waits `retry_after`. A bot-wide 429 also pauses the whole class for
        that long and halves its rate, which then climbs back gradually.
        """
        now = self._clock()
        self.hold_chat(chat_id, retry_after)
        self._refusals.append((now, chat_id))
        while self._refusals and self._refusals[0][0] < now - GLOBAL_429_WINDOW:
            self._refusals.popleft()
        chats = {c for _, c in self._refusals}
        if len(chats) < GLOBAL_429_CHATS and retry_after < GLOBAL_RETRY_AFTER:
            return False
        self._refusals.clear()
        cls = self._classes[paid]
        cls.factor = max(MIN_FACTOR, self.factor(paid) / 2)
        cls.recover_from = now + retry_after
        self.pause_all(retry_after, paid)
        self._sync(paid)
        return True
