"""feed health and entry identities

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Left empty for existing feeds: nothing is pruned until a feed is read again.
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_parsed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE entry SET last_seen_at = seen_at")
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.alter_column(
            "last_seen_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_column("last_parsed_at")
