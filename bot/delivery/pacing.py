"""Send pacing at Telegram's documented limits.

Bot FAQ: about 30 messages a second overall, 1 a second to one chat, 20 a minute to a group.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PRIVATE_INTERVAL = 1.0  # seconds between messages to one private chat
GROUP_INTERVAL = 3.0  # 20 messages a minute to one group or channel


def chat_interval(chat_id: int) -> float:
    """Return the minimum spacing of messages to the chat (groups and channels have ids < 0)."""
    return GROUP_INTERVAL if chat_id < 0 else PRIVATE_INTERVAL


class Pacer:
    """Global spacing at `rate` per second plus per-chat spacing; clock injectable for tests."""

    def __init__(self, *, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._next_global = 0.0
        self._chat_ready: dict[int, float] = {}
        self._paused_until = 0.0

    def global_wait(self) -> float:
        """Return how long to wait before the next send may start."""
        now = self._clock()
        return max(0.0, self._next_global - now, self._paused_until - now)

    def take(self, chat_id: int) -> None:
        """Record that a send to `chat_id` starts now."""
        now = self._clock()
        # Don't bank unused capacity: an idle minute must not allow a burst afterwards.
        self._next_global = max(self._next_global, now) + 1.0 / self.rate
        self._chat_ready[chat_id] = now + chat_interval(chat_id)

    def chat_wait(self, chat_id: int) -> float:
        """Return how long the chat must wait for its next message."""
        return max(0.0, self._chat_ready.get(chat_id, 0.0) - self._clock())

    def hold_chat(self, chat_id: int, seconds: float) -> None:
        """Keep the chat waiting at least `seconds` (after a 429 for it)."""
        now = self._clock()
        self._chat_ready[chat_id] = max(self._chat_ready.get(chat_id, 0.0), now + seconds)

    def pause_all(self, seconds: float) -> None:
        """Stop every send for `seconds` (after a 429 that applies to the whole bot)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def busy_chats(self) -> list[int]:
        """Return chats still inside their spacing window; forget the others."""
        now = self._clock()
        expired = [c for c, t in self._chat_ready.items() if t <= now]
        for c in expired:
            del self._chat_ready[c]
        return list(self._chat_ready)
