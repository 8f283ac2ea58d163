"""why a customer gave a low score: the comment asked after it

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sportello.inbox.types import UTCDateTime

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite needs no table copy for them.
    op.add_column("surveys", sa.Column("comment", sa.Text(), nullable=True))
    op.add_column(
        "surveys", sa.Column("comment_asked_at", UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("surveys", sa.Column("commented_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("surveys", sa.Column("comment_message_id", sa.Integer(), nullable=True))
    op.add_column(
        "conversations",
        sa.Column("survey_comment_until", UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as table:
        table.drop_column("survey_comment_until")
    with op.batch_alter_table("surveys") as table:
        table.drop_column("comment_message_id")
        table.drop_column("commented_at")
        table.drop_column("comment_asked_at")
        table.drop_column("comment")
