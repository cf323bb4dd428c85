"""Measure poll rounds over many feeds served from 127.0.0.1.

A separate process serves N feeds (20-50 entries each, about 1-2 KB per entry) over a small
asyncio HTTP/1.1 server with keep-alive and ETags. The watcher (the real one: fetcher,
parser, SQLite storage, topic matching; FETCH_ARTICLES=false) polls every feed twice:

- cold: the first round, every feed answers 200 and all entries are stored as history;
- warm: every feed is due again; 90% answer 304 to the conditional GET and 10% carry
  1-3 new entries, which are summarized, matched and queued for a few subscribers.

Then, with FETCH_ARTICLES=true, a site on another host (127.0.0.2) joins:

- quiet: every feed answers 304; the new site's first poll stores one story as history;
- busy: every feed answers 304 again, while the new site suddenly carries 500 new
  stories whose article pages never answer. The other feeds must be done as fast as in
  the quiet round; the site's stories go out after ARTICLE_DEADLINE_SECONDS with their
  feed's descriptions.

It prints the wall time of each round, the entries parsed per second, the requests the
server answered and the peak RSS of the polling process.

    python bench/feeds.py [--feeds 1000] [--seed 7] [--concurrency 16] [--deadline 10]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

# The feed server and the parsing processes start by importing this module: it imports
# nothing heavy at the top, so their memory is what it would be under `newsbot run`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    import sqlalchemy as sa

    from bot.ingest.watcher import FeedWatcher

WORDS = """
council harbour minister engineers pumps river storm talks market shares ferry port strike
deal valley glacier election budget court ruling inquiry hospital school farmers harvest
drought rail bridge tunnel airport flights airline union wages prices energy grid turbines
solar coast flood rescue volunteers museum festival league final coach striker transfer bank
rates inflation exports tariffs summit treaty border ceasefire mayor city district police
report survey researchers study vaccine patients
""".split()  # noqa: SIM905
TOPICS = ["harbour strike", "glacier", "election OR budget"]


# ---------------------------------------------------------------------------------------
# Feed server (runs in its own process)
# ---------------------------------------------------------------------------------------


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _entry_xml(rng: random.Random, feed: int, n: int, when: datetime) -> str:
    title = _sentence(rng, rng.randint(6, 11)).rstrip(".")
    # 800-1700 characters of description: with the markup, 1-2 KB per entry.
    paragraphs: list[str] = []
    target = rng.randint(800, 1700)
    while sum(len(p) for p in paragraphs) < target:
        paragraphs.append(" ".join(_sentence(rng, rng.randint(12, 24)) for _ in range(3)))
    description = "".join(f"<p>{p}</p>" for p in paragraphs)
    link = f"https://news{feed}.example.org/{when:%Y/%m/%d}/story-{n}"
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link>"
        f'<guid isPermaLink="false">feed{feed}-story{n}</guid>'
        f"<pubDate>{format_datetime(when)}</pubDate>"
        f"<category>{rng.choice(WORDS)}</category>"
        f"<description>{escape(description)}</description></item>"
    )


def _feed_xml(feed: int, items: list[str]) -> bytes:
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Bench Feed {feed}</title><link>https://news{feed}.example.org/</link>"
        "<description>Generated stories</description>"
    )
    return (head + "".join(items) + "</channel></rss>\n").encode()


def build_feeds(count: int, seed: int) -> tuple[list[bytes], dict[int, bytes]]:
    """Return every feed's first document, and the changed documents of 10% of the feeds."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    cold: list[bytes] = []
    warm: dict[int, bytes] = {}
    changed = set(rng.sample(range(count), count // 10))
    for feed in range(count):
        size = rng.randint(20, 50)
        items = [_entry_xml(rng, feed, n, start - timedelta(minutes=17 * n)) for n in range(size)]
        cold.append(_feed_xml(feed, items))
        if feed in changed:
            new = [
                _entry_xml(rng, feed, 1000 + k, start + timedelta(minutes=5 * (k + 1)))
                for k in range(rng.randint(1, 3))
            ]
            warm[feed] = _feed_xml(feed, [*reversed(new), *items][:size])
    return cold, warm


SLOW_STORIES = 500
SLOW_HOST = "127.0.0.2"


def slow_site_feed(port: int, *, busy: bool) -> bytes:
    """Return the slow site's feed: one old story, or 500 new ones besides it."""
    rng = random.Random(99)
    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    base = f"http://{SLOW_HOST}:{port}/slow"
    items = [_entry_xml(rng, 5000, 0, start)]
    if busy:
        fresh = [
            _entry_xml(rng, 5000, n, start + timedelta(seconds=n))
            for n in range(1, SLOW_STORIES + 1)
        ]
        items = [*reversed(fresh), *items]
    body = _feed_xml(5000, items).decode()
    return body.replace("https://news5000.example.org/", f"{base}/page/").encode()


def serve(count: int, seed: int, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Serve the feeds until killed; GET /_warm and /_busy switch to the later rounds.

    The slow site is served on 127.0.0.2 at the same port; its article pages never answer.
    """
    cold, warm = build_feeds(count, seed)
    state = {"phase": "cold", "requests": 0, "not_modified": 0}
    slow: dict[str, bytes] = {}

    def current(feed: int) -> tuple[bytes, str]:
        if state["phase"] != "cold" and feed in warm:
            return warm[feed], f'"{feed}-2"'
        return cold[feed], f'"{feed}-1"'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if path in ("/_warm", "/_busy"):
                    state["phase"] = path[2:]
                    writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                elif path.startswith("/slow/page/"):
                    await asyncio.sleep(3600)  # a page that never comes
                elif path == "/slow/feed.xml":
                    body = slow["busy" if state["phase"] == "busy" else "quiet"]
                    etag = f'"slow-{state["phase"] == "busy"}"'
                    if headers.get("if-none-match") == etag:
                        writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n".encode())
                    else:
                        writer.write(
                            (
                                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                                f"ETag: {etag}\r\nContent-Length: {len(body)}\r\n\r\n"
                            ).encode()
                        )
                        writer.write(body)
                elif path == "/_stats":
                    body = f"{state['requests']} {state['not_modified']}".encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
                    writer.write(body)
                else:
                    state["requests"] += 1  # type: ignore[operator]
                    feed = int(path.removeprefix("/feed/").removesuffix(".xml"))
                    body, etag = current(feed)
                    if headers.get("if-none-match") == etag:
                        state["not_modified"] += 1  # type: ignore[operator]
                        writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n".encode())
                    else:
                        writer.write(
                            (
                                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; "
                                f"charset=utf-8\r\nETag: {etag}\r\n"
                                f"Content-Length: {len(body)}\r\n\r\n"
                            ).encode()
                        )
                        writer.write(body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
        port = server.sockets[0].getsockname()[1]
        site = await asyncio.start_server(handle, SLOW_HOST, port, backlog=512)
        slow["quiet"] = slow_site_feed(port, busy=False)
        slow["busy"] = slow_site_feed(port, busy=True)
        ready.put(port)
        async with server, site:
            await asyncio.gather(server.serve_forever(), site.serve_forever())

    asyncio.run(main())


# ---------------------------------------------------------------------------------------
# Polling side
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundFigures:
    seconds: float
    cpu: float  # this process and the parsing processes
    own_cpu: float  # this process
    polled: int
    parsed: int
    not_modified: int
    failed: int
    entries_parsed: int
    new_entries: int
    alerts: int


def cpu_seconds(pids: list[int]) -> float:
    """Return the CPU time (user + system) this process and the given ones have used."""
    own = os.times()
    total = own.user + own.system
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def worker_pids() -> list[int]:
    """Return the pids of the parsing processes, if any."""
    from bot.ingest.workers import CpuPool

    return [
        p.pid
        for pool in CpuPool._shared.values()
        for p in (pool._processes or {}).values()  # no public accessor
        if p.pid is not None
    ]


def peak_rss_mb() -> float:
    """Return the peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workers_peak_rss_mb(pids: list[int]) -> float:
    """Return the sum of the parsing processes' peak resident set sizes in MiB."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


async def poll_once(watcher: FeedWatcher, engine: sa.Engine, sizes: dict[int, int]) -> RoundFigures:
    import sqlalchemy as sa

    from bot.db.engine import session_scope
    from bot.db.models import Feed

    with session_scope(engine) as session:
        session.execute(sa.update(Feed).values(next_poll_at=None))
    cpu = cpu_seconds(worker_pids())
    own = cpu_seconds([])
    started = time.perf_counter()
    tasks = await watcher.launch_due()
    outcomes = await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(worker_pids()) - cpu
    own = cpu_seconds([]) - own
    parsed_ids = [o.feed_id for o in outcomes if o.status == "parsed"]
    return RoundFigures(
        seconds=seconds,
        cpu=cpu,
        own_cpu=own,
        polled=len(outcomes),
        parsed=len(parsed_ids),
        not_modified=sum(1 for o in outcomes if o.status == "not_modified"),
        failed=sum(1 for o in outcomes if o.status == "failed"),
        entries_parsed=sum(sizes.get(i, 0) for i in parsed_ids),
        new_entries=sum(o.new_entries for o in outcomes),
        alerts=sum(o.alerts_queued for o in outcomes),
    )


@dataclass(frozen=True, slots=True)
class PagesFigures:
    """A round with article pages on: when the other feeds and the slow site were done."""

    others_seconds: float
    others: int
    not_modified: int
    site_seconds: float
    site_new: int
    site_alerts: int


async def poll_with_site(watcher: FeedWatcher, engine: sa.Engine, site_url: str) -> PagesFigures:
    """Poll every feed; time the other feeds and the slow site separately."""
    import sqlalchemy as sa

    from bot.db.engine import session_scope
    from bot.db.models import Feed

    await watcher.flush()  # the last round's 304s, written in a batch
    with session_scope(engine) as session:
        session.execute(sa.update(Feed).values(next_poll_at=None))
        site_id = session.execute(sa.select(Feed.id).where(Feed.url == site_url)).scalar_one()
    started = time.perf_counter()
    tasks = await watcher.launch_due()
    site = [t for t in tasks if t.get_name() == f"poll-feed-{site_id}"]
    others = [t for t in tasks if t not in site]
    outcomes = await asyncio.gather(*others)
    others_seconds = time.perf_counter() - started
    (site_outcome,) = await asyncio.gather(*site)
    return PagesFigures(
        others_seconds=others_seconds,
        others=len(outcomes),
        not_modified=sum(1 for o in outcomes if o.status == "not_modified"),
        site_seconds=time.perf_counter() - started,
        site_new=site_outcome.new_entries,
        site_alerts=site_outcome.alerts_queued,
    )


def entries_per_feed(engine: sa.Engine) -> dict[int, int]:
    from bot.db import feeds as feeds_db
    from bot.db.engine import session_scope

    with session_scope(engine) as session:
        return feeds_db.entry_counts(session=session)


async def run(args: argparse.Namespace) -> None:
    import httpx
    import sqlalchemy as sa

    from bot.config import get_settings
    from bot.db import chats as chats_db
    from bot.db import feeds as feeds_db
    from bot.db import migrate, subscriptions
    from bot.db.engine import make_engine, session_scope
    from bot.db.models import Delivery, Entry
    from bot.ingest.topic_cache import TopicCache
    from bot.ingest.watcher import FeedWatcher
    from bot.ingest.workers import parse_processes
    from bot.topics import parse_query

    ctx = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    server = ctx.Process(target=serve, args=(args.feeds, args.seed, ready), daemon=True)
    started = time.perf_counter()
    server.start()
    port = ready.get(timeout=300)
    print(f"server: {args.feeds} feeds generated in {time.perf_counter() - started:.1f} s")
    base = f"http://127.0.0.1:{port}"

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        migrate.upgrade(engine)
        settings = get_settings(
            database_url=url,
            allow_private_networks=True,
            fetch_articles=False,
            fetch_concurrency=args.concurrency,
            poll_interval_seconds=120,
            parse_processes=args.parse_processes,
        )
        with session_scope(engine) as session:
            feeds_db.add_feeds(
                session=session, urls=[f"{base}/feed/{n}.xml" for n in range(args.feeds)]
            )
            for chat, topic in enumerate(TOPICS, start=1):
                query = parse_query(topic)
                chats_db.register_chat(
                    session=session, chat_id=chat, chat_type="private", title=None
                )
                subscriptions.subscribe(
                    session=session, chat_id=chat, canonical=query.canonical, display=query.display
                )
        watcher = FeedWatcher(engine=engine, settings=settings, topics=TopicCache())
        try:
            cold = await poll_once(watcher, engine, {})
            sizes = entries_per_feed(engine)
            cold = dataclasses.replace(cold, entries_parsed=sum(sizes.values()))
            rss_cold = peak_rss_mb()
            async with httpx.AsyncClient() as control:
                await control.get(f"{base}/_warm")
            warm_sizes = {i: min(n, 50) for i, n in sizes.items()}
            warm = await poll_once(watcher, engine, warm_sizes)
            async with httpx.AsyncClient() as control:
                served, not_modified = (await control.get(f"{base}/_stats")).text.split()
            workers = worker_pids()
            workers_rss = workers_peak_rss_mb(workers)
        finally:
            await watcher.aclose()
        with session_scope(engine) as session:
            stored = session.execute(sa.select(sa.func.count()).select_from(Entry)).scalar_one()
            queued = session.execute(sa.select(sa.func.count()).select_from(Delivery)).scalar_one()
        # Article pages on, and a new site whose pages hang joins.
        site_url = f"http://127.0.0.2:{port}/slow/feed.xml"
        with session_scope(engine) as session:
            feeds_db.add_feeds(session=session, urls=[site_url])
        pages_settings = settings.model_copy(
            update={"fetch_articles": True, "article_deadline_seconds": args.deadline}
        )
        watcher = FeedWatcher(engine=engine, settings=pages_settings, topics=TopicCache())
        try:
            quiet = await poll_with_site(watcher, engine, site_url)
            async with httpx.AsyncClient() as control:
                await control.get(f"{base}/_busy")
            busy = await poll_with_site(watcher, engine, site_url)
        finally:
            await watcher.aclose()
        engine.dispose()
    server.kill()

    print(
        f"settings: FETCH_CONCURRENCY={args.concurrency} (4 per host), "
        f"PARSE_PROCESSES={args.parse_processes} ({parse_processes(args.parse_processes)} "
        f"on {os.cpu_count()} CPUs), SQLite, FETCH_ARTICLES=false"
    )
    for name, r in (("cold", cold), ("warm", warm)):
        rate = r.entries_parsed / r.seconds if r.seconds else 0.0
        print(
            f"{name} round: {r.seconds:6.2f} s (CPU {r.cpu:.1f} s, {r.own_cpu:.1f} s of it outside "
            f"the parsing processes)  feeds {r.polled} "
            f"(parsed {r.parsed}, 304 {r.not_modified}, failed {r.failed})  "
            f"entries parsed {r.entries_parsed} ({rate:,.0f}/s)  "
            f"new entries {r.new_entries}  alerts queued {r.alerts}"
        )
    print(f"server answered {served} feed requests, {not_modified} of them 304")
    print(
        f"FETCH_ARTICLES=true, ARTICLE_DEADLINE_SECONDS={args.deadline:g}, "
        f"a new site on {SLOW_HOST} whose article pages never answer:"
    )
    for name, p in (("quiet", quiet), ("busy", busy)):
        print(
            f"{name} round: the other {p.others} feeds ({p.not_modified} × 304) done in "
            f"{p.others_seconds:.2f} s; the new site done in {p.site_seconds:.2f} s "
            f"({p.site_new} new stories, {p.site_alerts} alerts queued)"
        )
    print(f"after the warm round: entries stored {stored}, alerts queued {queued}")
    print(
        f"peak RSS: {rss_cold:.0f} MiB after the cold round, {peak_rss_mb():.0f} MiB at the end; "
        f"{len(workers)} parsing processes {workers_rss:.0f} MiB together"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--deadline", type=float, default=10.0, help="ARTICLE_DEADLINE_SECONDS for the last rounds"
    )
    parser.add_argument(
        "--parse-processes", default="auto", help="PARSE_PROCESSES: auto, or 0 (threads) to 32"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
