"""conversation timelines: each conversation's walked history, kept for the KPI report

The report walked every message and status event of the conversations a period touches
(about 200k rows for 30 days at 1M messages, over a second). Each conversation now keeps its
walked timeline as rows (cases, waits, pauses, with instants as POSIX seconds: the calendar
does not change them), so the report reads only the rows its period needs.
Triggers on every table the walk reads bump the row's ``generation`` in the writing
transaction, whatever code path writes, so a timeline is current exactly while its
``built_generation`` equals ``generation``; the report walks the others afresh.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_KINDS = "('opened', 'reopened', 'open', 'pending', 'snoozed', 'resolved')"
TOUCH = "UPDATE conversation_timelines SET generation = generation + 1 WHERE conversation_id"
# What the walk reads of a message; a delivery status matters only as failed or not.
MESSAGE_CHANGED = (
    "old.conversation_id IS DISTINCT FROM new.conversation_id"
    " OR old.sent_at IS DISTINCT FROM new.sent_at"
    " OR old.direction IS DISTINCT FROM new.direction"
    " OR old.author IS DISTINCT FROM new.author"
    " OR (coalesce(old.delivery_status, '') = 'failed')"
    " <> (coalesce(new.delivery_status, '') = 'failed')"
)
EVENT_CHANGED = (
    "old.conversation_id IS DISTINCT FROM new.conversation_id"
    " OR old.at IS DISTINCT FROM new.at OR old.kind IS DISTINCT FROM new.kind"
)
RESPONSE_CONVERSATION = "(SELECT conversation_id FROM messages WHERE id = {row}.message_id)"


def _conversation_key() -> sa.Column[int]:
    return sa.Column(
        "conversation_id",
        sa.Integer(),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    )


def _instant(name: str, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Float(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "conversation_timelines",
        _conversation_key(),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("built_generation", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_conversation_timelines_stale",
        "conversation_timelines",
        ["conversation_id"],
        sqlite_where=sa.text("built_generation <> generation"),
        postgresql_where=sa.text("built_generation <> generation"),
    )
    op.create_table(
        "timeline_cases",
        _conversation_key(),
        sa.Column("ordinal", sa.Integer(), primary_key=True),
        _instant("start_at", nullable=False),
        _instant("end_at"),
        _instant("first_wait_at"),
        _instant("first_answer_at"),
        _instant("first_reply_at"),
        sa.Column("human_replies", sa.Integer(), nullable=False),
        _instant("reopened_at"),
    )
    # covering: the report reads these columns without visiting the rows
    op.create_index(
        "ix_timeline_cases_end",
        "timeline_cases",
        [
            "end_at",
            "start_at",
            "conversation_id",
            "first_reply_at",
            "human_replies",
            "reopened_at",
        ],
    )
    op.create_index(
        "ix_timeline_cases_first_answer",
        "timeline_cases",
        ["first_answer_at", "first_wait_at", "conversation_id"],
    )
    op.create_table(
        "timeline_waits",
        _conversation_key(),
        sa.Column("ordinal", sa.Integer(), primary_key=True),
        _instant("start_at", nullable=False),
        _instant("end_at"),
        _instant("cut_at"),
        _instant("settled_at"),
    )
    op.create_index(
        "ix_timeline_waits_end", "timeline_waits", ["end_at", "start_at", "conversation_id"]
    )
    op.create_index(
        "ix_timeline_waits_settled", "timeline_waits", ["settled_at", "start_at", "conversation_id"]
    )
    op.create_table(
        "timeline_pauses",
        _conversation_key(),
        sa.Column("ordinal", sa.Integer(), primary_key=True),
        _instant("start_at", nullable=False),
        _instant("end_at"),
    )
    op.create_index("ix_timeline_pauses_end", "timeline_pauses", ["end_at"])
    op.execute(
        "INSERT INTO conversation_timelines (conversation_id, generation, built_generation)"
        " SELECT id, 1, 0 FROM conversations"
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite(condition: str) -> str:
    return condition.replace("IS DISTINCT FROM", "IS NOT")


SQLITE_TRIGGERS = {
    "conversation_ai": (
        "AFTER INSERT ON conversations",
        "INSERT INTO conversation_timelines (conversation_id, generation, built_generation)"
        " VALUES (new.id, 1, 0);",
    ),
    "message_ai": ("AFTER INSERT ON messages", f"{TOUCH} = new.conversation_id;"),
    "message_ad": ("AFTER DELETE ON messages", f"{TOUCH} = old.conversation_id;"),
    "message_au": (
        f"AFTER UPDATE ON messages WHEN {_sqlite(MESSAGE_CHANGED)}",
        f"{TOUCH} IN (old.conversation_id, new.conversation_id);",
    ),
    "event_ai": (
        f"AFTER INSERT ON conversation_events WHEN new.kind IN {STATUS_KINDS}",
        f"{TOUCH} = new.conversation_id;",
    ),
    "event_ad": (
        f"AFTER DELETE ON conversation_events WHEN old.kind IN {STATUS_KINDS}",
        f"{TOUCH} = old.conversation_id;",
    ),
    "event_au": (
        f"AFTER UPDATE ON conversation_events WHEN {_sqlite(EVENT_CHANGED)}",
        f"{TOUCH} IN (old.conversation_id, new.conversation_id);",
    ),
    "response_ai": (
        "AFTER INSERT ON survey_responses",
        f"{TOUCH} = {RESPONSE_CONVERSATION.format(row='new')};",
    ),
    "response_ad": (
        "AFTER DELETE ON survey_responses",
        f"{TOUCH} = {RESPONSE_CONVERSATION.format(row='old')};",
    ),
}


def _sqlite_triggers() -> None:
    for name, (when, body) in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER conversation_timelines_{name} {when} BEGIN {body} END")


POSTGRES_FUNCTIONS = {
    "conversation_timelines_open": """
        INSERT INTO conversation_timelines (conversation_id, generation, built_generation)
        VALUES (NEW.id, 1, 0);""",
    "conversation_timelines_touch": f"""
        IF TG_OP <> 'INSERT' THEN
            {TOUCH} = OLD.conversation_id;
        END IF;
        IF TG_OP = 'INSERT'
                OR (TG_OP = 'UPDATE' AND NEW.conversation_id <> OLD.conversation_id) THEN
            {TOUCH} = NEW.conversation_id;
        END IF;""",
    "conversation_timelines_touch_response": f"""
        IF TG_OP = 'DELETE' THEN
            {TOUCH} = {RESPONSE_CONVERSATION.format(row="OLD")};
        ELSE
            {TOUCH} = {RESPONSE_CONVERSATION.format(row="NEW")};
        END IF;""",
}
POSTGRES_TRIGGERS = {
    "conversation_ai": "AFTER INSERT ON conversations FOR EACH ROW"
    " EXECUTE FUNCTION conversation_timelines_open()",
    "message_aid": "AFTER INSERT OR DELETE ON messages FOR EACH ROW"
    " EXECUTE FUNCTION conversation_timelines_touch()",
    "message_au": f"AFTER UPDATE ON messages FOR EACH ROW WHEN ({MESSAGE_CHANGED})"
    " EXECUTE FUNCTION conversation_timelines_touch()",
    "event_ai": "AFTER INSERT ON conversation_events FOR EACH ROW"
    f" WHEN (NEW.kind IN {STATUS_KINDS}) EXECUTE FUNCTION conversation_timelines_touch()",
    "event_ad": "AFTER DELETE ON conversation_events FOR EACH ROW"
    f" WHEN (OLD.kind IN {STATUS_KINDS}) EXECUTE FUNCTION conversation_timelines_touch()",
    "event_au": f"AFTER UPDATE ON conversation_events FOR EACH ROW WHEN ({EVENT_CHANGED})"
    " EXECUTE FUNCTION conversation_timelines_touch()",
    "response_aid": "AFTER INSERT OR DELETE ON survey_responses FOR EACH ROW"
    " EXECUTE FUNCTION conversation_timelines_touch_response()",
}


def _postgres_triggers() -> None:
    for name, body in POSTGRES_FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {body} RETURN NULL; END $$"
        )
    for name, definition in POSTGRES_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER conversation_timelines_{name} {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, definition in POSTGRES_TRIGGERS.items():
            table = definition.split(" ON ")[1].split()[0]
            op.execute(f"DROP TRIGGER conversation_timelines_{name} ON {table}")
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER conversation_timelines_{name}")
    for table in ("timeline_pauses", "timeline_waits", "timeline_cases"):
        op.drop_table(table)
    op.drop_index("ix_conversation_timelines_stale", "conversation_timelines")
    op.drop_table("conversation_timelines")
