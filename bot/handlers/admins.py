"""A short memory of who administers which chat (getChatMember answers)."""

from __future__ import annotations

import time
from collections.abc import Callable

ADMIN_TTL_SECONDS = 60.0

Clock = Callable[[], float]


class AdminCache:
    """Remember for `ttl` seconds whether a user administers a chat."""

    def __init__(
        self, *, ttl: float = ADMIN_TTL_SECONDS, clock: Clock = time.monotonic, size: int = 10_000
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._size = size
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}

    def get(self, chat_id: int, user_id: int) -> bool | None:
        """Return the remembered answer, or None when there is none or it expired."""
        found = self._known.get((chat_id, user_id))
        if found is None:
            return None
        if self._clock() >= found[1]:
            del self._known[(chat_id, user_id)]
            return None
        return found[0]

    def put(self, chat_id: int, user_id: int, is_admin: bool) -> None:
        """Remember the answer for ttl seconds."""
        now = self._clock()
        if len(self._known) >= self._size:
            self._known = {k: v for k, v in self._known.items() if v[1] > now}
            if len(self._known) >= self._size:
                self._known.clear()
        self._known[(chat_id, user_id)] = (is_admin, now + self.ttl)
