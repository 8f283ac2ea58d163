"""A flush's changed conversations are updated with one statement per set of changed columns,
each row writing only what it changed, with its inbox order brought up to date."""

from __future__ import annotations

from typing import Any

import pytest
from batch_helpers import inbound, ingest_batch, statements
from sqlalchemy import Engine, delete, event
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from sportello.connectors.base import Person
from sportello.inbox.db import session_scope
from sportello.inbox.models import Conversation, ConversationEvent, Message
from sportello.inbox.triage_key import triage_key


def _conversations(engine: Engine, count: int) -> list[int]:
    ingest_batch(engine, *(inbound("telegram", Person(f"tg-{n}"), n) for n in range(count)))
    with Session(engine) as session:
        return [row.id for row in _loaded(session) if row.id is not None]


def _loaded(session: Session) -> list[Conversation]:
    return list(session.exec(select(Conversation).order_by(col(Conversation.id))).all())


def _conversation_updates(seen: list[tuple[str, bool]]) -> list[str]:
    return [s for s, _ in seen if s.startswith("UPDATE conversations")]


def test_rows_that_changed_the_same_columns_share_one_statement(engine: Engine) -> None:
    ids = _conversations(engine, 4)
    with session_scope(engine) as session:
        rows = _loaded(session)
        for n, row in enumerate(rows):  # two shapes, alternating in id order
            row.title = f"case {n}"
            if n % 2:
                row.assignee = "giulia"
        with statements(engine) as seen:
            session.flush()
    updates = _conversation_updates(seen)
    assert len(updates) == 2  # the unit of work alone: four, one per change of shape
    assert sorted("assignee" in s for s in updates) == [False, True]
    with Session(engine) as session:
        stored = {row.id: (row.title, row.assignee) for row in _loaded(session)}
    assert stored == {
        ids[0]: ("case 0", None),
        ids[1]: ("case 1", "giulia"),
        ids[2]: ("case 2", None),
        ids[3]: ("case 3", "giulia"),
    }


def test_a_column_the_flush_did_not_change_is_not_written_back(engine: Engine) -> None:
    first, second = _conversations(engine, 2)
    with session_scope(engine) as session:
        rows = _loaded(session)  # read before the agent's change below
        with session_scope(engine) as agent:
            resolved = agent.get_one(Conversation, first)
            resolved.status = "resolved"
        rows[0].title = "case 0"
        rows[1].title = "case 1"
        rows[1].assignee = "giulia"
    with Session(engine) as session:
        assert session.get_one(Conversation, first).status == "resolved"
        assert session.get_one(Conversation, second).assignee == "giulia"


def test_the_inbox_order_follows_the_changed_fields(engine: Engine) -> None:
    _conversations(engine, 4)
    with session_scope(engine) as session:
        rows = _loaded(session)
        before = [row.triage_key for row in rows]
        rows[0].latest_sentiment = -0.9  # negative: higher in the inbox
        rows[1].waiting_since = None  # answered: lower
        rows[2].latest_sentiment = 0.8  # not negative: the same place
        rows[3].latest_sentiment = -0.6
        with statements(engine) as seen:
            session.flush()
    updates = _conversation_updates(seen)
    assert len(updates) == 3  # 0 and 3 together
    # each row's order in the statement of its change, not in one more afterwards
    assert not [s for s in updates if s.startswith("UPDATE conversations SET triage_key")]
    with Session(engine) as session:
        stored = _loaded(session)
    for row in stored:
        assert row.triage_key == triage_key(
            waiting_since=row.waiting_since,
            priority=row.priority,
            sla_due_at=row.sla_due_at,
            latest_sentiment=row.latest_sentiment,
            last_message_at=row.last_message_at,
        )
    assert [row.triage_key != old for row, old in zip(stored, before, strict=True)] == [
        True,
        True,
        False,
        True,
    ]


def test_a_row_deleted_meanwhile_fails_the_flush(engine: Engine) -> None:
    first, gone = _conversations(engine, 2)
    with Session(engine) as session:
        rows = _loaded(session)
        with session_scope(engine) as other:
            for table in (Message, ConversationEvent):
                other.execute(delete(table).where(table.conversation_id == gone))  # type: ignore[arg-type]
            other.execute(delete(Conversation).where(Conversation.id == gone))  # type: ignore[arg-type]
        for row in rows:
            row.title = "lost"
        with pytest.raises(StaleDataError):
            session.flush()
        session.rollback()
    with Session(engine) as session:
        assert session.get_one(Conversation, first).title is None


def test_a_moved_conversation_is_left_to_the_unit_of_work(engine: Engine) -> None:
    ids = _conversations(engine, 3)
    with session_scope(engine) as session:
        rows = _loaded(session)
        rows[0].customer_id = rows[2].customer_id  # a key: ordered by the unit of work
        rows[0].title = "moved"
        rows[1].title = "case 1"
        rows[2].title = "case 2"
        customer = rows[2].customer_id
        with statements(engine) as seen:
            session.flush()
    assert len(_conversation_updates(seen)) == 2
    with Session(engine) as session:
        stored = {row.id: (row.customer_id, row.title) for row in _loaded(session)}
    assert stored[ids[0]] == (customer, "moved")
    assert stored[ids[1]][1] == "case 1"
    assert stored[ids[2]] == (customer, "case 2")


def test_rows_already_in_one_statement_are_left_to_the_unit_of_work(engine: Engine) -> None:
    _conversations(engine, 3)
    binds: list[set[str]] = []

    def record(
        _c: object, _cur: object, statement: str, _p: object, context: Any, _m: bool
    ) -> None:
        if statement.startswith("UPDATE conversations"):
            binds.append(set(context.compiled.binds))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with session_scope(engine) as session:
            for n, row in enumerate(_loaded(session)):  # one shape: one statement either way
                row.title = f"case {n}"
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(binds) == 1
    assert "row_id" not in binds[0]  # the unit of work's own statement, not this module's
