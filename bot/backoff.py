"""Exponential backoff with jitter: the one formula for every retry (feeds and the outbox)."""

from __future__ import annotations

import random


def backoff(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Return the wait before retry number `attempt` (1 = the first retry).

    `base` doubled per attempt and capped at `cap`, less up to `jitter` (a fraction) of it
    at random, so things that failed together don't retry in lockstep.
    """
    exponent = min(max(attempt, 1) - 1, 60)
    delay = min(base * 2.0**exponent, cap)
    return delay * (1.0 - jitter * random.random())
