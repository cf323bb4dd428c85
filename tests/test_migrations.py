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


def test_topics_with_a_lowercase_or_are_read_as_alternatives(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0005")
    now = "2026-11-30 10:00:00"
    with empty_engine.begin() as conn:
        for chat in (1, 2, 3):
            conn.execute(
                sa.text(
                    "INSERT INTO chat (id, type, active, created_at, updated_at) "
                    "VALUES (:id, 'private', true, :now, :now)"
                ),
                {"id": chat, "now": now},
            )
        # As the previous version stored them: "or" was a word that had to appear.
        topics = {
            1: ("kosovo or serbia", "kosovo or serbia"),
            2: ("kosovo OR serbia", "Kosovo OR Serbia"),
            3: ("gold or", "gold or"),
            4: ('"war or peace" -or', '"war or peace" -or'),
        }
        for topic_id, (canonical, display) in topics.items():
            conn.execute(
                sa.text(
                    "INSERT INTO topic (id, canonical, display, created_at) "
                    "VALUES (:id, :c, :d, :now)"
                ),
                {"id": topic_id, "c": canonical, "d": display, "now": now},
            )
        for chat, topic in ((1, 1), (2, 1), (2, 2), (3, 3), (3, 4)):
            conn.execute(
                sa.text(
                    "INSERT INTO subscription (chat_id, topic_id, created_at) VALUES (:c, :t, :now)"
                ),
                {"c": chat, "t": topic, "now": now},
            )
        conn.execute(
            sa.text(
                "INSERT INTO catalog_topic (key, name, query, canonical, position, active, "
                "created_at, updated_at) VALUES ('balkans', 'Balkans', 'kosovo or serbia', "
                "'kosovo or serbia', 1, true, :now, :now)"
            ),
            {"now": now},
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT id, canonical FROM topic")).all())
        follows = sorted(conn.execute(sa.text("SELECT chat_id, topic_id FROM subscription")).all())
        catalog = conn.execute(sa.text("SELECT query, canonical FROM catalog_topic")).one()
    # The lowercase spelling joined the topic it always meant; the others kept their meaning.
    assert stored == {2: "kosovo OR serbia", 3: 'gold "or"', 4: '"war or peace" -or'}
    assert follows == [(1, 2), (2, 2), (3, 3), (3, 4)]
    assert tuple(catalog) == ("kosovo OR serbia", "kosovo OR serbia")
