"""report indexes: the KPI report's scans read indexes only, never the table rows

Each new index starts with the columns of the one it replaces, so every query that used the
old one can use the new one in the same order.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY = ["conversation_id", "sent_at", "id", "direction", "author", "delivery_status"]
PERIOD = [
    "sent_at",
    "id",
    "direction",
    "author",
    "channel",
    "conversation_id",
    "customer_id",
    "sentiment_compound",
]
EVENTS = ["conversation_id", "at", "id", "kind"]


def upgrade() -> None:
    op.create_index("ix_messages_history", "messages", HISTORY)
    op.create_index("ix_messages_period", "messages", PERIOD)
    op.create_index("ix_conversation_events_history", "conversation_events", EVENTS)
    op.drop_index("ix_messages_conversation_sent", table_name="messages")
    op.drop_index("ix_messages_sent_at", table_name="messages")
    op.drop_index("ix_conversation_events_conv_at", table_name="conversation_events")


def downgrade() -> None:
    op.create_index(
        "ix_conversation_events_conv_at", "conversation_events", ["conversation_id", "at"]
    )
    op.create_index("ix_messages_sent_at", "messages", ["sent_at"])
    op.create_index("ix_messages_conversation_sent", "messages", ["conversation_id", "sent_at"])
    op.drop_index("ix_conversation_events_history", table_name="conversation_events")
    op.drop_index("ix_messages_period", table_name="messages")
    op.drop_index("ix_messages_history", table_name="messages")
