"""Answers to people through the door, in the running application with Telegram's limits on:
429s waited out, replies too old to send dropped (and said so), bad button data ignored
quietly, broadcasts measured as Telegram measures them, and no way around the door."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from telegram.error import NetworkError

from bot.app import build_application
from bot.config import get_settings
from bot.db import migrate
from bot.db.engine import make_engine
from bot.delivery.door import DoorBypassed
from bot.ops import metrics
from tests.support.live_bot import live_bot
from tests.support.telegram_api import FakeTelegram

ADMIN = 777


async def test_a_429_on_a_reply_is_waited_out_and_resent(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as bot:
        tg = bot.telegram
        tg.rate_limit(501, retry_after=2, times=1)
        started = time.monotonic()
        await bot.ask(501, "/help", "What I do")
        assert time.monotonic() - started >= 1.9
        calls = [r.status for r in tg.requests("sendMessage") if r.params.get("chat_id") == 501]
        assert calls == [429, 200]


async def test_a_bot_wide_429_slows_everyone_and_everyone_is_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_bot(tmp_path) as bot:
        tg = bot.telegram
        tg.rate_limit(None, retry_after=1, times=4)
        chats = list(range(600, 608))
        marks = {chat: bot.say(chat, "/start") for chat in chats}
        for chat in chats:
            await tg.await_message(chat, "Welcome", since=marks[chat], timeout=20)
        assert "flood control for the whole bot" in caplog.text
        for chat in chats:
            assert len([m for m in tg.messages(chat) if "Welcome" in m.plain]) == 1


async def test_a_reply_that_cannot_be_sent_in_time_is_dropped_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dropped = metrics.REPLIES.labels(kind="reply", outcome="drop")
    before = dropped._value.get()
    async with live_bot(tmp_path, reply_max_age=5) as bot:
        tg = bot.telegram
        tg.rate_limit(502, retry_after=30, times=1)
        bot.say(502, "/help")
        deadline = time.monotonic() + 20
        while "reply to chat 502 dropped: not sent within 5s" not in caplog.text:
            assert time.monotonic() < deadline, "the old reply was not dropped"
            await asyncio.sleep(0.1)
        assert dropped._value.get() == before + 1
        assert tg.messages(502) == []
        # Others are not held up by it.
        await bot.ask(503, "/help", "What I do")


async def test_button_data_with_an_out_of_range_number_is_ignored_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_bot(tmp_path, admin_ids=[ADMIN]) as bot:
        tg = bot.telegram
        menu = await bot.ask(ADMIN, "/subscribe", "Pick your topics")
        huge = "9" * 30
        for data in (f"tc:{huge}", f"tr:{huge}", f"bc:confirm:{huge}", "tc:9223372036854775808"):
            query = tg.send_callback_update(
                chat_id=ADMIN, user_id=ADMIN, message_id=menu.message_id, data=data
            )
            answer = await tg.await_for(
                lambda q=query: next(
                    (a for a in tg.callback_answers() if a.callback_query_id == q), None
                )
            )
            assert answer.text == "That button is out of date."
        assert [m for m in tg.messages(ADMIN) if "went wrong" in m.plain] == []
        assert "handler failed" not in caplog.text
        assert bot.subscriptions(ADMIN) == []


async def test_broadcast_length_is_counted_as_telegram_counts_it(tmp_path: Path) -> None:
    async with live_bot(tmp_path, admin_ids=[ADMIN]) as bot:
        tg = bot.telegram
        refusal = await bot.ask(ADMIN, "/broadcast " + "📣" * 2100, "characters long")
        assert "4,200 characters" in refusal.plain and "4,096" in refusal.plain
        assert bot.db("select count(*) from broadcast") == [(0,)]
        # Fits in one message, not with the preview's header: the text alone, exactly as
        # chats will receive it, then the header with the buttons.
        text = "Notice:   " + "tide " * 810
        mark = bot.say(ADMIN, f"/broadcast {text}")
        head = await tg.await_message(ADMIN, "Broadcast preview", since=mark)
        body = [m for m in tg.messages(ADMIN) if m.seq > mark and m.seq < head.seq]
        assert [m.plain for m in body] == [text.strip()]
        assert head.buttons and body[0].link_preview_disabled


async def test_the_application_bot_cannot_send_around_the_door(tmp_path: Path) -> None:
    with FakeTelegram() as tg:
        settings = get_settings(
            telegram_bot_token=tg.token,
            telegram_api_base_url=tg.base_url,
            database_url=f"sqlite:///{tmp_path / 'door.db'}",
            metrics_port=0,
        )
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        application = build_application(settings, engine=engine)
        async with application.bot as app_bot:
            with pytest.raises(NetworkError) as info:
                await app_bot.send_message(5, "around the door")
            assert isinstance(info.value.__cause__, DoorBypassed)
            with pytest.raises(NetworkError):
                await app_bot.answer_callback_query("1")
            assert (await app_bot.get_me()).username == tg.bot_username
        assert tg.requests("sendMessage") == [] and tg.requests("answerCallbackQuery") == []
        engine.dispose()
