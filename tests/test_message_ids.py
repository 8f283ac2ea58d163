"""On PostgreSQL a flush's new messages are numbered from the sequence first and inserted with
one short executemany; a lone message, and messages on SQLite, are inserted as before."""

from __future__ import annotations

from batch_helpers import T0, inbound, statements
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from sportello.connectors.base import Person
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Message
from sportello.inbox.new_row import new_row


def message_inserts(seen: list[tuple[str, bool]]) -> list[tuple[bool, bool]]:
    """(executemany?, RETURNING?) of each statement that inserted messages."""
    return [(many, "RETURNING" in s) for s, many in seen if s.startswith("INSERT INTO messages")]


def test_a_batch_of_messages_is_numbered_first_on_postgresql(engine: Engine) -> None:
    customers = [Person(f"tg-{n}", display_name=f"Cliente {n}") for n in range(3)]
    with statements(engine) as seen, session_scope(engine) as session:
        ingested = ingest(
            session, [inbound("telegram", p, n) for n, p in enumerate(customers)], now=T0
        )
        session.flush()
        numbered = {message.external_id: message.id for message, _ in ingested.new_messages}
    postgres = engine.dialect.name == "postgresql"
    inserts = message_inserts(seen)
    if postgres:
        assert inserts == [(True, False)]  # one executemany, no RETURNING
    else:
        assert len(inserts) == 3  # row by row, as before
    assert any("nextval" in s for s, _ in seen) is postgres
    with Session(engine) as session:
        stored = session.exec(select(Message.external_id, Message.id)).all()
    assert dict(stored) == numbered
    assert len(set(numbered.values())) == 3


def test_a_lone_message_is_not_numbered_first(engine: Engine) -> None:
    first = [inbound("telegram", Person(f"tg-{n}"), n) for n in range(2)]
    with session_scope(engine) as session:
        ingest(session, first, now=T0)
    with statements(engine) as seen, session_scope(engine) as session:
        ((lone, _),) = ingest(
            session, [inbound("telegram", Person("tg-9"), 9)], now=T0
        ).new_messages
        session.flush()
        assert lone.id is not None
        with Session(engine) as other:
            earlier = other.exec(select(func.max(Message.id))).one()
    assert [many for many, _ in message_inserts(seen)] == [False]
    assert not any("nextval" in s for s, _ in seen)
    assert earlier is not None and lone.id > earlier


def test_a_message_given_its_id_keeps_it(engine: Engine) -> None:
    (conversation_id, customer_id) = _a_conversation(engine)
    with session_scope(engine) as session:
        rows = [
            new_row(
                Message,
                id=1000 + n,
                conversation_id=conversation_id,
                customer_id=customer_id,
                channel="telegram",
                direction="out",
                author="agent",
                sent_at=T0,
                received_at=T0,
            )
            for n in range(2)
        ]
        session.add_all(rows)
    assert [row.id for row in rows] == [1000, 1001]


def _a_conversation(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        ((message, conversation),) = ingest(
            session, [inbound("telegram", Person("tg-1"), 1)], now=T0
        ).new_messages
        session.flush()
        assert conversation.id is not None
        return conversation.id, message.customer_id
