"""The schema comes from the migrations, and the models agree with it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bot.db import (
    migrate,
    models,  # noqa: F401
)


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, SQLModel.metadata))


def test_models_match_migrations(engine: Engine) -> None:
    assert _diff(engine) == []
    assert not migrate.pending(engine)


def test_upgrade_downgrade_upgrade(empty_engine: Engine) -> None:
    assert migrate.pending(empty_engine)
    migrate.upgrade(empty_engine)
    tables = set(sa.inspect(empty_engine).get_table_names())
    assert {"chat", "topic", "subscription", "feed", "entry", "delivery", "broadcast"} <= tables
    migrate.downgrade(empty_engine, "base")
    assert set(sa.inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(empty_engine)
    assert _diff(empty_engine) == []


def test_no_create_all_in_application() -> None:
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "bot"
    offenders = [p for p in root.rglob("*.py") if "create_all(" in p.read_text()]
    assert offenders == []
