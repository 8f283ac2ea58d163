"""teams of agents, and the team a conversation is given to

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sportello.inbox.types import UTCDateTime

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    # A plain ADD COLUMN: SQLite needs no table copy for it.
    op.add_column("conversations", sa.Column("team", sa.String(), nullable=True))
    op.create_index("ix_conversations_team", "conversations", ["team"])


def downgrade() -> None:
    op.drop_index("ix_conversations_team", table_name="conversations")
    with op.batch_alter_table("conversations") as table:
        table.drop_column("team")
    op.drop_table("teams")
