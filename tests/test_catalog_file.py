"""TOPICS_FILE at start: a bad file stops `newsbot run` with one clear line, a good one is
the catalog the chat sees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.app import build_application
from bot.config import SettingsError, get_settings
from tests.support.chat_bot import chat_bot
from tests.support.live_bot import story
from tests.support.telegram_api import FakeTelegram

ALICE = 111
BOB = 222


def _run(
    tmp_path: Path, topics_file: Path, telegram: FakeTelegram
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"FEEDS", "ADMIN_IDS"}},
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'newsbot.db'}",
        "METRICS_PORT": "0",
        "TOPICS_FILE": str(topics_file),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_topics_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text("topics:\n  - name: Sports\n    query: sport OR\n")
    with FakeTelegram() as telegram:
        result = _run(tmp_path, path, telegram)
        assert telegram.requests("getUpdates") == []
    assert result.returncode == 2
    # Log lines (migrations) may come first; the error is one line of its own, the last.
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("newsbot: ")]
    assert errors == [lines[-1]], result.stderr
    assert errors[0] == (
        f"newsbot: TOPICS_FILE {path}: topics[1] (Sports): Nothing follows OR: "
        "put an alternative on each side, e.g. kosovo OR serbia."
    )
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("topics.yaml", "topics:\n  - name: [Sports\n", "not valid YAML at line 3"),
        ("missing.yaml", None, "cannot read it"),
        ("topics.ini", "[topics]", "must end in .yaml, .yml or .toml"),
        (
            "extend.toml",
            'include_defaults = true\n[[topics]]\nname = "Abroad"\nquery = "world"\n'
            '[[topics]]\nname = "Planet"\nquery = "world"\n',
            "have the same query",
        ),
    ],
)
def test_the_application_refuses_a_bad_file(
    tmp_path: Path, sqlite_engine: Engine, name: str, content: str | None, needle: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    settings = get_settings(
        telegram_bot_token=FakeTelegram().token, database_url="sqlite://", topics_file=path
    )
    with pytest.raises(SettingsError) as caught:
        build_application(settings, engine=sqlite_engine)
    assert str(caught.value).startswith(f"TOPICS_FILE {path}: ")
    assert needle in str(caught.value)


async def test_the_file_is_the_catalog(tmp_path: Path) -> None:
    path = tmp_path / "topics.toml"
    path.write_text(
        "[[topics]]\n"
        'name = "Harbours"\n'
        "query = 'harbour OR port -airport'\n"
        'categories = ["Shipping"]\n'
        "\n"
        "[[topics]]\n"
        'name = "Valdora"\n'
        'query = "valdora"\n'
    )
    items = [story(1, "Dock cranes arrive", categories=["Shipping"], minutes_ago=3)]
    async with chat_bot(tmp_path, items=items, topics_file=path) as bot:
        menu = await bot.ask(ALICE, "/subscribe", "Pick your topics")
        assert [b["text"] for row in menu.buttons for b in row] == ["Harbours", "Valdora"]
        await bot.ask(BOB, "/latest harbours", "Dock cranes arrive")
        reply = await bot.ask(BOB, "/testtopic HARBOURS", "newest stor")
        assert "Harbours matches 1 of the 1 newest story" in reply.plain
        await bot.tap(menu, "Harbours", user_id=ALICE)
        mark = bot.telegram.mark()
        bot.publish(story(2, "Port Ellis clears its backlog"))
        await bot.message(ALICE, "Port Ellis clears", since=mark, timeout=15)
        listing = await bot.ask(ALICE, "/topics", "follows 1 topic")
        assert "Harbours" in listing.plain
