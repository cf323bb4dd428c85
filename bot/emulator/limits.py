"""Telegram's limits: sizes of texts, captions, button data and downloads, and flood control
(Bot FAQ, "My bot is hitting limits, how do I avoid this?")."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

# Bot API limits (https://core.telegram.org/bots/api#sendmessage, #inlinekeyboardbutton,
# #getfile): texts count UTF-16 code units after entity parsing.
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_UPDATES_LIMIT = 100


@dataclass
class Bucket:
    """A token bucket: `capacity` tokens, refilled at `rate` a second."""

    capacity: float
    rate: float  # tokens per second
    tokens: float
    stamp: float

    def wait(self, now: float) -> float:
        """Refill and return seconds until one token is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class FloodControl:
    """Token buckets per chat, per group (a minute's worth) and for the whole bot."""

    per_chat_per_second: float
    per_group_per_minute: float
    global_per_second: float
    burst: float
    paid_per_second: float
    chats: dict[int, Bucket] = field(default_factory=dict)
    groups: dict[int, Bucket] = field(default_factory=dict)
    buckets: dict[bool, Bucket] = field(default_factory=dict)  # keyed by paid

    @staticmethod
    def _bucket(
        store: dict[Any, Bucket], key: Any, *, capacity: float, rate: float, now: float
    ) -> Bucket:
        bucket = store.get(key)
        if bucket is None:
            bucket = Bucket(capacity=capacity, rate=rate, tokens=capacity, stamp=now)
            store[key] = bucket
        return bucket

    def acquire(self, chat_id: int, *, paid: bool) -> int | None:
        """Take a token from each bucket the send uses; return retry_after when one is empty."""
        now = time.monotonic()
        chat = (self.burst, self.per_chat_per_second)
        bulk = (self.paid_per_second,) * 2 if paid else (self.global_per_second,) * 2
        buckets = [
            self._bucket(self.chats, chat_id, capacity=chat[0], rate=chat[1], now=now),
            self._bucket(self.buckets, paid, capacity=bulk[0], rate=bulk[1], now=now),
        ]
        if chat_id < 0:
            per_minute = self.per_group_per_minute
            buckets.append(
                self._bucket(
                    self.groups, chat_id, capacity=per_minute, rate=per_minute / 60, now=now
                )
            )
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        return None
