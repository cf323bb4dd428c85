"""topic mutes

A chat may mute one of its topics for a while from the buttons under an alert; the mute
ends on its own at `until`. Each queued alert also names the chat's topics it matched
(`delivery.topic_ids`), so the alert can say why it came and offer buttons for them.

Revision ID: 0010_topic_mutes
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_topic_mutes"
down_revision: str | None = "0009_stories"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "topic_mute",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("chat_id", "topic_id"),
    )
    op.create_index("ix_topic_mute_until", "topic_mute", ["until"], unique=False)
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("topic_ids", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("topic_ids")
    op.drop_index("ix_topic_mute_until", table_name="topic_mute")
    op.drop_table("topic_mute")
