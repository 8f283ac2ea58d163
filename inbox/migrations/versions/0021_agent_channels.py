"""the channels each agent handles, for automatic assignment

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("channels", sa.JSON(), nullable=True, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.drop_column("channels")
