"""entry description

Live alerts matched a story on the feed's description (its blurb) and the summary, while
/testtopic and /latest could match the stored summary only. The blurb is stored with the
story now, so every way of matching reads the same text. Stories stored before keep an empty
description.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entry") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("entry") as batch:
        batch.drop_column("description")
