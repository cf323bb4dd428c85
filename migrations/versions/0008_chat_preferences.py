"""chat preferences

Each chat chooses how and when news reaches it: instant alerts or digests at times it
picks, quiet hours, its time zone and link previews. Chats without a preference row keep
instant alerts in UTC with previews, as before. Stories held for a digest wait in
held_alert; a released digest is a digest row that one outbox row sends.

Revision ID: 0008_chat_preferences
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_chat_preferences"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_preference",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("digest_times", sa.String(length=64), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("quiet_mode", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("link_previews", sa.Boolean(), nullable=False),
        sa.Column("next_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("chat_id"),
    )
    with op.batch_alter_table("chat_preference", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_preference_next_digest_at"), ["next_digest_at"], unique=False
        )
    op.create_table(
        "held_alert",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["entry.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("chat_id", "entry_id"),
    )
    op.create_table(
        "digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("plain", sa.Text(), nullable=False),
        sa.Column("stories", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_chat_id"), ["chat_id"], unique=False)
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_delivery_digest_id_digest", "digest", ["digest_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index(batch_op.f("ix_delivery_digest_id"), ["digest_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_digest_id"))
        batch_op.drop_constraint("fk_delivery_digest_id_digest", type_="foreignkey")
        batch_op.drop_column("digest_id")
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_chat_id"))
    op.drop_table("digest")
    op.drop_table("held_alert")
    with op.batch_alter_table("chat_preference", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_preference_next_digest_at"))
    op.drop_table("chat_preference")
