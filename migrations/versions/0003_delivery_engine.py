"""delivery engine

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_sender",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    # Existing broadcast rows keep their place behind alerts; rows left "sending" by the
    # previous version had no owner and go back to the queue.
    op.execute("UPDATE delivery SET priority = 1 WHERE broadcast_id IS NOT NULL")
    op.execute("UPDATE delivery SET state = 'queued' WHERE state = 'sending'")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("priority", existing_type=sa.SmallInteger(), server_default=None)
        batch_op.create_index(
            "ix_delivery_claim", ["state", "priority", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_claim")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("priority")
    op.drop_table("outbox_sender")
