"""`newsbot migrate`: apply pending database migrations and exit."""

from __future__ import annotations

import argparse

from bot.config import Settings

HELP = "apply pending database migrations and exit"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    sub.add_parser("migrate", help=HELP)


def migrate(settings: Settings) -> None:
    """Bring the database in DATABASE_URL up to date."""
    from bot.db import migrate
    from bot.db.engine import make_engine

    engine = make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Apply migrations and report."""
    migrate(settings)
    print("database is up to date")
    return 0
