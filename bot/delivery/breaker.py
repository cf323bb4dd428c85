"""The door's circuit breaker: stop every lane when the Bot API stops answering, probe, resume.

A send that fails in transport (refused, reset, timed out, 5xx), or one left without an
answer for far longer than answers usually take, makes the door *suspect* an outage: no new
send starts until a probe (`getMe`) answers. A healthy link answers the probe in
milliseconds, so a single stray failure costs almost nothing; after `threshold` failed probes
or sends in a row the breaker is *open*, the outage is logged once and the probes back off
(0.5 s doubling up to 5 s, with jitter: a getMe every few seconds costs nothing and
brings the door back soon after the link). Only the sends already in flight when the link
broke are exposed to it; everything else waits in its lane.

New sends also wait while an earlier one has gone unanswered for longer than answers
usually take (`hold_after`) with no other answer since it left: on a link that just died,
that keeps the door from starting more sends into it before the first failure is even
known, and a single slow answer on a live link (others keep arriving) holds nothing up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import Enum

from bot.backoff import backoff

log = logging.getLogger(__name__)

THRESHOLD = 3
PROBE_FIRST = 0.5
PROBE_CAP = 5.0
# A send unanswered this long (or `STALL_FACTOR` times the usual answer time, if longer),
# with no other answer since, makes the link suspect; no new send starts while one has
# waited `HOLD_FACTOR` times the usual answer time (at least `HOLD_MIN`).
STALL_MIN = 1.0
STALL_FACTOR = 20.0
HOLD_MIN = 0.01
HOLD_FACTOR = 1.0
EWMA_WEIGHT = 0.1


class State(Enum):
    CLOSED = "closed"  # sending
    SUSPECT = "suspect"  # a failure or a stall: hold new sends until a probe answers
    OPEN = "open"  # the Bot API is unreachable: probing with backoff


class Breaker:
    """Track the health of the link to the Bot API; the door asks it before every send."""

    def __init__(
        self, *, threshold: int = THRESHOLD, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self._clock = clock
        self.state = State.CLOSED
        self.failures = 0  # consecutive transport failures (sends and probes)
        self.latency = 0.05  # moving average of answer times, seconds
        self._down_since: float | None = None
        self._probes = 0
        self.outages = 0
        # Sends started before the last probe answered don't hold new ones: the probe showed
        # the link works, whatever became of them.
        self.cleared_at = -1.0

    @property
    def allows(self) -> bool:
        """Tell whether new sends may start."""
        return self.state is State.CLOSED

    def hold_after(self) -> float:
        """Return how long an unanswered send may be outstanding before new sends wait."""
        return max(HOLD_MIN, HOLD_FACTOR * self.latency)

    def stall_after(self) -> float:
        """Return how long an unanswered send may be outstanding before the link is suspect."""
        return max(STALL_MIN, STALL_FACTOR * self.latency)

    def answered(self, seconds: float) -> None:
        """Note a send that got an answer from Telegram (any answer, errors included)."""
        self.latency += EWMA_WEIGHT * (min(seconds, 5.0) - self.latency)
        self.failures = 0

    def failed(self, reason: str) -> None:
        """Note a send that failed in transport; hold every lane until a probe answers."""
        self.failures += 1
        self._suspect(reason)

    def stalled(self, seconds: float) -> None:
        """Note a send left without an answer for `seconds`."""
        self._suspect(f"no answer for {seconds:.1f}s")

    def _suspect(self, reason: str) -> None:
        if self.state is State.CLOSED:
            self.state = State.SUSPECT
            self._down_since = self._clock()
            self._probes = 0
            log.info("Bot API link suspect (%s); holding sends until it answers", reason)
        if self.state is State.SUSPECT and self.failures >= self.threshold:
            self._open(reason)

    def _open(self, reason: str) -> None:
        self.state = State.OPEN
        self.outages += 1
        log.warning("Bot API unreachable (%s); every lane paused, probing with backoff", reason)

    def probe_failed(self, reason: str) -> float:
        """Note a failed probe; return the seconds to wait before the next one."""
        self.failures += 1
        self._probes += 1
        if self.state is State.SUSPECT and self.failures >= self.threshold:
            self._open(reason)
        return backoff(self._probes, base=PROBE_FIRST, cap=PROBE_CAP, jitter=0.25)

    def probe_answered(self) -> None:
        """The Bot API answered a probe: close the breaker."""
        if self.state is State.OPEN and self._down_since is not None:
            log.warning(
                "Bot API answers again after %.1fs; resuming every lane",
                self._clock() - self._down_since,
            )
        elif self.state is State.SUSPECT:
            log.info("Bot API link answers; resuming")
        self.state = State.CLOSED
        self.failures = 0
        self._down_since = None
        self.cleared_at = self._clock()
