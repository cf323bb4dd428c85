"""stories

Reports of one event from several feeds are grouped into a story: one alert per story per
chat, edited to name the other sources as they come. `story_chat` is the record that a chat
got a story's alert; an outbox row with a story and no entry is such an edit, and a sent
alert keeps the Telegram message id the edit needs.

Revision ID: 0009_stories
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_stories"
down_revision: str | None = "0008_chat_preferences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(length=400), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_story_last_at", "story", ["last_at"])
    op.create_table(
        "story_chat",
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("edit_queued", sa.Boolean(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["story.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("story_id", "chat_id"),
    )
    op.create_index("ix_story_chat_chat_id", "story_chat", ["chat_id"])
    with op.batch_alter_table("entry") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.create_index("ix_entry_story_id", ["story_id"])
        batch.create_foreign_key(
            "fk_entry_story_id", "story", ["story_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))
        batch.create_index("ix_delivery_story_id", ["story_id"])
        batch.create_foreign_key(
            "fk_delivery_story_id", "story", ["story_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_constraint("fk_delivery_story_id", type_="foreignkey")
        batch.drop_index("ix_delivery_story_id")
        batch.drop_column("message_id")
        batch.drop_column("story_id")
    with op.batch_alter_table("entry") as batch:
        batch.drop_constraint("fk_entry_story_id", type_="foreignkey")
        batch.drop_index("ix_entry_story_id")
        batch.drop_column("story_id")
    op.drop_index("ix_story_chat_chat_id", table_name="story_chat")
    op.drop_table("story_chat")
    op.drop_index("ix_story_last_at", table_name="story")
    op.drop_table("story")
