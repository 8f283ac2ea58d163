"""conversations by opening time: the KPI report's new-conversation counts read a period's
conversations, and its business-time clock starts at the oldest relevant one; both read
every conversation without this index (80 ms at 200k conversations)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_conversations_opened_at", "conversations", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_opened_at", "conversations")
