"""Bot API objects the emulator builds: users, chat members, command scopes."""

from __future__ import annotations

import json
from typing import Any

JSON = dict[str, Any]

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})


def user_json(user_id: int, username: str | None = None, language_code: str = "en") -> JSON:
    """Return the User object of a person (language_code: their Telegram app's language)."""
    user: JSON = {
        "id": user_id,
        "is_bot": False,
        "first_name": f"User {user_id}",
        "language_code": language_code,
    }
    if username:
        user["username"] = username
    return user


def member_json(user: JSON, status: str) -> JSON:
    """Return a ChatMember object of `user` with `status`."""
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_post_messages=True,
            can_edit_messages=True,
            can_pin_messages=True,
        )
    elif status == "kicked":
        member["until_date"] = 0
    return member


def scope_key(scope: Any, language_code: str | None) -> tuple[str, str]:
    """Return the key of a BotCommandScope and language, as setMyCommands stores them."""
    scope_json = json.dumps(scope or {"type": "default"}, sort_keys=True)
    return scope_json, language_code or ""
