"""Chats starting (or coming back to) the bot."""

from __future__ import annotations

from sqlmodel import Session

from bot.db import chats as chats_db
from bot.services.base import ChatInfo, Service


def remember(session: Session, chat: ChatInfo) -> bool:
    """Store the chat if it is new (inside the caller's transaction); return whether it is
    active, i.e. receives alerts."""
    row = chats_db.ensure_chat(
        session=session, chat_id=chat.id, chat_type=chat.type, title=chat.title
    )
    return row.active


class Chats(Service):
    async def start(self, chat: ChatInfo) -> None:
        """Register the chat, or make it active again with its topics (after /start)."""
        await self._run(
            lambda s: chats_db.register_chat(
                session=s, chat_id=chat.id, chat_type=chat.type, title=chat.title
            )
        )
