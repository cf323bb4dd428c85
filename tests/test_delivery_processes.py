"""Sender processes: `kill -9` and a restart lose nothing; two senders on PostgreSQL share the
work and the rate without sending any row twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.db import feeds as feeds_db
from bot.db import migrate, outbox
from bot.db.engine import make_engine, session_scope
from bot.db.models import Chat, Delivery, Entry
from tests.conftest import drop_schema, postgres_engine_url
from tests.support.telegram_api import ClockedTelegram, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
TITLE = "Lighthouse keeper rescues sailors"


@pytest.fixture
def tg() -> Iterator[ClockedTelegram]:
    with ClockedTelegram() as server:
        yield server


def seed(engine: Engine, chats: int) -> list[int]:
    """Register `chats` private chats and queue one alert for each; return the chat ids."""
    ids = list(range(70_000, 70_000 + chats))
    with session_scope(engine) as s:
        s.execute(
            sa.insert(Chat),
            [{"id": c, "type": "private", "title": None, "active": True} for c in ids],
        )
        feed = feeds_db.add_feeds(session=s, urls=["https://coast.example/news.xml"])[0]
        entry = Entry(feed_id=feed.id or 0, key="keeper", title=TITLE, summary="All were safe.")
        s.add(entry)
        s.flush()
        outbox.enqueue_entry(session=s, entry_id=entry.id or 0, chats=dict.fromkeys(ids))
    return ids


def start_worker(
    tg: FakeTelegram, url: str, log: Path, *, rate: int, name: str, lease: float = 10
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "DATABASE_URL": url,
        "SEND_RATE": str(rate),
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "bot", "send", "--exit-when-idle"]
    command += ["--sender-id", name, "--lease", str(lease)]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen[bytes], timeout: float) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def received(tg: FakeTelegram) -> Counter[int]:
    return Counter(m.chat_id for m in tg.messages() if TITLE in m.plain)


def test_kill_9_then_restart_loses_nothing(tmp_path: Path, tg: FakeTelegram) -> None:
    url = f"sqlite:///{tmp_path / 'newsbot.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    chats = seed(engine, 200)
    log = tmp_path / "sender.log"
    first = start_worker(tg, url, log, rate=100, name="first", lease=1)
    try:
        tg.wait_for(lambda: len(tg.messages()) >= 70, timeout=20, what="a third sent")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = received(tg)
    with session_scope(engine) as s:
        held = s.exec(
            select(Delivery.chat_id).where(
                Delivery.state == "sending", Delivery.claimed_by == "first"
            )
        ).all()
    in_flight = {c for c in held if at_kill[c]}  # sent, but not yet recorded
    assert 0 < len(at_kill) < len(chats)

    second = start_worker(tg, url, log, rate=100, name="second", lease=1)
    assert finish(second, timeout=30) == 0
    after = received(tg)
    assert set(after) == set(chats), "lost messages"
    duplicates = {c for c, n in after.items() if n > 1}
    assert duplicates <= in_flight
    assert max(after.values()) <= 2
    with session_scope(engine) as s:
        assert set(s.exec(select(Delivery.state)).all()) == {"sent"}
    text = log.read_text()
    assert "took back" in text and "Traceback" not in text
    engine.dispose()


def _max_in_window(stamps: list[float], window: float) -> int:
    best = 0
    start = 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_two_senders_share_postgresql_exactly_once(tmp_path: Path, tg: ClockedTelegram) -> None:
    url, schema = postgres_engine_url()
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        rate, count = 40, 120
        chats = seed(engine, count)
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        workers = [
            start_worker(tg, url, logs[0], rate=rate, name="a"),
            start_worker(tg, url, logs[1], rate=rate, name="b"),
        ]
        for worker in workers:
            assert finish(worker, timeout=40) == 0
        assert received(tg) == dict.fromkeys(chats, 1)
        with session_scope(engine) as s:
            assert set(s.exec(select(Delivery.state)).all()) == {"sent"}
        sent = [
            int(m.group(1))
            for log in logs
            for m in [re.search(r"after sending (\d+) messages", log.read_text())]
            if m
        ]
        assert len(sent) == 2 and sum(sent) == count and min(sent) > count // 4
        # Together they keep to SEND_RATE: at most a token or two over in any second.
        stamps = sorted(tg.stamps())
        assert len(stamps) == count
        assert _max_in_window(stamps, 1.0) <= rate + 3
        span = stamps[-1] - stamps[0]
        assert count / span <= rate * 1.05
        assert count / span >= rate * 0.8
    finally:
        engine.dispose()
        drop_schema(schema)


def test_worker_refuses_a_rejected_token_and_an_unmigrated_database(
    tmp_path: Path, tg: ClockedTelegram
) -> None:
    url = f"sqlite:///{tmp_path / 'newsbot.db'}"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",  # not the fake's
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "DATABASE_URL": url,
    }
    command = [sys.executable, "-m", "bot", "send"]
    fresh = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert fresh.returncode == 2
    assert "run `newsbot migrate` first" in fresh.stderr and "Traceback" not in fresh.stderr
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    rejected = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert rejected.returncode == 2
    assert "rejected TELEGRAM_BOT_TOKEN" in rejected.stderr
    assert "Traceback" not in rejected.stderr and "AAHdqTcv" not in rejected.stderr
