"""look-alike indexes: a new identity finds same-named identities without a table scan

Every new identity looks for look-alikes on other channels by lower-cased display name and
handle prefix (sportello.inbox.linking). Without these indexes each lookup read every
identity: about 80 ms per new customer at 130k identities, the journal worker's main cost.
PostgreSQL's handle index uses ``text_pattern_ops`` so ``LIKE 'abc%'`` can use it under any
collation; SQLite's query asks for a range instead (its LIKE cannot use an expression index).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pattern = " text_pattern_ops" if op.get_bind().dialect.name == "postgresql" else ""
    op.execute("CREATE INDEX ix_identities_lower_name ON identities (lower(display_name))")
    op.execute(f"CREATE INDEX ix_identities_lower_handle ON identities (lower(handle){pattern})")


def downgrade() -> None:
    op.execute("DROP INDEX ix_identities_lower_handle")
    op.execute("DROP INDEX ix_identities_lower_name")
