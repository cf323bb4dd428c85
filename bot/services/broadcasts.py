"""Operator broadcasts: a draft, its confirmation (every active chat queued), progress."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from bot.db import broadcasts as bc_db
from bot.db import chats as chats_db
from bot.db.broadcasts import BroadcastTally
from bot.services.base import Service

__all__ = ["BroadcastStatus", "BroadcastTally", "Broadcasts", "Draft", "Settled"]


@dataclass(frozen=True, slots=True)
class Draft:
    broadcast_id: int
    chats: int  # active chats it would go to


@dataclass(frozen=True, slots=True)
class BroadcastStatus:
    sending: list[BroadcastTally]  # oldest first
    recent: list[BroadcastTally]  # newest first, sending or done


@dataclass(frozen=True, slots=True)
class Settled:
    finished: list[BroadcastTally]  # marked done just now (by this process)
    running: list[BroadcastTally]


class Broadcasts(Service):
    async def draft(self, *, admin_user_id: int, admin_chat_id: int, text: str) -> Draft:
        """Store a draft and count the chats it would reach."""

        def work(s: Session) -> Draft:
            bc_id = bc_db.create_broadcast(
                session=s, admin_user_id=admin_user_id, admin_chat_id=admin_chat_id, text=text
            )
            return Draft(broadcast_id=bc_id, chats=chats_db.active_chat_count(session=s))

        return await self._run(work)

    async def remember_preview(self, broadcast_id: int, message_id: int) -> None:
        """Note the preview message, where progress will be shown."""
        await self._run(
            lambda s: bc_db.set_broadcast_message(
                session=s, broadcast_id=broadcast_id, message_id=message_id
            )
        )

    async def confirm(self, broadcast_id: int) -> int | None:
        """Queue the draft for every active chat; return how many, None if already handled."""

        def work(s: Session) -> int | None:
            bc = bc_db.confirm_broadcast(session=s, broadcast_id=broadcast_id)
            return None if bc is None else bc.total

        return await self._run(work)

    async def cancel(self, broadcast_id: int) -> bool:
        """Drop the draft; False when it was already confirmed or cancelled."""
        return await self._run(
            lambda s: bc_db.cancel_broadcast(session=s, broadcast_id=broadcast_id) is not None
        )

    async def status(self, *, recent: int) -> BroadcastStatus:
        """Return the broadcasts being sent and the most recent ones."""
        return await self._run(
            lambda s: BroadcastStatus(
                sending=bc_db.sending_broadcasts(session=s),
                recent=bc_db.recent_broadcasts(session=s, limit=recent),
            )
        )

    async def settle(self) -> Settled:
        """Mark broadcasts with nothing left to send done; return those and the running ones.

        Of several processes settling at once, one marks a broadcast done and reports it.
        """

        def work(s: Session) -> Settled:
            finished, running = [], []
            for tally in bc_db.sending_broadcasts(session=s):
                if tally.pending:
                    running.append(tally)
                elif bc_db.finish_broadcast(session=s, broadcast_id=tally.broadcast_id):
                    finished.append(tally)
            return Settled(finished=finished, running=running)

        return await self._run(work)
