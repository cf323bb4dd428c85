"""The operator's numbers: /stats in chat and the database gauges of /metrics, from one query.

`read_stats` (bot/db/stats.py) counts everything in one transaction; /stats shows it as text
and the collector here turns it into Prometheus gauges, so the two always agree.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from bot.db.engine import session_scope
from bot.db.models import DeliveryState, utcnow
from bot.db.stats import Stats, read_stats
from bot.ops import metrics
from bot.services.base import Service

__all__ = ["DatabaseCollector", "DeliveryState", "Stats", "StatsReader", "scrape_registry"]

log = logging.getLogger(__name__)


class StatsReader(Service):
    async def read(self) -> Stats:
        """Count chats, subscriptions, feeds, the outbox and the broadcasts being sent."""
        return await self._run(lambda s: read_stats(session=s, now=utcnow()))


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> list[Metric]:
        """Describe nothing ahead: the families depend on what the database holds."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Query the database; a failing database yields `newsbot_database_up 0` only."""
        up = GaugeMetricFamily("newsbot_database_up", "1 when the database answered the scrape.")
        try:
            with session_scope(self.engine) as session:
                stats = read_stats(session=session, now=utcnow())
        except Exception as err:
            log.warning("metrics: database query failed: %s", type(err).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from stats_metrics(stats)


def stats_metrics(stats: Stats) -> Iterator[Metric]:
    """Return the gauges of a stats reading."""
    outbox = GaugeMetricFamily("newsbot_outbox_messages", "Outbox rows by state.", labels=["state"])
    for state, count in sorted(stats.deliveries.items()):
        outbox.add_metric([state], count)
    yield outbox
    yield GaugeMetricFamily(
        "newsbot_queue_depth",
        "Messages waiting to be sent (queued or being sent).",
        value=stats.outbox(DeliveryState.QUEUED) + stats.outbox(DeliveryState.SENDING),
    )
    yield GaugeMetricFamily(
        "newsbot_queue_due", "Queued messages whose send time has come.", value=stats.due
    )
    yield GaugeMetricFamily(
        "newsbot_dead_letters",
        "Messages given up after too many attempts (outbox rows in state dead).",
        value=stats.outbox(DeliveryState.DEAD),
    )
    feeds = GaugeMetricFamily("newsbot_feeds", "Feeds by state.", labels=["state"])
    feeds.add_metric(["enabled"], stats.feeds_enabled)
    feeds.add_metric(["disabled"], stats.feeds_disabled)
    yield feeds
    yield GaugeMetricFamily(
        "newsbot_feeds_failing",
        "Enabled feeds whose last poll failed.",
        value=stats.feeds_failing,
    )
    yield GaugeMetricFamily(
        "newsbot_stories_24h",
        "Stories (reports of one event grouped) with a report in the last 24 hours.",
        value=stats.stories_24h,
    )
    yield GaugeMetricFamily(
        "newsbot_story_sources_avg",
        "Average number of reports per story of the last 24 hours.",
        value=stats.story_sources_avg,
    )
    chats = GaugeMetricFamily("newsbot_chats", "Chats by state.", labels=["state"])
    chats.add_metric(["active"], stats.chats_active)
    chats.add_metric(["inactive"], stats.chats_inactive)
    yield chats
    total = GaugeMetricFamily(
        "newsbot_broadcast_recipients", "Chats a sending broadcast goes to.", labels=["broadcast"]
    )
    progress = GaugeMetricFamily(
        "newsbot_broadcast_messages",
        "A sending broadcast's messages by state: sent, failed (refused, cancelled or given "
        "up), unknown (the connection broke mid-send: it may have arrived) and pending.",
        labels=["broadcast", "state"],
    )
    for bc in stats.broadcasts:
        name = str(bc.broadcast_id)
        total.add_metric([name], bc.total)
        progress.add_metric([name, "sent"], bc.sent)
        progress.add_metric([name, "failed"], bc.failed)
        progress.add_metric([name, "unknown"], bc.unknown)
        progress.add_metric([name, "pending"], bc.pending)
    yield total
    yield progress


def scrape_registry(engine: Engine | None) -> CollectorRegistry:
    """Return a registry with the process metrics and, given an engine, the database gauges."""
    registry = metrics.process_registry()
    if engine is not None:
        registry.register(DatabaseCollector(engine))
    return registry
