"""Hot standby on PostgreSQL: one active instance per database, the next takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.ops import standby
from tests.conftest import drop_schema, postgres_engine_url
from tests.support.telegram_api import FakeTelegram

CHAT = 6060


def test_lock_key_depends_on_database_and_schema() -> None:
    key = standby.lock_key(database="news", schema="public")
    assert key == standby.lock_key(database="news", schema="public")
    assert key != standby.lock_key(database="news", schema="other")
    assert key != standby.lock_key(database="sports", schema="public")
    assert -(2**63) <= key < 2**63


def test_only_postgresql_uses_the_lock() -> None:
    assert standby.uses_lock("postgresql+psycopg://u@h/db")
    assert standby.uses_lock("postgres://u@h/db")
    assert not standby.uses_lock("sqlite:///newsbot.db")
    assert standby.become_active("sqlite:///x.db", check_seconds=1) is None


def test_an_unusable_database_fails_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError):
        standby.become_active("postgresql+psycopg://newsbot@127.0.0.1:1/none", check_seconds=1)
    assert time.monotonic() - started < 10


@pytest.fixture
def pg_url() -> Iterator[str]:
    url, schema = postgres_engine_url()
    try:
        yield url
    finally:
        drop_schema(schema)


def test_one_holder_at_a_time(pg_url: str) -> None:
    first, second = standby.InstanceLock(pg_url), standby.InstanceLock(pg_url)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert first.alive(timeout=5)
        assert not second.alive(timeout=5)
        first.release()
        assert second.try_acquire()
        assert second.alive(timeout=5)
    finally:
        first.release()
        second.release()


def test_waiting_stops_on_request(pg_url: str) -> None:
    holder = standby.InstanceLock(pg_url)
    stop = threading.Event()
    try:
        assert holder.try_acquire()
        threading.Timer(0.3, stop.set).start()
        started = time.monotonic()
        with pytest.raises(standby.Stopped):
            standby.become_active(pg_url, check_seconds=1, stop=stop, retry_seconds=0.05)
        assert time.monotonic() - started < 3
    finally:
        holder.release()


def _log_has(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_second_instance_waits_then_takes_over(pg_url: str, tmp_path: Path) -> None:
    with FakeTelegram() as telegram:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "FEEDS"))},
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "DATABASE_URL": pg_url,
            "METRICS_PORT": "0",
            "STANDBY_CHECK_SECONDS": "0.5",
            "LOG_LEVEL": "INFO",
        }
        logs = [tmp_path / "first.log", tmp_path / "second.log"]
        processes: list[subprocess.Popen[bytes]] = []

        def start(log_path: Path) -> subprocess.Popen[bytes]:
            with log_path.open("wb") as log_file:
                process = subprocess.Popen(
                    [sys.executable, "-m", "bot", "run"],
                    cwd=tmp_path,
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            processes.append(process)
            return process

        try:
            first = start(logs[0])
            _wait(lambda: _log_has(logs[0], "this is the active instance"), 30, "the first")
            second = start(logs[1])
            _wait(lambda: _log_has(logs[1], "waiting for the active instance"), 30, "standby")

            # The first answers; the second polls nothing meanwhile.
            mark = telegram.mark()
            telegram.send_message_update(chat_id=CHAT, text="/start")
            telegram.wait_for_message(CHAT, "Welcome", since=mark)
            time.sleep(1)
            assert not _log_has(logs[1], "this is the active instance")
            assert [r for r in telegram.requests("getUpdates") if r.status == 409] == []

            # kill -9: the server drops the first's session and its lock; the second takes over.
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            killed = time.monotonic()
            _wait(lambda: _log_has(logs[1], "this is the active instance"), 30, "takeover")
            mark = telegram.mark()
            telegram.send_message_update(chat_id=CHAT, text="/start")
            telegram.wait_for_message(CHAT, "Welcome", since=mark, timeout=30)
            took = time.monotonic() - killed
            assert took < 30, f"takeover took {took:.1f} s"
            assert [r for r in telegram.requests("getUpdates") if r.status == 409] == []

            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=15) == 0
            assert "Traceback" not in logs[1].read_text(errors="replace")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
