"""Who may change a chat's topics when the sender is a chat, not a user (no Bot API needed)."""

from __future__ import annotations

from typing import Any, cast

from telegram import Update

from bot.handlers.context import Context
from bot.handlers.guard import may_manage, sender_key

GROUP = {"id": -100_900, "type": "supergroup", "title": "Readers"}
LINKED_CHANNEL = {"id": -100_901, "type": "channel", "title": "Readers' channel"}
ANONYMOUS_ADMIN_BOT = {"id": 1_087_968_824, "is_bot": True, "first_name": "Group"}


def _update(message: dict[str, Any], kind: str = "message") -> Update:
    body = {"message_id": 5, "date": 1_700_000_000, "text": "/subscribe kosovo", **message}
    update = Update.de_json({"update_id": 1, kind: body}, None)
    assert update is not None
    return update


class NoBot:
    """A context whose Bot API calls would fail the test: none are expected."""

    @property
    def bot_data(self) -> dict[str, Any]:
        raise AssertionError("no administrator check was expected")


CONTEXT = cast(Context, NoBot())


async def test_anonymous_group_admins_post_as_the_group() -> None:
    update = _update({"chat": GROUP, "sender_chat": GROUP, "from": ANONYMOUS_ADMIN_BOT})
    assert await may_manage(update, CONTEXT)
    assert sender_key(update) == GROUP["id"]


async def test_posts_as_another_chat_are_refused() -> None:
    # Automatic forwards from a linked channel, or a member writing as their channel.
    update = _update({"chat": GROUP, "sender_chat": LINKED_CHANNEL, "from": ANONYMOUS_ADMIN_BOT})
    assert not await may_manage(update, CONTEXT)


async def test_channel_posts_come_from_the_channel() -> None:
    update = _update({"chat": LINKED_CHANNEL, "sender_chat": LINKED_CHANNEL}, "channel_post")
    assert await may_manage(update, CONTEXT)
    assert sender_key(update) == LINKED_CHANNEL["id"]


async def test_private_chats_need_no_check() -> None:
    user = {"id": 77, "is_bot": False, "first_name": "Ana"}
    update = _update({"chat": {"id": 77, "type": "private", "first_name": "Ana"}, "from": user})
    assert await may_manage(update, CONTEXT)
    assert sender_key(update) == 77
