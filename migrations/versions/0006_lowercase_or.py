"""lowercase or

Topics written with a lowercase "or" ("kosovo or serbia") were stored as three words that
must all appear; "or" in any case now separates alternatives, as the help always said. Each
such topic gets the form the parser gives it now (the word is quoted where it can't be an
alternative, "gold or" -> 'gold "or"'), and joins the topic of that form if one exists.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.topics import Query, QueryError, parse_query

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A stored form is terms separated by spaces; phrases are in straight quotes.
_TERM = re.compile(r'-?"[^"]*"|\S+')


def _reread(stored: str) -> Query | None:
    """Return the query the stored form is now, when a bare "or" changed it; else None."""
    terms = _TERM.findall(stored)
    if "or" not in terms:
        return None
    try:
        return parse_query(stored)
    except QueryError:
        return parse_query(" ".join('"or"' if t == "or" else t for t in terms))


def upgrade() -> None:
    bind = op.get_bind()
    for topic_id, canonical, display in bind.execute(
        sa.text("SELECT id, canonical, display FROM topic ORDER BY id")
    ).all():
        query = _reread(display)
        if query is None or query.canonical == canonical:
            continue
        twin = bind.execute(
            sa.text("SELECT id FROM topic WHERE canonical = :c"), {"c": query.canonical}
        ).scalar()
        if twin is None:
            bind.execute(
                sa.text("UPDATE topic SET canonical = :c, display = :d WHERE id = :id"),
                {"c": query.canonical, "d": query.display, "id": topic_id},
            )
            continue
        bind.execute(
            sa.text(
                "INSERT INTO subscription (chat_id, topic_id, thread_id, created_at) "
                "SELECT chat_id, :twin, thread_id, created_at FROM subscription "
                "WHERE topic_id = :old AND chat_id NOT IN "
                "(SELECT chat_id FROM subscription WHERE topic_id = :twin)"
            ),
            {"twin": twin, "old": topic_id},
        )
        bind.execute(sa.text("DELETE FROM subscription WHERE topic_id = :old"), {"old": topic_id})
        bind.execute(sa.text("DELETE FROM topic WHERE id = :old"), {"old": topic_id})
    for row_id, stored in bind.execute(sa.text("SELECT id, query FROM catalog_topic")).all():
        query = _reread(stored)
        if query is not None:
            bind.execute(
                sa.text("UPDATE catalog_topic SET query = :q, canonical = :c WHERE id = :id"),
                {"q": query.display, "c": query.canonical, "id": row_id},
            )


def downgrade() -> None:
    # The rewritten forms read the same to the previous version: nothing to undo.
    pass
