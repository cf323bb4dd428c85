"""Measure what grouping costs the watcher: storing headlines with and without stories.

Usage: python bench/stories_store.py [PATH_TO_CSV] [--batch 20]

The CSV (default ../shared/data/news-stories-dev.csv from the repository root) has the
columns id, title, source, published (ISO 8601). Its headlines, moved in time to end a
minute ago, are stored in time order in batches, as feed polls store them, on a fresh
SQLite database: once without grouping, once with it (one subscriber per run, so alerts
and edits are queued too). Then a new process's engine is rebuilt from the stored stories.
The stories found are compared with `newsbot cluster` on the same headlines.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.cli.cluster import run_cluster
from bot.db import chats as chats_db
from bot.db import feeds as feeds_db
from bot.db import migrate, subscriptions
from bot.db.engine import make_engine, session_scope
from bot.db.models import utcnow
from bot.ingest.store import NewEntry, store_entries
from bot.ingest.story_groups import StoryGroups
from bot.ingest.topic_cache import TopicCache
from bot.topics import parse_query

DEFAULT_CSV = Path("../shared/data/news-stories-dev.csv")


def _when(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()
    rows = sorted(csv.DictReader(args.csv.open(encoding="utf-8")), key=lambda r: r["published"])
    shift = utcnow() - _when(rows[-1]["published"]) - timedelta(minutes=1)
    items = [
        NewEntry(
            key=r["id"],
            link=f"https://news.example/{r['id']}",
            link_key=None,
            title=r["title"],
            summary="",
            description="",
            categories=(),
            published=_when(r["published"]) + shift,
        )
        for r in rows
    ]
    for grouped in (False, True):
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            migrate.upgrade(engine)
            with session_scope(engine) as s:
                feed = feeds_db.add_feeds(session=s, urls=["https://x.example/f"], now=utcnow())
                chats_db.register_chat(session=s, chat_id=1, chat_type="private", title=None)
                q = parse_query("fed")
                subscriptions.subscribe(
                    session=s, chat_id=1, canonical=q.canonical, display=q.display
                )
            feed_id = feed[0].id or 0
            groups = StoryGroups() if grouped else None
            start = time.perf_counter()
            for i in range(0, len(items), args.batch):
                store_entries(
                    engine=engine,
                    topics=TopicCache(),
                    feed_id=feed_id,
                    items=items[i : i + args.batch],
                    history=False,
                    stories=groups,
                )
            took = time.perf_counter() - start
            with engine.connect() as conn:
                stories = conn.execute(sa.text("select count(*) from story")).scalar_one()
                queued = conn.execute(
                    sa.text("select sum(entry_id is not null), sum(entry_id is null) from delivery")
                ).one()
            print(
                f"grouping {'on ' if grouped else 'off'}: {len(items)} headlines in {took:.2f} s "
                f"({len(items) / took:,.0f}/s), {stories} stories, "
                f"alerts {queued[0] or 0}, edits {queued[1] or 0}"
            )
            if grouped:
                rebuilt = StoryGroups()
                start = time.perf_counter()
                with session_scope(engine) as s:
                    rebuilt.catch_up(session=s, now=utcnow())
                print(f"rebuild at start: {time.perf_counter() - start:.2f} s")
                with engine.connect() as conn:
                    by_entry = dict(conn.execute(sa.text("select key, story_id from entry")).all())
            engine.dispose()
    lines = "".join(
        json.dumps({"id": i.key, "title": i.title, "published": i.published.isoformat()}) + "\n"
        for i in items
        if i.published is not None
    )
    out = io.StringIO()
    run_cluster(source=None, stdin=io.StringIO(lines), stdout=out, stderr=sys.stderr)
    cli = {r["id"]: r["story"] for r in map(json.loads, out.getvalue().splitlines())}
    first = {sid: key for key, sid in sorted(by_entry.items(), key=lambda kv: -int(kv[0]))}
    same = sum(first[by_entry[key]] == cli[key] for key in cli)
    print(f"same story as `newsbot cluster`: {same} of {len(cli)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
