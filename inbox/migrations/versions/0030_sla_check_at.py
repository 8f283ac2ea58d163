"""when the SLA check is next to look at each conversation

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 21:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from sportello.inbox.types import UTCDateTime

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# inbox/models.py's CLOCK_CHANGED, as it was when written.
CLOCK_CHANGED = datetime(1970, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    op.add_column(
        "conversations", sa.Column("sla_check_at", UTCDateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_conversations_sla_check_at", "conversations", ["sla_check_at"])
    conversations = sa.table(
        "conversations",
        sa.column("status", sa.String()),
        sa.column("sla_due_at", UTCDateTime()),
        sa.column("sla_check_at", UTCDateTime()),
    )
    # The first check looks at every conversation that is or was on the clock.
    op.execute(
        conversations.update()
        .where(
            sa.or_(
                conversations.c.status.in_(("open", "pending")),
                conversations.c.sla_due_at.is_not(None),
            )
        )
        .values(sla_check_at=CLOCK_CHANGED)
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_sla_check_at", table_name="conversations")
    with op.batch_alter_table("conversations") as table:
        table.drop_column("sla_check_at")
