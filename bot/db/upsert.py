"""INSERT … ON CONFLICT for the database in use: writes that two people may race to make.

SQLite (3.24+) and PostgreSQL both settle a conflict on a unique key inside the statement,
so "insert unless it exists" never fails because someone else got there first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

Insert = postgresql.Insert | sqlite.Insert


def insert(session: Session, table: Any) -> Insert:
    """Return an INSERT for table that knows `on_conflict_do_nothing/do_update`."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no INSERT … ON CONFLICT for {dialect}")


def is_postgres(session: Session) -> bool:
    """Tell whether the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"
