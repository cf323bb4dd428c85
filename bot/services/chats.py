"""Chats starting (or coming back to) the bot, and the language each one reads."""

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
    async def start(self, chat: ChatInfo, *, language: str | None = None) -> str | None:
        """Register the chat, or make it active again with its topics (after /start).

        A chat without a language takes `language` (the user's, from Telegram); return the
        chat's language.
        """

        def work(s: Session) -> str | None:
            row = chats_db.register_chat(
                session=s, chat_id=chat.id, chat_type=chat.type, title=chat.title
            )
            if language is None:
                return row.language
            return chats_db.set_chat_language(
                session=s, chat_id=chat.id, language=language, only_if_unset=True
            )

        return await self._run(work)

    async def language(self, chat_id: int) -> str | None:
        """Return the chat's language, or None when it has not got one."""
        return await self._run(lambda s: chats_db.chat_language(session=s, chat_id=chat_id))

    async def set_language(self, chat: ChatInfo, language: str) -> None:
        """Store the language the chat chose (storing the chat if it is new)."""

        def work(s: Session) -> None:
            remember(s, chat)
            chats_db.set_chat_language(session=s, chat_id=chat.id, language=language)

        await self._run(work)
