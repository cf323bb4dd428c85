"""End to end: a broadcast to many chats shows its progress on the preview, survives a restart,
and reports its tally; /broadcast status and /stats answer operators and only them."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.db import migrate
from bot.db.engine import make_engine, session_scope
from bot.db.models import Chat
from tests.support.telegram_api import FakeTelegram

ADMIN = 900
READER = 901
CHATS = list(range(20_000, 20_090))
TEXT = "Scheduled maintenance tonight from 22:00 to 23:00 UTC"


@dataclass
class App:
    telegram: FakeTelegram
    db_path: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        started = len(self.telegram.requests("setMyCommands"))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=self.db_path.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.telegram.wait_for(
            lambda: len(self.telegram.requests("setMyCommands")) > started,
            timeout=30,
            what="the bot to start",
        )

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def say(self, chat_id: int, text: str) -> int:
        mark = self.telegram.mark()
        self.telegram.send_message_update(chat_id=chat_id, user_id=chat_id, text=text)
        return mark

    def db(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db_path) as conn:
            return list(conn.execute(sql))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    db_path = tmp_path / "newsbot.db"
    engine = make_engine(f"sqlite:///{db_path}")
    migrate.upgrade(engine)
    with session_scope(engine) as s:
        s.execute(
            sa.insert(Chat),
            [{"id": c, "type": "private", "title": None, "active": True} for c in CHATS],
        )
    engine.dispose()
    with FakeTelegram() as telegram:
        telegram.enforce_limits()  # Telegram's: 30/s, bursts of 5 then 1/s per chat
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"FEEDS", "ADMIN_IDS"}},
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "ADMIN_IDS": str(ADMIN),
            "SEND_RATE": "20",
            "POLL_INTERVAL_SECONDS": "60",
            "LOG_LEVEL": "INFO",
        }
        running = App(telegram, db_path, tmp_path / "newsbot.log", env)
        try:
            yield running
        finally:
            if running.process is not None and running.process.poll() is None:
                running.stop()


def broadcast_received(tg: FakeTelegram) -> Counter[int]:
    return Counter(m.chat_id for m in tg.messages() if m.plain == TEXT)


def test_broadcast_progress_restart_status_and_stats(app: App) -> None:
    tg = app.telegram
    app.start()
    for chat in (ADMIN, READER):
        mark = app.say(chat, "/start")
        tg.wait_for_message(chat, "Welcome", since=mark)

    # /stats and /broadcast status are for operators only.
    mark = app.say(READER, "/stats")
    tg.wait_for_message(READER, "only for the bot's operators", since=mark)
    mark = app.say(ADMIN, "/broadcast status")
    tg.wait_for_message(ADMIN, "No broadcasts yet", since=mark)

    mark = app.say(ADMIN, f"/broadcast {TEXT}")
    preview = tg.wait_for_message(ADMIN, "Broadcast preview", since=mark)
    assert "to 92 active chats" in preview.plain
    confirm = next(b for row in preview.buttons for b in row if "Confirm" in b["text"])
    tg.send_callback_update(
        chat_id=ADMIN, user_id=ADMIN, message_id=preview.message_id, data=confirm["callback_data"]
    )
    # Progress shows on the preview while it is sent.
    progress = tg.wait_for(
        lambda: [e for e in tg.edits(ADMIN) if "sent," in e.plain and "waiting" in e.plain],
        timeout=15,
        what="a progress edit",
    )
    assert progress[-1].message_id == preview.message_id
    mark = app.say(ADMIN, "/broadcast status")
    status = tg.wait_for_message(ADMIN, "Broadcasts", since=mark)
    assert "#1 sending" in status.plain and "of 92 sent" in status.plain

    # A restart in the middle: the rest is sent once, nothing twice.
    sent_before = sum(broadcast_received(tg).values())
    assert app.stop() == 0
    stopped_at = sum(broadcast_received(tg).values())
    assert 0 < sent_before <= stopped_at < len(CHATS)
    pending = app.db("select count(*) from delivery where state = 'queued'")[0][0]
    assert pending == 92 - stopped_at
    app.start()
    report = tg.wait_for_message(ADMIN, "Broadcast finished", since=mark, timeout=30)
    assert "delivered to 92 of 92 chats; 0 failed" in report.plain
    assert broadcast_received(tg) == dict.fromkeys([*CHATS, ADMIN, READER], 1)
    final = tg.edits(ADMIN)[-1]
    assert final.message_id == preview.message_id and "Broadcast finished" in final.plain

    mark = app.say(ADMIN, "/broadcast status")
    status = tg.wait_for_message(ADMIN, "Broadcasts", since=mark)
    assert "#1 done" in status.plain and "delivered to 92 of 92; 0 failed" in status.plain
    mark = app.say(ADMIN, "/stats")
    stats = tg.wait_for_message(ADMIN, "Stats", since=mark)
    assert "Chats: 92 active, 0 inactive" in stats.plain
    assert "Queue: 0 waiting, 0 being sent" in stats.plain
    assert "Dead letters: 0" in stats.plain
    assert app.stop() == 0
    log = app.log_path.read_text()
    assert "Traceback" not in log
