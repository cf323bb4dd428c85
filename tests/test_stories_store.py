"""Stories at store time: entries join stories in the storing transaction, one alert per story
per chat, later reports queue paced edits, and a restart rebuilds the open stories."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import generate_latest
from sqlalchemy.engine import Engine

from bot.cli.cluster import run_cluster
from bot.db import chats as chats_db
from bot.db import feeds as feeds_db
from bot.db import stories as stories_db
from bot.db import subscriptions
from bot.db.engine import session_scope
from bot.db.models import Delivery, DeliveryState, utcnow
from bot.db.stats import read_stats
from bot.handlers.stats import stats_text
from bot.ingest.store import NewEntry, store_entries
from bot.ingest.story_groups import StoryGroups
from bot.ingest.topic_cache import TopicCache
from bot.services.stats import scrape_registry
from bot.topics import parse_query

QUAKE = "Strong earthquake shakes northern Chile, buildings damaged in Antofagasta"
QUAKE_2 = "Antofagasta earthquake: magnitude 7.1 tremor damages buildings in northern Chile"
QUAKE_3 = "Chile earthquake of magnitude 7.1 leaves Antofagasta buildings damaged"
BUDGET = "Parliament passes the spring budget after a long night of votes"


def _entry(n: int, title: str, at: datetime, desc: str = "") -> NewEntry:
    return NewEntry(
        key=f"k-{n}",
        link=f"https://w{n}.example/{n}",
        link_key=f"w{n}.example/{n}",
        title=title,
        summary=desc or title,
        description=desc,
        categories=(),
        published=at,
    )


def _setup(engine: Engine, subs: dict[int, str]) -> list[int]:
    with session_scope(engine) as s:
        feeds = feeds_db.add_feeds(
            session=s, urls=[f"https://f{n}.example/rss" for n in range(3)], now=utcnow()
        )
        for chat, query in subs.items():
            chats_db.register_chat(session=s, chat_id=chat, chat_type="private", title=None)
            q = parse_query(query)
            subscriptions.subscribe(
                session=s, chat_id=chat, canonical=q.canonical, display=q.display
            )
    return [f.id or 0 for f in feeds]


def _rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def _store(engine: Engine, groups: StoryGroups, feed: int, *items: NewEntry) -> int:
    report = store_entries(
        engine=engine,
        topics=TopicCache(),
        feed_id=feed,
        items=list(items),
        history=False,
        stories=groups,
    )
    return report.alerts_queued


def test_second_report_edits_and_new_topic_alerts_once(engine: Engine) -> None:
    feeds = _setup(engine, {1: "earthquake", 2: "chile", 3: "budget"})
    groups = StoryGroups(edit_interval=timedelta(minutes=10))
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    # The first report matches "earthquake" and "chile": both chats are alerted.
    assert _store(engine, groups, feeds[0], _entry(1, QUAKE, t0)) == 2
    assert _rows(engine, "select count(*) from story") == [(1,)]
    story = _rows(engine, "select story_id from entry where key = 'k-1'")[0][0]

    # Same event in other words, minutes later, from another feed: no alert, one edit each.
    assert _store(engine, groups, feeds[1], _entry(2, QUAKE_2, t0 + timedelta(minutes=5))) == 0
    assert _rows(engine, "select story_id from entry where key = 'k-2'") == [(story,)]
    assert _rows(engine, "select sources from story") == [(2,)]
    edits = _rows(
        engine, "select chat_id from delivery where entry_id is null and story_id = :s", s=story
    )
    assert sorted(edits) == [(1,), (2,)]

    # A third report before the edit went out adds no row: the queued edit will carry it.
    assert _store(engine, groups, feeds[2], _entry(3, QUAKE_3, t0 + timedelta(minutes=6))) == 0
    assert len(_rows(engine, "select id from delivery where entry_id is null")) == 2

    # An unrelated story alerts as usual.
    assert _store(engine, groups, feeds[0], _entry(4, BUDGET, t0 + timedelta(minutes=7))) == 1
    assert _rows(engine, "select count(*) from story") == [(2,)]
    assert _rows(engine, "select count(*) from story_chat") == [(1 + 2,)]


def test_a_later_report_matching_another_topic_alerts_that_topic_once(engine: Engine) -> None:
    feeds = _setup(engine, {1: "earthquake", 2: "magnitude"})
    groups = StoryGroups()
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    assert _store(engine, groups, feeds[0], _entry(1, QUAKE, t0)) == 1  # chat 1 only
    # The second names the magnitude: chat 2 gets its first alert, chat 1 an edit.
    assert _store(engine, groups, feeds[1], _entry(2, QUAKE_2, t0 + timedelta(minutes=5))) == 1
    alerts = _rows(engine, "select chat_id, entry_id from delivery where entry_id is not null")
    assert sorted(c for c, _ in alerts) == [1, 2]
    assert _rows(engine, "select chat_id from delivery where entry_id is null") == [(1,)]
    # The third matches both: no new alert, no second edit while one is queued.
    assert _store(engine, groups, feeds[2], _entry(3, QUAKE_3, t0 + timedelta(minutes=6))) == 0
    assert sorted(_rows(engine, "select chat_id from delivery where entry_id is null")) == [
        (1,),
        (2,),
    ]


def test_edits_wait_for_the_interval_after_the_last_one(engine: Engine) -> None:
    feeds = _setup(engine, {1: "earthquake"})
    groups = StoryGroups(edit_interval=timedelta(minutes=10))
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    _store(engine, groups, feeds[0], _entry(1, QUAKE, t0))
    _store(engine, groups, feeds[1], _entry(2, QUAKE_2, t0 + timedelta(minutes=5)))
    story = _rows(engine, "select id from story")[0][0]
    # The sender claims the edit (here straight in storage): the chat's edit is no longer
    # queued and was made now.
    with session_scope(engine) as s:
        edit = s.exec(
            sa.select(Delivery).where(Delivery.entry_id.is_(None))  # type: ignore[union-attr]
        ).scalar_one()
        s.execute(sa.update(Delivery).values(state=DeliveryState.SENT, message_id=7))
        claimed_at = utcnow()
        stories_db.edit_payloads(session=s, rows=[edit], now=claimed_at)
    _store(engine, groups, feeds[2], _entry(3, QUAKE_3, t0 + timedelta(minutes=6)))
    due = _rows(
        engine,
        "select next_attempt_at from delivery where entry_id is null and state = 'queued'",
    )
    assert len(due) == 1
    when = due[0][0]
    when = datetime.fromisoformat(when) if isinstance(when, str) else when
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    assert timedelta(minutes=9) < when - claimed_at <= timedelta(minutes=10, seconds=1)
    assert _rows(engine, "select sources from story where id = :s", s=story) == [(3,)]


def test_a_restart_keeps_grouping_and_sends_nothing_again(engine: Engine) -> None:
    feeds = _setup(engine, {1: "earthquake"})
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    _store(engine, StoryGroups(), feeds[0], _entry(1, QUAKE, t0))
    # A new process: its engine is rebuilt from the stored stories of the window.
    fresh = StoryGroups()
    assert _store(engine, fresh, feeds[1], _entry(2, QUAKE_2, t0 + timedelta(minutes=5))) == 0
    assert _rows(engine, "select count(distinct story_id) from entry") == [(1,)]
    assert _rows(engine, "select count(*) from delivery where entry_id is not null") == [(1,)]


def test_stats_and_pruning(engine: Engine) -> None:
    feeds = _setup(engine, {})
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    groups = StoryGroups()
    _store(engine, groups, feeds[0], _entry(1, QUAKE, t0), _entry(4, BUDGET, t0))
    _store(engine, groups, feeds[1], _entry(2, QUAKE_2, t0 + timedelta(minutes=5)))
    with session_scope(engine) as s:
        count, average = stories_db.story_stats(session=s, since=utcnow() - timedelta(days=1))
        assert (count, average) == (2, 1.5)
        stats = read_stats(session=s, now=utcnow())
    assert "Stories in the last 24 hours: 2, 1.5 sources per story" in stats_text(stats)
    scraped = generate_latest(scrape_registry(engine)).decode()
    assert "newsbot_stories_24h 2.0" in scraped.splitlines()
    assert "newsbot_story_sources_avg 1.5" in scraped.splitlines()
    with session_scope(engine) as s:
        # Entries stay while their feed carries them: nothing to prune.
        assert stories_db.prune_stories(session=s, older_than=utcnow() + timedelta(days=1)) == 0
        s.execute(sa.text("delete from entry"))
        assert stories_db.prune_stories(session=s, older_than=utcnow() + timedelta(days=1)) == 2


def test_the_watcher_groups_as_newsbot_cluster_does(engine: Engine) -> None:
    feeds = _setup(engine, {})
    t0 = datetime.now(UTC) - timedelta(hours=3)
    titles = [
        QUAKE,
        BUDGET,
        QUAKE_2,
        "Spring budget vote: parliament passes it after the night",
        QUAKE_3,
    ]
    items = [_entry(n, t, t0 + timedelta(minutes=20 * n)) for n, t in enumerate(titles)]
    groups = StoryGroups()
    for n, item in enumerate(items):
        _store(engine, groups, feeds[n % 3], item)
    stored = _rows(engine, "select key, story_id from entry order by id")
    first = {sid: key for key, sid in reversed(stored)}
    by_store = [first[sid] for _, sid in stored]
    lines = "".join(
        json.dumps(
            {
                "id": i.key,
                "title": i.title,
                "summary": i.description or i.summary,
                "published": i.published.isoformat() if i.published else None,
            }
        )
        + "\n"
        for i in items
    )
    out = io.StringIO()
    assert run_cluster(source=None, stdin=io.StringIO(lines), stdout=out, stderr=io.StringIO()) == 0
    by_cli = [json.loads(line)["story"] for line in out.getvalue().splitlines()]
    assert by_store == by_cli
    assert len(set(by_cli)) == 2


def test_two_writers_racing_for_a_story_alert_one_chat_once(engine: Engine) -> None:
    feeds = _setup(engine, {c: "earthquake" for c in range(1, 41)})
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    _store(engine, StoryGroups(), feeds[0], _entry(1, QUAKE, t0))
    story = _rows(engine, "select id from story")[0][0]
    with session_scope(engine) as s:
        s.execute(sa.text("delete from story_chat"))
    chats = list(range(1, 41))
    won: list[set[int]] = []
    start = threading.Barrier(2)

    def claim() -> None:
        start.wait()
        with session_scope(engine) as s:
            won.append(stories_db.claim_alerts(session=s, story_id=story, chats=chats))

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 2
    assert won[0] | won[1] == set(chats)
    assert won[0] & won[1] == set()


def test_a_migrated_chat_gets_no_second_alert_for_a_story(engine: Engine) -> None:
    feeds = _setup(engine, {-5: "earthquake"})
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    groups = StoryGroups()
    assert _store(engine, groups, feeds[0], _entry(1, QUAKE, t0)) == 1
    with session_scope(engine) as s:
        chats_db.migrate_chat(session=s, old_id=-5, new_id=-1005)
    assert _rows(engine, "select chat_id from story_chat") == [(-1005,)]
    assert _store(engine, groups, feeds[1], _entry(2, QUAKE_2, t0 + timedelta(minutes=5))) == 0


def test_a_process_reads_the_stories_another_placed_since(engine: Engine) -> None:
    feeds = _setup(engine, {1: "earthquake"})
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    mine, theirs = StoryGroups(), StoryGroups()
    _store(engine, mine, feeds[0], _entry(4, BUDGET, t0))  # both engines are up and running
    _store(engine, theirs, feeds[1], _entry(5, "Storm closes three mountain passes", t0))
    # The other process stores the first earthquake report; this one the second.
    assert _store(engine, theirs, feeds[1], _entry(1, QUAKE, t0 + timedelta(minutes=1))) == 1
    assert _store(engine, mine, feeds[0], _entry(2, QUAKE_2, t0 + timedelta(minutes=5))) == 0
    assert _rows(
        engine, "select count(distinct story_id) from entry where key in ('k-1', 'k-2')"
    ) == [(1,)]
