"""business hours, away messages, SLAs, job leases

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sportello.inbox.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sportello.inbox.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        _utc("expires_at", False),
        sa.Column("last_slot", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "stored_settings",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        _utc("updated_at", False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "away_cooldowns",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        _utc("last_sent_at", False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "sla_breaches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("policy", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        _utc("due_at", False),
        _utc("fired_at", False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "kind", "level", "due_at"),
    )
    with op.batch_alter_table("sla_breaches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sla_breaches_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sla_breaches_fired_at"), ["fired_at"], unique=False)
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(_utc("sla_due_at", True))
        batch_op.create_index(
            batch_op.f("ix_conversations_sla_due_at"), ["sla_due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_sla_due_at"))
        batch_op.drop_column("sla_due_at")
    with op.batch_alter_table("sla_breaches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_breaches_fired_at"))
        batch_op.drop_index(batch_op.f("ix_sla_breaches_conversation_id"))
    op.drop_table("sla_breaches")
    op.drop_table("away_cooldowns")
    op.drop_table("stored_settings")
    op.drop_table("job_leases")
