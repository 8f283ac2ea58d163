"""the languages each agent speaks, for automatic assignment

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("languages", sa.JSON(), nullable=True, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.drop_column("languages")
