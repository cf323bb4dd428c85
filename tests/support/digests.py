"""Wait for held stories and release a chat's digest at the time it is due (end-to-end tests)."""

from __future__ import annotations

import asyncio
import time as clock
from datetime import UTC, datetime

from bot.delivery.digest import render_digest
from tests.support.chat_bot import ChatBot


async def held(bot: ChatBot, chat: int, count: int, within: float = 10.0) -> None:
    """Wait until `count` stories wait in the chat's hold."""
    deadline = clock.monotonic() + within
    query = "select count(*) from held_alert where chat_id = :chat"
    while bot.db(query, chat=chat)[0][0] < count:
        assert clock.monotonic() < deadline, f"{count} stories were not held in time"
        await asyncio.sleep(0.05)


async def release_due(bot: ChatBot, chat: int) -> int:
    """Run the digest job's service at the time the chat's digest is due, and wake the door.

    Every other chat due by then is released too; returns how many digests were queued.
    """
    [(due,)] = bot.db("select next_digest_at from chat_preference where chat_id = :c", c=chat)
    assert due is not None
    when = datetime.fromisoformat(str(due)).replace(tzinfo=UTC)
    shared = bot.application.bot_data
    assert shared.services is not None and shared.door is not None
    report = await shared.services.digests.release_due(render_digest, now=when)
    assert report.digests >= 1
    shared.door.wake()
    return report.digests
