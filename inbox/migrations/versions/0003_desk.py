"""unified inbox: merges, link suggestions, audit, notes, canned replies, full-text search

Adds ``customers.merged_into_id`` (a core table) and the full-text search structures:
FTS5 tables with triggers on SQLite, GIN expression indexes on PostgreSQL (both are
described in ``sportello.inbox.search``).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sportello.inbox.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name -> (content table, columns); frozen copy of sportello.inbox.search.SQLITE_FTS.
SQLITE_FTS = {
    "messages_fts": ("messages", ("text",)),
    "identities_fts": ("identities", ("display_name", "handle", "email")),
    "customers_fts": ("customers", ("display_name", "email")),
}
PG_GIN = {
    "ix_messages_text_fts": (
        "messages",
        "to_tsvector('simple', regexp_replace(text, '[[:punct:]]+', ' ', 'g'))",
    ),
    "ix_identities_fts": (
        "identities",
        "to_tsvector('simple', regexp_replace(coalesce(display_name, '') || ' ' || "
        "coalesce(handle, '') || ' ' || coalesce(email, ''), '[[:punct:]]+', ' ', 'g'))",
    ),
    "ix_customers_fts": (
        "customers",
        "to_tsvector('simple', regexp_replace(coalesce(display_name, '') || ' ' || "
        "coalesce(email, ''), '[[:punct:]]+', ' ', 'g'))",
    ),
}


def _ts(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sportello.inbox.types.UTCDateTime(timezone=True), nullable=nullable)


def _text(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_customers_merged_into_id"), ["merged_into_id"], unique=False
        )

    op.create_table(
        "customer_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        _text("reason"),
        sa.Column("score", sa.Float(), nullable=False),
        _text("status"),
        _ts("created_at", False),
        _ts("decided_at", True),
        _text("decided_by", True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_links_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_customer_links_other_id"), ["other_id"])
        batch_op.create_index("ix_customer_links_status_id", ["status", "id"])

    op.create_table(
        "customer_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        _ts("at", False),
        _text("actor"),
        _text("action"),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_audit_other_id"), ["other_id"])
        batch_op.create_index("ix_customer_audit_customer_id_id", ["customer_id", "id"])

    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        _text("author"),
        _text("text"),
        _ts("created_at", False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conversation_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversation_notes_conversation_id"), ["conversation_id"]
        )

    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("title"),
        _text("text"),
        _text("language", True),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("title"),
    )

    if op.get_bind().dialect.name == "postgresql":
        for index, (table, expression) in PG_GIN.items():
            op.execute(f"CREATE INDEX {index} ON {table} USING gin ({expression})")
    else:
        for fts, (table, columns) in SQLITE_FTS.items():
            _create_fts5(fts, table, columns)


def _create_fts5(fts: str, table: str, columns: tuple[str, ...]) -> None:
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    delete = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', "
        f"content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN {delete} END")
    op.execute(
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {names} ON {table} BEGIN {delete} {insert} END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for index in PG_GIN:
            op.execute(f"DROP INDEX IF EXISTS {index}")
    else:
        for fts in SQLITE_FTS:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    op.drop_table("canned_replies")
    op.drop_table("conversation_notes")
    op.drop_table("customer_audit")
    op.drop_table("customer_links")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_merged_into_id"))
        batch_op.drop_column("merged_into_id")
