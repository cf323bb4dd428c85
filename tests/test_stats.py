"""/stats, /broadcast status and /metrics read one query, so they tell the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from bot.db.engine import session_scope
from bot.db.models import Broadcast, Chat, Delivery, Entry, Feed
from bot.db.stats import read_stats
from bot.handlers.broadcast import status_text
from bot.handlers.stats import stats_text
from bot.services.broadcasts import Broadcasts
from bot.services.stats import StatsReader, scrape_registry

# Outbox rows of one broadcast being sent, by state.
STATES = {"sent": 5, "failed": 1, "cancelled": 1, "dead": 2, "unknown": 1, "queued": 3}


def metric_samples(engine: Engine) -> dict[str, float]:
    text = generate_latest(scrape_registry(engine)).decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def seed(engine: Engine) -> None:
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
    seed(engine)
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
    found = metric_samples(engine)
    assert found['newsbot_broadcast_messages{broadcast="7",state="sent"}'] == 5
    assert found['newsbot_broadcast_messages{broadcast="7",state="failed"}'] == failed
    assert found['newsbot_broadcast_messages{broadcast="7",state="unknown"}'] == 1
    assert found['newsbot_broadcast_messages{broadcast="7",state="pending"}'] == 3
    assert found["newsbot_dead_letters"] == 3
    assert found["newsbot_queue_depth"] == 3
    assert found['newsbot_chats{state="active"}'] == stats.chats_active


def test_one_reading_for_every_surface(engine: Engine) -> None:
    seed(engine)
    with session_scope(engine) as s:
        stats = read_stats(session=s, now=datetime.now(UTC))
    found = metric_samples(engine)
    assert found["newsbot_queue_due"] == stats.due
    assert found['newsbot_feeds{state="enabled"}'] == stats.feeds_enabled
    for state, count in stats.deliveries.items():
        assert found[f'newsbot_outbox_messages{{state="{state}"}}'] == count
