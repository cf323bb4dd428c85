"""Health and metrics: `/healthz` and `/metrics` of a running bot, the parts behind them, and
/stats telling the same numbers."""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine, session_scope
from bot.db.models import Broadcast, Chat, Delivery, Entry, Feed
from bot.db.stats import read_stats
from bot.handlers.broadcast import status_text
from bot.handlers.stats import stats_text
from bot.ops import metrics
from bot.ops.health import MIN_STALE_SECONDS, InstanceStatus, OpsServer, assess
from bot.services.broadcasts import Broadcasts
from bot.services.stats import StatsReader, scrape_registry
from tests.support.bot_process import bot_env, commands_registered, feed_seeded, running_bot
from tests.support.feed_server import FeedServer, rss
from tests.support.telegram_api import FakeTelegram

CHAT = 5150


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode()


def samples(text: str) -> dict[str, float]:
    """Parse Prometheus text into {'name{label="v"}': value}."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


# --- health ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status", "detail"),
    [
        ({"database_ok": False}, 503, "database does not answer"),
        ({"active": False}, 200, "standby"),
        ({"last_round": 1000.0 - 10}, 200, "ok"),
        ({"last_round": 1000.0 - 3 * 120 - 1}, 503, "no poll round for 361 s"),
        ({"last_round": None, "active_since": 1000.0 - 5}, 200, "ok"),
        ({"last_round": None, "active_since": 1000.0 - 400}, 503, "no poll round"),
        # Short intervals still allow a round as long as a fetch may take.
        ({"poll_interval": 1, "last_round": 1000.0 - MIN_STALE_SECONDS + 1}, 200, "ok"),
    ],
)
def test_assess(kwargs: dict[str, Any], status: int, detail: str) -> None:
    args: dict[str, Any] = {
        "database_ok": True,
        "active": True,
        "last_round": 990.0,
        "active_since": 500.0,
        "poll_interval": 120,
        "now": 1000.0,
        **kwargs,
    }
    health = assess(**args)
    assert health.status == status
    assert detail in health.detail


def test_ops_server_answers_503_when_the_database_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = make_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    status = InstanceStatus()
    status.activate()
    server = OpsServer(
        listen="127.0.0.1", port=0, engine=broken, status=status, poll_interval=1
    ).start()
    try:
        code, body = get(f"http://127.0.0.1:{server.port}/healthz")
        assert (code, body.strip()) == (503, "database does not answer")
        code, body = get(f"http://127.0.0.1:{server.port}/metrics")
        assert code == 200
        assert samples(body)["newsbot_database_up"] == 0
        assert get(f"http://127.0.0.1:{server.port}/other")[0] == 404
    finally:
        server.stop()
        broken.dispose()


def test_ops_server_answers_503_when_polls_stop(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_last_poll_job", None)
    status = InstanceStatus(active=True, active_since=time.time() - 3600)
    server = OpsServer(
        listen="127.0.0.1", port=0, engine=sqlite_engine, status=status, poll_interval=5
    ).start()
    try:
        code, body = get(f"http://127.0.0.1:{server.port}/healthz")
        assert code == 503 and "no poll round" in body
        metrics.record_poll_job()
        assert get(f"http://127.0.0.1:{server.port}/healthz") == (200, "ok\n")
    finally:
        server.stop()


# --- what the pipeline records ---------------------------------------------------------------


@dataclass
class FakeJob:
    delivery_id: int
    is_broadcast: bool = False


@dataclass
class FakeResult:
    state: str
    count_attempt: bool = True
    deactivate: bool = False
    migrate_to: int | None = None


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_send_outcomes_are_counted() -> None:
    before = {
        "alert": value("newsbot_messages_sent_total", kind="alert"),
        "broadcast": value("newsbot_messages_sent_total", kind="broadcast"),
        "rate": value("newsbot_send_failures_total", reason="rate_limited"),
        "retry": value("newsbot_send_failures_total", reason="retry"),
        "gone": value("newsbot_send_failures_total", reason="unreachable"),
        "dead": value("newsbot_messages_dead_lettered_total"),
        "latency": value("newsbot_alert_latency_seconds_count"),
        "slow": value("newsbot_alert_latency_seconds_bucket", le="60.0"),
    }
    row = Delivery(id=987654, chat_id=1, entry_id=55)
    entry = Entry(
        id=55, feed_id=1, key="k", title="t", seen_at=datetime.now(UTC) - timedelta(seconds=90)
    )
    metrics.note_claimed(rows=[row], entries={55: entry})
    metrics.record_send(FakeJob(987654), FakeResult("sent"))
    metrics.record_send(FakeJob(1, is_broadcast=True), FakeResult("sent"))
    metrics.record_send(FakeJob(2), FakeResult("queued", count_attempt=False))
    metrics.record_send(FakeJob(3), FakeResult("queued"))
    metrics.record_send(FakeJob(4), FakeResult("queued", migrate_to=-100))
    metrics.record_send(FakeJob(5), FakeResult("failed", deactivate=True))
    metrics.record_send(FakeJob(6), FakeResult("dead"))
    assert value("newsbot_messages_sent_total", kind="alert") == before["alert"] + 1
    assert value("newsbot_messages_sent_total", kind="broadcast") == before["broadcast"] + 1
    assert value("newsbot_send_failures_total", reason="rate_limited") == before["rate"] + 1
    assert value("newsbot_send_failures_total", reason="retry") == before["retry"] + 1
    assert value("newsbot_send_failures_total", reason="unreachable") == before["gone"] + 1
    assert value("newsbot_messages_dead_lettered_total") == before["dead"] + 1
    # One latency observation of about 90 s: above the 60 s bucket.
    assert value("newsbot_alert_latency_seconds_count") == before["latency"] + 1
    assert value("newsbot_alert_latency_seconds_bucket", le="60.0") == before["slow"]


def test_database_gauges(sqlite_engine: Engine) -> None:
    now = datetime.now(UTC)
    with session_scope(sqlite_engine) as s:
        s.add_all([Chat(id=1, type="private"), Chat(id=2, type="private", active=False)])
        s.add_all(
            [
                Feed(id=1, url="https://a.example/feed"),
                Feed(id=2, url="https://b.example/feed", error_count=3),
                Feed(id=3, url="https://c.example/feed", enabled=False, error_count=9),
            ]
        )
        s.flush()
        s.add(Entry(id=1, feed_id=1, key="e1", title="Story"))
        s.add(
            Broadcast(id=7, admin_user_id=1, admin_chat_id=1, text="hi", state="sending", total=2)
        )
        s.flush()
        s.add_all(
            [
                Delivery(chat_id=1, entry_id=1, state="queued", next_attempt_at=now),
                Delivery(chat_id=2, entry_id=1, state="dead"),
                Delivery(chat_id=1, broadcast_id=7, state="sent"),
                Delivery(
                    chat_id=2,
                    broadcast_id=7,
                    state="queued",
                    next_attempt_at=now + timedelta(hours=1),
                ),
            ]
        )
    found = samples(_scrape(scrape_registry(sqlite_engine)))
    assert found["newsbot_database_up"] == 1
    assert found["newsbot_queue_depth"] == 2
    assert found["newsbot_queue_due"] == 1
    assert found["newsbot_dead_letters"] == 1
    assert found['newsbot_outbox_messages{state="sent"}'] == 1
    assert found['newsbot_feeds{state="enabled"}'] == 2
    assert found['newsbot_feeds{state="disabled"}'] == 1
    assert found["newsbot_feeds_failing"] == 1
    assert found['newsbot_chats{state="active"}'] == 1
    assert found['newsbot_broadcast_recipients{broadcast="7"}'] == 2
    assert found['newsbot_broadcast_messages{broadcast="7",state="sent"}'] == 1
    assert found['newsbot_broadcast_messages{broadcast="7",state="pending"}'] == 1
    assert all(name.startswith("newsbot_") for name in found)


def _scrape(registry: Any) -> str:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode()


# --- one reading for /stats, /broadcast status and /metrics ----------------------------------

# Outbox rows of one broadcast being sent, by state.
STATES = {"sent": 5, "failed": 1, "cancelled": 1, "dead": 2, "unknown": 1, "queued": 3}


def seed_broadcast(engine: Engine) -> None:
    now = datetime.now(UTC)
    chats = sum(STATES.values())
    with session_scope(engine) as s:
        s.add_all([Chat(id=n, type="private") for n in range(1, chats + 2)])
        s.add(Feed(id=1, url="https://wire.example/feed"))
        s.flush()
        s.add(Entry(id=1, feed_id=1, key="e1", title="Ferries run late"))
        s.add(
            Broadcast(
                id=7,
                admin_user_id=1,
                admin_chat_id=1,
                text="Road works tonight",
                state="sending",
                total=chats,
                confirmed_at=now - timedelta(minutes=1),
            )
        )
        s.flush()
        n = 1
        for state, count in STATES.items():
            for _ in range(count):
                s.add(Delivery(chat_id=n, broadcast_id=7, priority=1, state=state))
                n += 1
        # An alert given up on: a dead letter that is not the broadcast's.
        s.add(Delivery(chat_id=n, entry_id=1, state="dead", next_attempt_at=now))


async def test_stats_status_and_metrics_count_a_broadcast_alike(engine: Engine) -> None:
    seed_broadcast(engine)
    failed = STATES["failed"] + STATES["cancelled"] + STATES["dead"]

    stats = await StatsReader(engine).read()
    (tally,) = stats.broadcasts
    assert (tally.sent, tally.failed, tally.unknown, tally.pending) == (5, failed, 1, 3)

    # /stats
    text = stats_text(stats)
    assert f"Broadcast #7: 5 of 13 sent, {failed} failed, 3 waiting, 1 unknown" in text
    assert "Dead letters: 3 (and 1 with an unknown outcome)" in text
    assert "Queue: 3 waiting, 0 being sent" in text

    # /broadcast status
    status = await Broadcasts(engine).status(recent=5)
    assert status.sending == [tally]
    assert f"5 of 13 sent, {failed} failed, 3 waiting" in status_text(
        sending=status.sending, recent=status.recent
    )

    # /metrics
    found = samples(_scrape(scrape_registry(engine)))
    assert found['newsbot_broadcast_messages{broadcast="7",state="sent"}'] == 5
    assert found['newsbot_broadcast_messages{broadcast="7",state="failed"}'] == failed
    assert found['newsbot_broadcast_messages{broadcast="7",state="unknown"}'] == 1
    assert found['newsbot_broadcast_messages{broadcast="7",state="pending"}'] == 3
    assert found["newsbot_dead_letters"] == 3
    assert found["newsbot_queue_depth"] == 3
    assert found['newsbot_chats{state="active"}'] == stats.chats_active


def test_one_reading_for_every_surface(engine: Engine) -> None:
    seed_broadcast(engine)
    with session_scope(engine) as s:
        stats = read_stats(session=s, now=datetime.now(UTC))
    found = samples(_scrape(scrape_registry(engine)))
    assert found["newsbot_queue_due"] == stats.due
    assert found['newsbot_feeds{state="enabled"}'] == stats.feeds_enabled
    for state, count in stats.deliveries.items():
        assert found[f'newsbot_outbox_messages{{state="{state}"}}'] == count


# --- end to end ------------------------------------------------------------------------------


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[FakeTelegram, FeedServer, int, Path]]:
    port = free_port()
    items = [
        {
            "title": "Harbour reopens after the storm",
            "link": "https://news.example.org/1",
            "guid": "s1",
            "description": "Ships sailed again on Monday.",
            "pub_date": datetime.now(UTC) - timedelta(hours=1),
        }
    ]
    with FakeTelegram() as telegram, FeedServer() as feeds:
        feeds.set("/feed.xml", rss("Metric Wire", items))
        env = bot_env(
            telegram,
            tmp_path / "newsbot.db",
            FEEDS=feeds.url("/feed.xml"),
            FETCH_ARTICLES="false",
            METRICS_LISTEN="127.0.0.1",
            METRICS_PORT=str(port),
            LOG_LEVEL="INFO",
        )
        log_path = tmp_path / "newsbot.log"
        ready = commands_registered(telegram)
        with running_bot(env, cwd=tmp_path, log_path=log_path, ready=ready):
            yield telegram, feeds, port, log_path


def _wait(predicate: Any, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_health_and_metrics_of_a_running_bot(
    running: tuple[FakeTelegram, FeedServer, int, Path],
) -> None:
    telegram, feeds, port, log_path = running
    base = f"http://127.0.0.1:{port}"
    assert get(f"{base}/healthz") == (200, "ok\n")

    def scraped() -> dict[str, float]:
        code, body = get(f"{base}/metrics")
        assert code == 200
        return samples(body)

    _wait(lambda: scraped().get("newsbot_feeds_polled_total", 0) >= 1, what="a poll")
    assert get(f"{base}/healthz") == (200, "ok\n")
    first = scraped()
    assert first["newsbot_instance_active"] == 1
    assert first["newsbot_database_up"] == 1
    assert first['newsbot_feeds{state="enabled"}'] == 1
    assert first["newsbot_queue_depth"] == 0
    assert first["newsbot_last_poll_job_timestamp_seconds"] > time.time() - 30

    # A subscriber and a new matching story: the alert is counted, with its latency.
    # The first poll stores the feed's stories as history.
    _wait(lambda: feed_seeded(log_path.parent / "newsbot.db"), what="the first poll")
    mark = telegram.mark()
    telegram.send_message_update(chat_id=CHAT, text="/subscribe harbour")
    telegram.wait_for_message(CHAT, "Subscribed", since=mark)
    feeds.set(
        "/feed.xml",
        rss(
            "Metric Wire",
            [
                {
                    "title": "Harbour cranes return to work",
                    "link": "https://news.example.org/2",
                    "guid": "s2",
                    "description": "The cranes were repaired overnight.",
                    "pub_date": datetime.now(UTC),
                }
            ],
        ),
    )
    telegram.wait_for_message(CHAT, "Harbour cranes return", since=mark, timeout=20)
    after = _wait(
        lambda: (s := scraped()).get('newsbot_messages_sent_total{kind="alert"}', 0) >= 1 and s,
        what="the alert in the metrics",
    )
    assert after["newsbot_new_entries_total"] >= 1
    assert after["newsbot_alerts_queued_total"] >= 1
    assert after["newsbot_alert_latency_seconds_count"] >= 1
    assert after["newsbot_alert_latency_seconds_sum"] < 30
    assert re.search(r"health and metrics on http://127\.0\.0\.1:\d+", log_path.read_text())
