"""Measure the outbox fan-out: one alert to every subscribed chat, at Telegram's limits.

A stand-in Bot API (tests/support) enforces the flood limits: 1 message a second per chat and
a global rate, answering 429 beyond them. The global limit is Telegram's 30/s for SEND_RATE
up to 30; for a higher SEND_RATE the fake's global limit is raised to exactly SEND_RATE (as
if Telegram had granted it), so any overshoot still shows as 429s. N private chats subscribe
to one topic, one story matches, and a sender process (`newsbot send`)
delivers the alerts. Each run is done twice: once undisturbed, once with the sender killed
(SIGKILL) halfway and started again.

Printed per database and rate: chats, achieved messages per second (first to last message)
and its ratio to SEND_RATE, 429s, lost and duplicated messages, and for the sender process
its peak RSS and CPU seconds per 1,000 messages; for the kill run, the messages in flight at
the kill (sent but not recorded), duplicates, and how long the restart took to pick them up.

    python bench/fanout.py [--rates 25,500] [--chats N] [--db sqlite,postgresql] [--no-kill]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.db import feeds as feeds_db  # noqa: E402
from bot.db import migrate, mutes, outbox  # noqa: E402
from bot.db.engine import make_engine, session_scope  # noqa: E402
from bot.db.models import Chat, Delivery, Entry, Subscription, Topic, utcnow  # noqa: E402
from tests.support.telegram_api import ClockedTelegram, FakeTelegram  # noqa: E402

TITLE = "Dam gates opened as river rises"
POSTGRES_URL = os.environ.get(
    "NEWSBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TELEGRAM_GLOBAL = 30


class QuietTelegram(ClockedTelegram):
    """The clocked stand-in Bot API, quiet about connections cut in the middle."""

    def _listen(self) -> None:
        """Serve; connections cut by a killed sender or an outage are expected, not worth a
        traceback."""
        super()._listen()
        server = self._server
        if server is not None:
            default = server.handle_error

            def quiet(request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], OSError):
                    default(request, client_address)

            server.handle_error = quiet  # type: ignore[method-assign]


@dataclass
class Run:
    db: str
    rate: int
    chats: int
    queue_seconds: float
    sent: int
    achieved: float
    throttled: int
    lost: int
    duplicates: int
    rss_mb: float
    cpu_per_1000: float
    # kill runs only
    in_flight: int = 0
    restart_seconds: float = 0.0


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """Yield the URL of an empty database of the kind."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'fanout-{uuid.uuid4().hex[:6]}.db'}"
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


def seed(engine: Engine, chats: int) -> tuple[list[int], float]:
    """Subscribe `chats` private chats to a topic and queue the matching story's alerts.

    Return the chat ids and the seconds it took to find the subscribers and queue the rows.
    """
    ids = list(range(100_000, 100_000 + chats))
    with session_scope(engine) as s:
        s.execute(
            sa.insert(Chat),
            [{"id": c, "type": "private", "title": None, "active": True} for c in ids],
        )
        topic = Topic(canonical="dam", display="dam")
        s.add(topic)
        s.flush()
        s.execute(sa.insert(Subscription), [{"chat_id": c, "topic_id": topic.id} for c in ids])
        feed = feeds_db.add_feeds(session=s, urls=["https://river.example/news.xml"])[0]
        feed.title = "River Wire"
    started = time.perf_counter()
    with session_scope(engine) as s:
        entry = Entry(
            feed_id=feed.id or 0,
            key="dam-gates",
            title=TITLE,
            summary="Engineers opened all four gates before dawn. Towns downstream were warned.",
            link="https://river.example/dam-gates",
        )
        s.add(entry)
        s.flush()
        # Who the watcher would alert: the topic's active chats that did not mute it.
        found = mutes.recipients(session=s, topic_ids=[topic.id or 0], now=utcnow())
        chats = {chat: thread for chat, (thread, _) in found.items()}
        outbox.enqueue_entry(session=s, entry_id=entry.id or 0, chats=chats)
    return ids, time.perf_counter() - started


def start_sender(
    tg: FakeTelegram, url: str, *, rate: int, name: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "DATABASE_URL": url,
        "SEND_RATE": str(rate),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "bot", "send", "--exit-when-idle", "--sender-id", name]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def reap(process: subprocess.Popen[bytes]) -> tuple[int, Any]:
    """Wait for the process; return its status and resource usage (works after SIGKILL too)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def received(tg: FakeTelegram) -> Counter[int]:
    return Counter(m.chat_id for m in tg.messages() if TITLE in m.plain)


def one_run(kind: str, folder: Path, *, rate: int, chats: int, kill: bool) -> Run:
    with database(kind, folder) as url, QuietTelegram() as tg:
        tg.enforce_limits(global_per_second=max(TELEGRAM_GLOBAL, rate))
        engine = make_engine(url)
        migrate.upgrade(engine)
        ids, queue_seconds = seed(engine, chats)
        log = folder / f"sender-{kind}-{rate}.log"
        first = start_sender(tg, url, rate=rate, name="bench-1", log=log)
        in_flight = 0
        restart_seconds = 0.0
        if kill:
            while tg.accepted < chats // 2:
                if first.poll() is not None:
                    raise SystemExit(f"the sender stopped early; see {log}")
                time.sleep(0.005)
            first.send_signal(signal.SIGKILL)
            code, usage = reap(first)
            at_kill = received(tg)
            with session_scope(engine) as s:
                held = s.exec(
                    select(Delivery.chat_id).where(
                        Delivery.state == "sending", Delivery.claimed_by == "bench-1"
                    )
                ).all()
            in_flight = sum(1 for c in held if at_kill[c])
            sent_at_kill = tg.accepted
            killed_at = time.monotonic()
            second = start_sender(tg, url, rate=rate, name="bench-2", log=log)
            while tg.accepted == sent_at_kill and second.poll() is None:
                time.sleep(0.01)
            restart_seconds = time.monotonic() - killed_at
            code, usage = reap(second)
        else:
            code, usage = reap(first)
        if code != 0:
            raise SystemExit(f"the sender exited with {code}; see {log}")
        engine.dispose()
        got = received(tg)
        stamps = sorted(tg.stamps())
        sent = len(stamps)
        span = stamps[-1] - stamps[0] if sent > 1 else 0.0
        cpu = usage.ru_utime + usage.ru_stime
        return Run(
            db=kind,
            rate=rate,
            chats=chats,
            queue_seconds=queue_seconds,
            sent=sent,
            achieved=(sent - 1) / span if span else 0.0,
            throttled=tg.too_many_requests,
            lost=sum(1 for c in ids if got[c] == 0),
            duplicates=sum(n - 1 for n in got.values() if n > 1),
            rss_mb=usage.ru_maxrss / 1024,
            cpu_per_1000=cpu / max(1, usage_sent(kill, sent, in_flight, chats)) * 1000,
            in_flight=in_flight,
            restart_seconds=restart_seconds,
        )


def usage_sent(kill: bool, sent: int, in_flight: int, chats: int) -> int:
    """Return how many messages the measured process sent (the restarted one, after a kill)."""
    return sent if not kill else max(1, chats - chats // 2 + in_flight)


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="25,500", help="SEND_RATE values (comma-separated)")
    parser.add_argument(
        "--chats",
        type=int,
        default=None,
        help="subscribed chats (default: 10,000, or 2,000 when SEND_RATE is below 100)",
    )
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL runs")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    if "postgresql" in kinds and not postgres_available():
        print(f"PostgreSQL does not answer at {POSTGRES_URL}; running SQLite only")
        kinds = [k for k in kinds if k != "postgresql"]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; fake Bot API: 1 msg/s per chat,"
    )
    print(f"global limit max({TELEGRAM_GLOBAL}, SEND_RATE) msg/s; one sender process\n")
    header = (
        f"{'db':<10} {'rate':>5} {'chats':>6} {'queue s':>8} {'msg/s':>7} {'eff':>5} "
        f"{'429s':>5} {'lost':>5} {'dup':>4} {'RSS MB':>7} {'CPU s/1k':>9}"
    )
    kill_header = (
        f"{'db':<10} {'rate':>5} {'chats':>6} {'lost':>5} {'dup':>4} {'in flight':>10} "
        f"{'429s':>5} {'restart s':>10}"
    )
    clean: list[Run] = []
    killed: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        folder = Path(tmp)
        for kind in kinds:
            for rate in rates:
                chats = args.chats or (10_000 if rate >= 100 else 2_000)
                print(f"… {kind} at {rate}/s, {chats:,} chats", flush=True)
                clean.append(one_run(kind, folder, rate=rate, chats=chats, kill=False))
                if not args.no_kill:
                    print(f"… {kind} at {rate}/s, {chats:,} chats, SIGKILL halfway", flush=True)
                    killed.append(one_run(kind, folder, rate=rate, chats=chats, kill=True))
    print("\nUndisturbed run")
    print(header)
    for r in clean:
        print(
            f"{r.db:<10} {r.rate:>5} {r.chats:>6,} {r.queue_seconds:>8.2f} {r.achieved:>7.1f} "
            f"{r.achieved / r.rate:>5.2f} {r.throttled:>5} {r.lost:>5} {r.duplicates:>4} "
            f"{r.rss_mb:>7.0f} {r.cpu_per_1000:>9.2f}"
        )
    if killed:
        print("\nSender killed (SIGKILL) halfway and started again")
        print(kill_header)
        for r in killed:
            print(
                f"{r.db:<10} {r.rate:>5} {r.chats:>6,} {r.lost:>5} {r.duplicates:>4} "
                f"{r.in_flight:>10} {r.throttled:>5} {r.restart_seconds:>10.1f}"
            )
        print(
            "\nin flight: messages Telegram had accepted but the killed sender had not yet "
            "recorded;\nduplicates may not exceed it. restart s: from the kill to the first "
            "message of the new sender\n(process start, plus the 10 s lease for the dead "
            "sender's claimed messages when nothing else is due)."
        )


if __name__ == "__main__":
    main()
