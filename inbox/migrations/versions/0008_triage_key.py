"""triage key: the inbox order as an indexed column

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 10:16:42.625586
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from sportello.inbox.triage_key import triage_key
from sportello.inbox.types import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "triage_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
    _backfill()
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column("triage_key", server_default=None)
        batch_op.create_index(
            "ix_conversations_status_triage", ["status", "triage_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_conversations_triage_key"), ["triage_key"], unique=False
        )


def _backfill() -> None:
    conversations = sa.table(
        "conversations",
        sa.column("id", sa.Integer),
        sa.column("waiting_since", UTCDateTime()),
        sa.column("priority", sa.Integer),
        sa.column("sla_due_at", UTCDateTime()),
        sa.column("latest_sentiment", sa.Float),
        sa.column("last_message_at", UTCDateTime()),
        sa.column("triage_key", sa.String),
    )
    bind = op.get_bind()
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(conversations)
            .where(conversations.c.id > last_id)
            .order_by(conversations.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            conversations.update()
            .where(conversations.c.id == sa.bindparam("row_id"))
            .values(triage_key=sa.bindparam("key")),
            [
                {
                    "row_id": row.id,
                    "key": triage_key(
                        waiting_since=row.waiting_since,
                        priority=row.priority,
                        sla_due_at=row.sla_due_at,
                        latest_sentiment=row.latest_sentiment,
                        last_message_at=row.last_message_at,
                    ),
                }
                for row in rows
            ],
        )
        last_id = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_triage_key"))
        batch_op.drop_index("ix_conversations_status_triage")
        batch_op.drop_column("triage_key")
