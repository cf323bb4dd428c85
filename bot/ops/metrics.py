"""Prometheus metrics: the counters the pipeline bumps as it works.

Everything lives in `REGISTRY`, a registry of our own (not prometheus-client's global one), and
every name starts with `newsbot_`. The watcher and the sender call the `record_*` functions;
what is cheaper to read from the database at scrape time (queue depth, dead letters, failing
feeds, broadcast progress) comes from bot/services/stats.py, which adds its gauges to
`process_registry()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

POLL_JOBS = Counter(
    "newsbot_poll_jobs", "Rounds of the poll scheduler looking for due feeds.", registry=REGISTRY
)
FEEDS_POLLED = Counter(
    "newsbot_feeds_polled", "Feed polls attempted (one per feed per round).", registry=REGISTRY
)
FEEDS_NOT_MODIFIED = Counter(
    "newsbot_feeds_not_modified", "Feed polls answered 304 Not Modified.", registry=REGISTRY
)
FEED_FAILURES = Counter(
    "newsbot_feed_failures", "Feed polls that failed (fetch or parse).", registry=REGISTRY
)
FETCH_ERRORS = Counter(
    "newsbot_fetch_errors",
    "Feed poll failures by kind (timeout, too_large, http_status, blocked, redirects, "
    "connection, invalid_url, parse, internal).",
    ["kind"],
    registry=REGISTRY,
)
NEW_ENTRIES = Counter(
    "newsbot_new_entries", "New stories stored (history excluded).", registry=REGISTRY
)
ALERTS_QUEUED = Counter("newsbot_alerts_queued", "Alerts queued in the outbox.", registry=REGISTRY)
LAST_POLL_JOB = Gauge(
    "newsbot_last_poll_job_timestamp_seconds",
    "Unix time the poll scheduler last looked for due feeds.",
    registry=REGISTRY,
)
MESSAGES_SENT = Counter(
    "newsbot_messages_sent",
    "Messages delivered, by kind (alert, broadcast).",
    ["kind"],
    registry=REGISTRY,
)
SEND_FAILURES = Counter(
    "newsbot_send_failures",
    "Unsuccessful sends by reason: rate_limited and retry (sent again later), unreachable "
    "(chat blocked the bot), unknown (may have arrived), failed (permanent error), dead "
    "(gave up after too many attempts).",
    ["reason"],
    registry=REGISTRY,
)
DEAD_LETTERED = Counter(
    "newsbot_messages_dead_lettered",
    "Messages given up after too many attempts (outbox state dead).",
    registry=REGISTRY,
)
ALERT_LATENCY = Histogram(
    "newsbot_alert_latency_seconds",
    "Time from a story being seen to its alert being sent.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200),
    registry=REGISTRY,
)
REPLIES = Counter(
    "newsbot_replies",
    "Answers to people (kind: reply, edit, answer, notice, upload) by outcome: sent, again "
    "(429 or the link failed: sent later), drop (not sent: too old, refused, or outcome "
    "unknown).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
INSTANCE_ACTIVE = Gauge(
    "newsbot_instance_active",
    "1 when this process is the active instance, 0 while it waits as a standby.",
    registry=REGISTRY,
)

_last_poll_job: float | None = None
# delivery id -> when its story was seen, noted at claim time for the latency histogram.
_SEEN: dict[int, datetime] = {}
_SEEN_CAP = 100_000


def record_poll_job() -> None:
    """Note a round of the poll scheduler (the health check wants one recent)."""
    global _last_poll_job
    _last_poll_job = time.time()
    POLL_JOBS.inc()
    LAST_POLL_JOB.set(_last_poll_job)


def last_poll_job() -> float | None:
    """Return the Unix time of the poll scheduler's last round in this process, if any."""
    return _last_poll_job


def record_feed(outcome: object) -> None:
    """Count one feed poll's outcome (a FeedOutcome, or the task that produced it)."""
    if isinstance(outcome, asyncio.Task):
        if outcome.cancelled() or outcome.exception() is not None:
            FEEDS_POLLED.inc()
            FETCH_ERRORS.labels(kind="internal").inc()
            return
        outcome = outcome.result()
    FEEDS_POLLED.inc()
    status = getattr(outcome, "status", None)
    if status == "not_modified":
        FEEDS_NOT_MODIFIED.inc()
    elif status == "failed":
        FEED_FAILURES.inc()
    NEW_ENTRIES.inc(int(getattr(outcome, "new_entries", 0) or 0))
    ALERTS_QUEUED.inc(int(getattr(outcome, "alerts_queued", 0) or 0))


def record_fetch_error(err: BaseException) -> None:
    """Count a failed feed poll by the kind of its error."""
    kind = getattr(err, "kind", None)
    if not isinstance(kind, str):
        kind = "parse" if type(err).__name__ == "FeedParseError" else "internal"
    FETCH_ERRORS.labels(kind=kind).inc()


def note_claimed(*, rows: Iterable[Any], entries: Mapping[int, Any]) -> None:
    """Remember when the stories of claimed alerts were seen, for the latency histogram.

    `rows` are claimed outbox rows (id, entry_id), `entries` their stories by id (seen_at).
    """
    if len(_SEEN) > _SEEN_CAP:
        _SEEN.clear()  # results that never came back (a crash of the send loop)
    for row in rows:
        entry = entries.get(row.entry_id) if row.entry_id is not None else None
        if row.id is not None and entry is not None:
            _SEEN[row.id] = entry.seen_at


def record_reply(kind: str, outcome: str) -> None:
    """Count one attempt of an answer to a person."""
    REPLIES.labels(kind=kind, outcome=outcome).inc()


def record_send(job: object, result: object) -> None:
    """Count the recorded result of one send (an outbox.SendResult)."""
    delivery_id = getattr(job, "delivery_id", None)
    seen_at = _SEEN.pop(delivery_id, None) if isinstance(delivery_id, int) else None
    state = getattr(result, "state", None)
    if state == "sent":
        kind = "broadcast" if getattr(job, "is_broadcast", False) else "alert"
        MESSAGES_SENT.labels(kind=kind).inc()
        if seen_at is not None and kind == "alert":
            ALERT_LATENCY.observe(max(0.0, (datetime.now(UTC) - seen_at).total_seconds()))
        return
    if state == "queued":
        if getattr(result, "migrate_to", None) is not None:
            return  # the chat moved; the message follows it
        reason = "retry" if getattr(result, "count_attempt", True) else "rate_limited"
    elif state == "failed":
        reason = "unreachable" if getattr(result, "deactivate", False) else "failed"
    elif state == "dead":
        reason = "dead"
        DEAD_LETTERED.inc()
    else:
        reason = str(state or "unknown")
    SEND_FAILURES.labels(reason=reason).inc()


class _Forward(Collector):
    """Expose another registry's metrics through this one."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


def process_registry() -> CollectorRegistry:
    """Return a new registry exposing this process's metrics; scrapers add their own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(REGISTRY))
    return registry
