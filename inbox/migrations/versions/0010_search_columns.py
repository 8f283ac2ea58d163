"""search columns: PostgreSQL keeps each message's search document; identities by platform id

On PostgreSQL the search words of a message were an index expression, so any plan that tested
rows one by one (the newest messages first, a conversation's messages) recomputed them per row.
They are now a stored generated column under the same GIN index name. Identities get an index
on ``external_id`` alone, for search by a platform id on any channel.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = "to_tsvector('simple', regexp_replace(text, '[[:punct:]]+', ' ', 'g'))"


def upgrade() -> None:
    op.create_index("ix_identities_external_id", "identities", ["external_id"])
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite searches its FTS5 tables (migration 0003)
    op.execute(
        f"ALTER TABLE messages ADD COLUMN text_fts tsvector GENERATED ALWAYS AS ({DOCUMENT}) STORED"
    )
    op.execute("DROP INDEX ix_messages_text_fts")
    op.execute("CREATE INDEX ix_messages_text_fts ON messages USING gin (text_fts)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_messages_text_fts")
        op.execute("ALTER TABLE messages DROP COLUMN text_fts")
        op.execute(f"CREATE INDEX ix_messages_text_fts ON messages USING gin ({DOCUMENT})")
    op.drop_index("ix_identities_external_id", table_name="identities")
