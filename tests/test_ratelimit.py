"""The per-user command window, the administrator cache, and both in the running bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.handlers.admins import AdminCache
from bot.handlers.guard import SLOW_DOWN, RateWindow, Verdict
from tests.support.chat_bot import chat_bot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_twenty_a_minute_then_one_warning_then_silence() -> None:
    clock = Clock()
    window = RateWindow(limit=20, period=60, clock=clock)
    for _ in range(20):
        assert window.hit(7) is Verdict.ALLOW
        clock.now += 1
    # Command 21 inside the minute: one warning, then ignored for the rest of the minute.
    assert window.hit(7) is Verdict.WARN
    for _ in range(30):
        clock.now += 1
        assert window.hit(7) is Verdict.DROP
    # Someone else is not affected.
    assert window.hit(8) is Verdict.ALLOW
    # The first command (t=1000) leaves the window at t=1060: the sender may speak again.
    clock.now = 1059.9
    assert window.hit(7) is Verdict.DROP
    clock.now = 1060.0
    assert window.hit(7) is Verdict.ALLOW


def test_the_window_slides() -> None:
    clock = Clock()
    window = RateWindow(limit=3, period=10, clock=clock)
    for t in (0, 4, 8):
        clock.now = 1000 + t
        assert window.hit(1) is Verdict.ALLOW
    clock.now = 1009
    assert window.hit(1) is Verdict.WARN
    # Muted until the oldest command (t=0) is 10 s old; dropped commands don't count.
    clock.now = 1010
    assert window.hit(1) is Verdict.ALLOW
    clock.now = 1011
    assert window.hit(1) is Verdict.WARN
    clock.now = 1014
    assert window.hit(1) is Verdict.ALLOW


def test_idle_senders_are_forgotten() -> None:
    clock = Clock()
    window = RateWindow(limit=2, period=60, clock=clock)
    for user in range(100):
        window.hit(user)
    assert len(window) == 100
    clock.now += 61
    window.hit(5000)
    assert len(window) == 1


def test_window_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        RateWindow(limit=0)
    with pytest.raises(ValueError):
        RateWindow(period=0)


def test_admin_cache_expires() -> None:
    clock = Clock()
    cache = AdminCache(ttl=60, clock=clock, size=3)
    assert cache.get(-1, 5) is None
    cache.put(-1, 5, True)
    cache.put(-1, 6, False)
    assert cache.get(-1, 5) is True
    assert cache.get(-1, 6) is False
    assert cache.get(-2, 5) is None
    clock.now += 59.9
    assert cache.get(-1, 5) is True
    clock.now += 0.1
    assert cache.get(-1, 5) is None
    # Full: expired answers make room first, then everything goes.
    for user in range(10):
        cache.put(-3, user, True)
    assert cache.get(-3, 9) is True


async def test_a_flooding_user_is_told_once_then_ignored(tmp_path: Path) -> None:
    flooder, calm = 4242, 4343
    async with chat_bot(tmp_path) as bot:
        tg = bot.telegram
        door = bot.app.bot_data.door
        menu = await bot.ask(flooder, "/subscribe", "Pick your topics")
        mark = tg.mark()
        for _ in range(25):
            bot.say(flooder, "/help")
        # Someone else is answered at once, while the flooder's answers are paced (a burst,
        # then one a second: Telegram's limit for one chat).
        await bot.ask(calm, "/help", "What I do")
        # Every command that was executed is answered, then the notice, once: answers to one
        # chat go out in order, so with every update handled and the notice out, nothing is
        # left to send.
        warning = await bot.message(flooder, SLOW_DOWN, since=mark, timeout=40)
        await bot.handled()
        assert len(door.lane) == 0
        assert tg.too_many_requests == 0
        sent = [m for m in tg.messages(flooder) if m.seq > mark]
        assert len([m for m in sent if "What I do" in m.plain]) == 19
        assert [m.plain for m in sent if "Slow down" in m.plain] == [warning.plain]
        assert len(sent) == 20
        # Still muted: commands and button presses go unanswered.
        later = tg.mark()
        bot.say(flooder, "/latest")
        button = menu.buttons[0][0]["callback_data"]
        query_id = tg.send_callback_update(
            chat_id=flooder, user_id=flooder, message_id=menu.message_id, data=button
        )
        bot.deliver()
        await bot.ask(calm, "/latest", "No stories yet")
        await bot.handled()
        assert len(door.lane) == 0
        assert [m for m in tg.messages(flooder) if m.seq > later] == []
        assert [a for a in tg.callback_answers() if a.callback_query_id == query_id] == []
        assert tg.edits(flooder) == []
        assert bot.subscriptions(flooder) == []
        # Plain text is no command and does not count.
        await bot.ask(calm, "hello", "I understand commands only")
