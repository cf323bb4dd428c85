"""Measure building the digests of many chats due at one digest time.

N private chats in digest mode (08:00, Europe/Berlin) each hold S stories under a few
topics; the digest job's service releases every due digest at 08:00: claims each chat's
release, takes its held stories, renders one message per chat and queues one outbox row
each. Run twice on the same data: once timed, once under tracemalloc for peak memory (the
Python heap; the database's own memory is not counted). Checks that every chat got exactly
one digest, within Telegram's 4096-character limit.

    python bench/digests.py [--chats 10000] [--stories 12] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bot.db import migrate  # noqa: E402
from bot.db.engine import make_engine, session_scope  # noqa: E402
from bot.db.models import (  # noqa: E402
    Chat,
    ChatPreference,
    Entry,
    Feed,
    HeldAlert,
    Subscription,
    Topic,
)
from bot.delivery.digest import render_digest  # noqa: E402
from bot.delivery.render import utf16_len, visible_text  # noqa: E402
from bot.services.preferences import Digests  # noqa: E402

POSTGRES_URL = os.environ.get(
    "NEWSBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DUE = datetime(2026, 6, 2, 6, tzinfo=UTC)  # 08:00 in Berlin
HELD_AT = datetime(2026, 6, 1, 18, tzinfo=UTC)
TOPICS = ["Harbour", "Rail strike", "Council", "Weather", "Football"]
ENTRIES = 400


@contextmanager
def database(postgres: bool, folder: Path) -> Iterator[str]:
    """Yield the URL of an empty database (a schema of its own on PostgreSQL)."""
    if not postgres:
        yield f"sqlite:///{folder / 'digests.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def seed(engine: Engine, chats: int) -> None:
    """Store the chats in digest mode, their topics and the stories they could hold."""
    ids = range(100_000, 100_000 + chats)
    with session_scope(engine) as s:
        s.execute(sa.insert(Chat), [{"id": c, "type": "private", "active": True} for c in ids])
        s.execute(
            sa.insert(ChatPreference),
            [
                {
                    "chat_id": c,
                    "mode": "digest",
                    "digest_times": "08:00",
                    "quiet_mode": "hold",
                    "timezone": "Europe/Berlin",
                    "link_previews": True,
                    "updated_at": HELD_AT,
                }
                for c in ids
            ],
        )
        topics = [Topic(canonical=t.lower(), display=t) for t in TOPICS]
        s.add_all(topics)
        feed = Feed(url="https://wire.example/bench.xml", title="Bench Wire", seeded=True)
        s.add(feed)
        s.flush()
        s.execute(
            sa.insert(Subscription),
            [{"chat_id": c, "topic_id": t.id, "created_at": HELD_AT} for c in ids for t in topics],
        )
        s.execute(
            sa.insert(Entry),
            [
                {
                    "feed_id": feed.id,
                    "key": f"story-{n}",
                    "link": f"https://wire.example/stories/{n}?from=bench&id={n}",
                    "title": f"{TOPICS[n % len(TOPICS)]}: council & unions meet <again>, day {n}",
                    "summary": "",
                    "description": "",
                    "categories": "",
                    "published_at": HELD_AT,
                    "seen_at": HELD_AT,
                    "last_seen_at": HELD_AT,
                    "is_history": False,
                }
                for n in range(ENTRIES)
            ],
        )


def hold(engine: Engine, chats: int, stories: int) -> None:
    """Hold `stories` stories for each chat and make every digest due at DUE."""
    with session_scope(engine) as s:
        s.execute(sa.text("DELETE FROM delivery"))
        s.execute(sa.text("DELETE FROM digest"))
        topic_ids = [row[0] for row in s.execute(sa.text("SELECT id FROM topic ORDER BY id"))]
        entry_ids = [row[0] for row in s.execute(sa.text("SELECT id FROM entry ORDER BY id"))]
        rows = []
        for n, chat in enumerate(range(100_000, 100_000 + chats)):
            for k in range(stories):
                entry = entry_ids[(n * 7 + k * 13) % len(entry_ids)]
                rows.append(
                    {
                        "chat_id": chat,
                        "entry_id": entry,
                        "topic_id": topic_ids[entry % len(topic_ids)],
                        "thread_id": None,
                        "held_at": HELD_AT,
                    }
                )
        s.execute(sa.insert(HeldAlert), rows)
        s.execute(sa.update(ChatPreference).values(next_digest_at=DUE))


def release(engine: Engine) -> tuple[int, int]:
    report = asyncio.run(Digests(engine).release_due(render_digest, now=DUE))
    return report.digests, report.stories


def check(engine: Engine, chats: int) -> tuple[int, int]:
    """Return (digests, the longest digest's visible length); assert one per chat."""
    with engine.connect() as conn:
        per_chat = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT chat_id) FROM delivery WHERE digest_id IS NOT NULL"
            )
        ).one()
        longest = max(
            utf16_len(visible_text(html))
            for (html,) in conn.execute(sa.text("SELECT html FROM digest"))
        )
        left = conn.execute(sa.text("SELECT count(*) FROM held_alert")).scalar_one()
    assert per_chat[0] == per_chat[1] == chats, per_chat
    assert left == 0 and longest <= 4096
    return per_chat[0], longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--stories", type=int, default=12, help="stories held per chat")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    kind = "postgresql" if args.postgres else "sqlite"
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {kind}; {args.chats:,} chats "
        f"in digest mode, {args.stories} held stories each, all due at 08:00 Europe/Berlin"
    )
    with (
        tempfile.TemporaryDirectory(prefix="digests-") as tmp,
        database(args.postgres, Path(tmp)) as url,
    ):
        engine = make_engine(url)
        migrate.upgrade(engine)
        seed(engine, args.chats)
        hold(engine, args.chats, args.stories)
        started = time.perf_counter()
        digests, stories = release(engine)
        took = time.perf_counter() - started
        _, longest = check(engine, args.chats)
        print(
            f"  built and queued {digests:,} digests ({stories:,} stories) in {took:.2f} s "
            f"({took / max(digests, 1) * 1000:.2f} ms a digest); longest {longest} characters"
        )
        hold(engine, args.chats, args.stories)
        tracemalloc.start()
        release(engine)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        check(engine, args.chats)
        print(f"  peak Python memory while releasing: {peak / 2**20:.1f} MiB")
        engine.dispose()


if __name__ == "__main__":
    main()
