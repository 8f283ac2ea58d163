"""identities by e-mail address: a new customer's evidence search (and a batch's check of
which newcomers' addresses anyone has) read every identity without this index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 17:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_identities_email", "identities", ["email"])


def downgrade() -> None:
    op.drop_index("ix_identities_email", "identities")
