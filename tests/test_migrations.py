"""The migrations build exactly the schema the tables describe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from conftest import fresh_database
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

import sportello.inbox.tables  # noqa: F401
from sportello.inbox.db import MIGRATIONS, make_engine, migrate
from sportello.inbox.metrics import timeline_store
from sportello.inbox.metrics.timeline_tables import ConversationTimeline, TimelineCase
from sportello.inbox.models import CLOCK_CHANGED, Conversation, Customer
from sportello.inbox.search import include_name
from sportello.inbox.triage_key import triage_key


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_match_the_tables(unmigrated_database_url: str) -> None:
    engine = make_engine(unmigrated_database_url)
    migrate(engine)
    migrate(engine)  # a second start changes nothing
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"tables and migrations differ; run `make migration MSG=...`: {diff}"


SCHEMA = {
    "sqlite": "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master",
    "postgres": """
        SELECT 'table ' || tablename FROM pg_tables WHERE schemaname = 'public'
        UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL SELECT 'trigger ' || tgname || ' ' || pg_get_triggerdef(oid)
            FROM pg_trigger WHERE NOT tgisinternal
        UNION ALL SELECT 'function ' || proname || ' ' || prosrc FROM pg_proc
            JOIN pg_namespace ON pg_namespace.oid = pronamespace WHERE nspname = 'public'
        UNION ALL SELECT 'revision ' || version_num FROM alembic_version
    """,
}


def test_the_tests_fresh_databases_are_what_the_migrations_build(
    database_url: str, tmp_path: Path
) -> None:
    """The copies ``database_templates`` makes (on PostgreSQL, from the second one on, the
    statements the first one's migrations sent, sent again) hold the very schema, triggers
    and revision that running the migrations builds."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgres"

    def schema(url: str) -> list[str]:
        """Each object's definition with its lines in order: SQLite's batch migrations
        write a table's constraints in an order that changes from run to run."""
        engine = make_engine(url)
        with engine.connect() as connection:
            found = connection.execute(text(SCHEMA[kind])).scalars()
            lines = [
                " ".join(sorted(line.strip().rstrip(",") for line in definition.splitlines()))
                for definition in found
            ]
        engine.dispose()
        return sorted(lines)

    for directory in ("copy", "migrated"):
        (tmp_path / directory).mkdir()
    copied = schema(fresh_database(kind, tmp_path / "copy"))  # built at least once before
    empty = fresh_database(kind, tmp_path / "migrated", migrated=False)
    engine = make_engine(empty)
    migrate(engine)
    engine.dispose()
    assert copied == schema(empty)
    assert any(line.startswith("trigger") for line in copied)


def test_a_kept_schema_comes_back_empty_with_its_ids_from_one(
    database_url: str, tmp_path: Path
) -> None:
    """What the next test gets when the previous one's PostgreSQL schema is kept."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgres"
    at = datetime(2026, 12, 7, tzinfo=UTC)

    def add_customer(url: str) -> int | None:
        engine = make_engine(url)
        with Session(engine) as session:
            customer = Customer(display_name="Giulia", created_at=at)
            session.add(customer)
            session.commit()
            found = customer.id, len(session.exec(select(Customer)).all())
        engine.dispose()
        assert found[1] == 1  # the only one
        return found[0]

    first = add_customer(fresh_database(kind, tmp_path, keep_schema=True))
    add_customer(fresh_database(kind, tmp_path, keep_schema=True))  # kept, emptied
    assert add_customer(fresh_database(kind, tmp_path, keep_schema=True)) == first == 1


def _at_revision(database_url: str, revision: str) -> Engine:
    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


def test_the_triage_key_is_filled_in_for_existing_conversations(
    unmigrated_database_url: str,
) -> None:
    """Upgrading a database that has conversations gives each its inbox order key."""
    engine = _at_revision(unmigrated_database_url, "0007")
    waiting = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO customers (id, created_at) VALUES (1, :at)"),
            {"at": waiting.replace(tzinfo=None)},
        )
        connection.execute(
            text(
                "INSERT INTO conversations (id, channel, thread_external_id, customer_id,"
                " recipient_external_id, is_group, public, status, priority, opened_at,"
                " waiting_since, last_message_at, latest_sentiment)"
                " VALUES (1, 'telegram', '42', 1, '42', false, false, 'open', 2, :at, :at,"
                " :at, -0.6)"
            ),
            {"at": waiting.replace(tzinfo=None)},
        )
    migrate(engine)
    with Session(engine) as session:
        conversation = session.get(Conversation, 1)
    engine.dispose()
    assert conversation is not None
    assert conversation.triage_key == triage_key(
        waiting_since=waiting,
        priority=2,
        sla_due_at=None,
        latest_sentiment=-0.6,
        last_message_at=waiting,
    )


def test_existing_conversations_get_a_stale_timeline_the_job_builds(
    unmigrated_database_url: str,
) -> None:
    """Upgrading to 0012: every conversation has a timeline row, stale until rebuilt."""
    engine = _at_revision(unmigrated_database_url, "0011")
    opened = datetime(2026, 11, 20, 9, 30)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO customers (id, created_at) VALUES (1, :at)"), {"at": opened}
        )
        connection.execute(
            text(
                "INSERT INTO conversations (id, channel, thread_external_id, customer_id,"
                " recipient_external_id, is_group, public, status, priority, opened_at,"
                " triage_key) VALUES (1, 'telegram', '42', 1, '42', false, false, 'open', 2,"
                " :at, 'k')"
            ),
            {"at": opened},
        )
        connection.execute(
            text(
                "INSERT INTO messages (id, conversation_id, customer_id, channel, direction,"
                " author, kind, text, attachments, sent_at, received_at, sentiment_corrected)"
                " VALUES (1, 1, 1, 'telegram', 'in', 'customer', 'text', 'ciao', '[]', :at,"
                " :at, false)"
            ),
            {"at": opened},
        )
    migrate(engine)
    with Session(engine) as session:
        timeline = session.get(ConversationTimeline, 1)
        assert timeline is not None
        assert timeline.built_generation == 0
        assert timeline_store.refresh_all(engine) == 1
        case = session.exec(select(TimelineCase)).one()
    engine.dispose()
    assert (case.start_at, case.end_at) == (opened.replace(tzinfo=UTC).timestamp(), None)


def test_conversations_on_the_clock_are_looked_at_by_the_first_sla_check(
    unmigrated_database_url: str,
) -> None:
    """Upgrading to 0030: open and pending conversations, and those with a deadline still
    stored, are marked for the SLA check; the others wait for a change."""
    engine = _at_revision(unmigrated_database_url, "0029")
    opened = datetime(2026, 11, 20, 9, 30)
    rows = {1: ("open", None), 2: ("pending", None), 3: ("resolved", opened), 4: ("resolved", None)}
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO customers (id, created_at) VALUES (1, :at)"), {"at": opened}
        )
        for id_, (status, due) in rows.items():
            connection.execute(
                text(
                    "INSERT INTO conversations (id, channel, thread_external_id, customer_id,"
                    " recipient_external_id, is_group, public, status, priority, opened_at,"
                    " sla_due_at, triage_key) VALUES (:id, 'telegram', :id, 1, '42', false,"
                    " false, :status, 0, :at, :due, 'k')"
                ),
                {"id": id_, "status": status, "at": opened, "due": due},
            )
    migrate(engine)
    with Session(engine) as session:
        marks = session.exec(select(Conversation.id, Conversation.sla_check_at)).all()
    engine.dispose()
    assert sorted(marks) == [(1, CLOCK_CHANGED), (2, CLOCK_CHANGED), (3, CLOCK_CHANGED), (4, None)]


def test_macros_written_before_0031_are_shared_and_an_agent_may_reuse_their_names(
    unmigrated_database_url: str,
) -> None:
    """Upgrading to 0031 (and back): the old macros are the shared ones; a name is unique
    among the shared ones and among each agent's own."""
    engine = _at_revision(unmigrated_database_url, "0030")
    shared = text(  # as 0027 made them: no owner
        "INSERT INTO macros (name, add_tags, take, created_at, updated_at)"
        " VALUES ('Thanks', '[]', false, :at, :at)"
    )
    insert = text(
        "INSERT INTO macros (name, owner, add_tags, take, created_at, updated_at)"
        " VALUES (:name, :owner, '[]', false, :at, :at)"
    )
    at = datetime(2026, 12, 1, 9, 0)
    with engine.begin() as connection:
        connection.execute(shared, {"at": at})
    migrate(engine)
    with engine.begin() as connection:
        assert connection.execute(text("SELECT name, owner FROM macros")).all() == [
            ("Thanks", None)
        ]
        for agent in ("bob", "marta"):
            connection.execute(insert, {"name": "Thanks", "owner": agent, "at": at})
    for taken in (None, "bob"):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"name": "Thanks", "owner": taken, "at": at})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0030")  # the agents' own go; the name is unique again
    with engine.begin() as connection:
        assert connection.execute(text("SELECT name FROM macros")).scalars().all() == ["Thanks"]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(shared, {"at": at})
    migrate(engine)
    engine.dispose()
