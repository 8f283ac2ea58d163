"""A batch of new customers is stored without a flush per customer: their customers,
identities and conversations are inserted at once on SQLite (a conversation with its inbox
order) and together before the messages on PostgreSQL (``test_numbered_rows.py``), their
messages together at the end; the look-alike search sees a name changed earlier in the batch."""

from __future__ import annotations

from batch_helpers import T0, inbound, ingest_batch
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from sqlmodel import Session as SQLSession
from sqlmodel import select

from sportello.connectors.base import Person, Thread
from sportello.inbox.conversations import find_or_open
from sportello.inbox.db import session_scope
from sportello.inbox.desk_models import CustomerLink
from sportello.inbox.lookups import Lookups
from sportello.inbox.models import Conversation, Customer
from sportello.inbox.triage_key import triage_key
from sportello.inbox.upsert import insert_now


def test_a_name_changed_earlier_in_the_batch_is_a_look_alike(engine: Engine) -> None:
    (known,) = ingest_batch(engine, inbound("telegram", Person("tg-1", display_name="Cliente"), 1))
    renamed, newcomer = ingest_batch(
        engine,
        inbound("telegram", Person("tg-1", display_name="Giulia Rossi"), 2),
        inbound("whatsapp", Person("393331234567", display_name="Giulia Rossi"), 3),
    )
    assert renamed == known != newcomer
    with session_scope(engine) as session:
        links = session.exec(select(CustomerLink)).all()
    assert [(link.customer_id, link.other_id, link.reason) for link in links] == [
        (newcomer, known, "same display name")
    ]


def test_new_customers_are_stored_with_one_flush(engine: Engine) -> None:
    statements: list[str] = []
    flushes: list[int] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.split("(")[0].strip())

    def count_flush(_session: object, _context: object) -> None:
        flushes.append(len(statements))

    event.listen(engine, "before_cursor_execute", record)
    event.listen(Session, "after_flush", count_flush)
    try:
        customers = ingest_batch(
            engine,
            *(
                inbound("whatsapp", Person(f"39333000{n:04d}", display_name=f"Cliente {n}"), n)
                for n in range(20)
            ),
        )
    finally:
        event.remove(Session, "after_flush", count_flush)
        event.remove(engine, "before_cursor_execute", record)
    assert len(set(customers)) == 20
    assert len(flushes) == 1  # the commit's
    postgres = engine.dialect.name == "postgresql"
    assert statements.count("INSERT INTO customers") == (1 if postgres else 20)
    last_customer = len(statements) - statements[::-1].index("INSERT INTO customers")
    assert "INSERT INTO messages" not in statements[:last_customer]
    with session_scope(engine) as session:
        conversations = session.exec(select(Conversation)).all()
    assert len(conversations) == 20
    for conversation in conversations:
        assert conversation.waiting_since == T0
        assert conversation.triage_key == _own_triage_key(conversation)


def test_a_conversation_inserted_at_once_has_its_inbox_order(engine: Engine) -> None:
    with session_scope(engine) as session:
        customer = insert_now(session, Customer(display_name="Ada", created_at=T0))
        assert customer.id is not None
        find_or_open(  # committed as inserted: nothing changes it afterwards
            session,
            Lookups(),
            channel="telegram",
            thread=Thread("tg-1"),
            customer_id=customer.id,
            recipient_external_id="tg-1",
            at=T0,
        )
    with session_scope(engine) as session:
        (conversation,) = session.exec(select(Conversation)).all()
    assert conversation.triage_key != ""
    assert conversation.triage_key == _own_triage_key(conversation)


def _own_triage_key(conversation: Conversation) -> str:
    return triage_key(
        waiting_since=conversation.waiting_since,
        priority=conversation.priority,
        sla_due_at=conversation.sla_due_at,
        latest_sentiment=conversation.latest_sentiment,
        last_message_at=conversation.last_message_at,
    )


def test_a_row_inserted_at_once_and_rolled_back_gives_way_to_the_next(engine: Engine) -> None:
    with SQLSession(engine) as session:
        gone = insert_now(session, Customer(display_name="Ada", created_at=T0))
        gone_id = gone.id  # ``gone`` stays referenced, as a worker's batch lookups keep theirs
        session.rollback()
        kept = insert_now(session, Customer(display_name="Bea", created_at=T0))
        kept.language = "it"  # a change after the insert is flushed like any other
        kept_id = kept.id
        session.commit()
    with SQLSession(engine) as session:
        stored = session.exec(select(Customer)).all()
    assert [(c.id, c.display_name, c.language) for c in stored] == [(kept_id, "Bea", "it")]
    if engine.dialect.name == "sqlite":
        assert kept_id == gone_id  # the case at stake: SQLite hands out a rolled-back id again
