"""What every service shares: its engine, and one transaction per use case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db.engine import unit_of_work

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChatInfo:
    """The chat an action comes from, as storage needs it (no Telegram types)."""

    id: int
    type: str
    title: str | None


class Service:
    """A group of use cases on one database; each public method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _run(self, work: Callable[[Session], T]) -> T:
        return await unit_of_work(self.engine, work)
