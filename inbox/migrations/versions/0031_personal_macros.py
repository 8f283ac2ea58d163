"""macros: an agent's own, beside the shared ones

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0027 made the name unique with an unnamed constraint: PostgreSQL named it so, SQLite
# left it unnamed (the batch migration names it by this convention); a downgrade names it so.
NAME_UNIQUE = "macros_name_key"
SQLITE_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
SHARED = sa.text("owner IS NULL")


def upgrade() -> None:
    op.add_column("macros", sa.Column("owner", sa.String(), nullable=True))
    bind = op.get_bind()
    unique = [
        found["name"] or "uq_macros_name"
        for found in sa.inspect(bind).get_unique_constraints("macros")
        if found["column_names"] == ["name"]
    ]
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("macros", naming_convention=SQLITE_CONVENTION) as table:
            table.drop_constraint(unique[0], type_="unique")
    else:
        op.drop_constraint(unique[0], "macros", type_="unique")
    op.create_index("uq_macros_owner_name", "macros", ["owner", "name"], unique=True)
    op.create_index(
        "uq_macros_shared_name",
        "macros",
        ["name"],
        unique=True,
        postgresql_where=SHARED,
        sqlite_where=SHARED,
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM macros WHERE owner IS NOT NULL"))
    op.drop_index("uq_macros_shared_name", table_name="macros")
    op.drop_index("uq_macros_owner_name", table_name="macros")
    with op.batch_alter_table("macros") as table:
        table.drop_column("owner")
        table.create_unique_constraint(NAME_UNIQUE, ["name"])
