"""Measure the door under load: answers to people while alerts fan out, and outages.

`newsbot run` runs as a process against the stand-in Bot API (tests/support) with Telegram's
limits on: 30 messages a second for the bot, bursts of 5 then 1 a second per chat, 20 a
minute per group, 429 with retry_after past them. SEND_RATE is 30. Three scenarios, one
after the other, in the same process:

(a) 300 new users press Start within one second.
(b) 40 people ask /latest while one alert fans out to 1,000 chats.
(c) one alert to 1,000 chats with 20 s of dropped connections (the Bot API refuses
    connections and cuts open ones) and later 20 s of hanging requests in its middle.

Printed: answered / total, p50, p95 and slowest reply latency (from the update being
offered to the bot to the answer leaving the stand-in), 429s, the fan-outs' completion, and
for (c) the messages in flight when each outage began, the sends that reached the dead link,
and lost and repeated alerts.

    python bench/replies.py [--db sqlite|postgresql] [--users 300] [--chats 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.fanout import QuietTelegram, database  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.db.engine import make_engine  # noqa: E402
from tests.support.alerts import fanout_env, feed_items, queue_alert  # noqa: E402
from tests.support.bot_process import commands_registered, running_bot  # noqa: E402
from tests.support.feed_server import FeedServer, rss  # noqa: E402
from tests.support.telegram_api import ClockedTelegram  # noqa: E402

POSTGRES_URL = os.environ.get(
    "NEWSBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SEND_RATE = 30  # as fanout_env sets it
NEWCOMERS = 1_000_000
FANOUT_B = 2_000_000
ASKERS = 3_000_000
FANOUT_C = 4_000_000


def pct(values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def latency_line(latencies: dict[int, float | None], total: int) -> str:
    got = [v for v in latencies.values() if v is not None]
    if not got:
        return f"answered 0/{total}"
    return (
        f"answered {len(got)}/{total}   p50 {statistics.median(got):.2f} s   "
        f"p95 {pct(got, 0.95):.2f} s   slowest {max(got):.2f} s"
    )


def first_answers(tg: ClockedTelegram, asked: dict[int, float]) -> dict[int, float | None]:
    """Return, per chat, the seconds from its question to the first message it got after."""
    first: dict[int, float] = {}
    for at, chat, status in list(tg.answers):
        if status == 200 and chat in asked and at >= asked[chat] and chat not in first:
            first[chat] = at - asked[chat]
    return {chat: first.get(chat) for chat in asked}


def queue(engine: Engine, chats: list[int], word: str) -> str:
    """Queue one story's alerts to the chats; return its title."""
    title = f"{word.title()} warning issued for the valley"
    queue_alert(engine, chats, word=word, title=title)
    return title


def received(tg: ClockedTelegram, title: str, first: int) -> Counter[int]:
    """Return how many alerts with `title` each fan-out chat (ids from `first`) received."""
    return Counter(
        m.chat_id for m in tg.messages() if title in m.plain and first <= m.chat_id < first + 10**6
    )


def open_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        query = "select count(*) from delivery where state in ('queued', 'sending')"
        return int(conn.execute(sa.text(query)).scalar_one())


def wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def scenario_a(tg: ClockedTelegram, users: int) -> None:
    asked: dict[int, float] = {}
    start = time.monotonic()
    for n in range(users):
        chat = NEWCOMERS + n
        # Spread over one second.
        delay = start + n / users - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        asked[chat] = time.monotonic()
        tg.send_message_update(chat_id=chat, text="/start")
    wait(lambda: len([v for v in first_answers(tg, asked).values() if v]) == users, 60, "(a)")
    print(f"(a) {users} new users press Start within one second")
    print(f"    {latency_line(first_answers(tg, asked), users)}   429s {tg.too_many_requests}")


def scenario_b(tg: ClockedTelegram, engine: Engine, chats: int) -> None:
    before = tg.too_many_requests
    title = queue(engine, [FANOUT_B + n for n in range(chats)], "flood")
    wait(lambda: len(received(tg, title, FANOUT_B)) >= 30, 30, "the fan-out to start")
    started = time.monotonic()
    asked: dict[int, float] = {}
    for n in range(40):
        chat = ASKERS + n
        asked[chat] = time.monotonic()
        tg.send_message_update(chat_id=chat, text="/latest")
        time.sleep(0.5)
    wait(lambda: open_rows(engine) == 0, 120, "the fan-out to finish")
    stamps = [t for t, c, s in tg.answers if s == 200 and FANOUT_B <= c < FANOUT_B + chats]
    got = received(tg, title, FANOUT_B)
    span = max(stamps) - min(stamps)
    print(f"(b) 40 people ask /latest during a {chats:,}-chat alert fan-out at {SEND_RATE}/s")
    print(
        f"    {latency_line(first_answers(tg, asked), 40)}   429s {tg.too_many_requests - before}"
    )
    print(
        f"    fan-out: {len(got):,}/{chats:,} chats in {span:.1f} s ({(len(stamps) - 1) / span:.1f}"
        f" msg/s); the questions came {started - min(stamps):.1f}-"
        f"{max(asked.values()) - min(stamps):.1f} s into it"
    )


def scenario_c(tg: ClockedTelegram, engine: Engine, chats: int) -> None:
    before = tg.too_many_requests
    ids = [FANOUT_C + n for n in range(chats)]
    title = queue(engine, ids, "storm")
    print(f"(c) {chats:,}-chat alert fan-out with 20 s of dropped connections, then 20 s hanging")
    for mode, after in (("drop", chats // 4), ("hang", chats // 2)):
        wait(lambda n=after: len(received(tg, title, FANOUT_C)) >= n, 120, f"{after} alerts")
        hits = tg.outage_hits("sendMessage")
        probes = tg.outage_hits("getMe")
        in_flight = tg.outage(mode)
        began = time.monotonic()
        time.sleep(20)
        reached = tg.outage_hits("sendMessage") - hits
        probed = tg.outage_hits("getMe") - probes
        tg.outage(None)
        ended = time.monotonic()
        count = len(received(tg, title, FANOUT_C))
        wait(lambda c=count: len(received(tg, title, FANOUT_C)) > c, 60, "sending to resume")
        resumed = min(t for t, c, s in tg.answers if s == 200 and c in set(ids) and t > ended)
        print(
            f"    {mode:<4}: in flight at its start {in_flight}; sends that reached it "
            f"{reached} (+{probed} getMe probes) in {ended - began:.0f} s; "
            f"alerts again {resumed - ended:.1f} s after it ended"
        )
    wait(lambda: open_rows(engine) == 0, 180, "the fan-out to finish")
    got = received(tg, title, FANOUT_C)
    lost = sum(1 for c in ids if got[c] == 0)
    repeated = sum(n - 1 for n in got.values() if n > 1)
    with engine.connect() as conn:
        unknown = conn.execute(
            sa.text("select count(*) from delivery where state = 'unknown'")
        ).scalar_one()
    print(
        f"    fan-out: {len(got):,}/{chats:,} chats; lost {lost}, repeated {repeated}, "
        f"closed as unknown {unknown}; 429s {tg.too_many_requests - before}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--users", type=int, default=300, help="new users in (a)")
    parser.add_argument("--chats", type=int, default=1000, help="chats in the fan-outs")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.db}; stand-in Bot API "
        f"with Telegram's limits (30 msg/s, bursts of 5 then 1/s per chat); SEND_RATE={SEND_RATE}"
    )
    stories = [(f"Valley council story {n}", "The council met on Monday.") for n in range(6)]
    with (
        tempfile.TemporaryDirectory(prefix="replies-") as tmp,
        database(args.db, Path(tmp)) as url,
        QuietTelegram() as tg,
        FeedServer() as feeds,
    ):
        folder = Path(tmp)
        tg.enforce_limits()
        feeds.set("/valley.xml", rss("Valley Wire", feed_items(stories, prefix="valley")))
        engine = make_engine(url)
        migrate.upgrade(engine)
        env = fanout_env(
            tg,
            database_url=url,
            feed_url=feeds.url("/valley.xml"),
            folder=folder,
            LOG_LEVEL="WARNING",
        )
        with running_bot(
            env, cwd=folder, log_path=folder / "newsbot.log", ready=commands_registered(tg)
        ):
            with engine.connect() as conn:
                wait(
                    lambda: conn.execute(sa.text("select count(*) from entry")).scalar_one() >= 6,
                    30,
                    "the feed's stories",
                )
            scenario_a(tg, args.users)
            scenario_b(tg, engine, args.chats)
            scenario_c(tg, engine, args.chats)
            print(f"429s in the whole run: {tg.too_many_requests}")
        engine.dispose()


if __name__ == "__main__":
    main()
