"""which conversation each agent has open, and whether they are typing a reply in it

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sportello.inbox.types import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("viewing_conversation_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("viewing_at", UTCDateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("typing_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.drop_column("typing_at")
        table.drop_column("viewing_at")
        table.drop_column("viewing_conversation_id")
