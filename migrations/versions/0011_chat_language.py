"""chat language

Each chat reads the bot in a language of its own: chosen with /language, or taken from the
user's Telegram language at /start. NULL means neither happened yet (English).

Revision ID: 0011_chat_language
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_chat_language"
down_revision: str | None = "0010_topic_mutes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat") as batch:
        batch.drop_column("language")
