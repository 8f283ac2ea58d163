"""A batch's lookups probe their indexes on PostgreSQL whatever the statistics say.

With ``channel = ... AND external_id IN (...)``, a channel that ``ANALYZE`` has not seen (a
young table, or a channel added since) looked rare to the planner: it read every message of
the channel and filtered the ids, so the worker's lookups grew with the table. The same for
the newcomers' phone numbers: every identity was read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from plan_helpers import explain, scans_of, statements_run
from sqlalchemy import Engine, insert, text
from sqlmodel import Session

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox.lookups import Lookups
from sportello.inbox.models import Conversation, Customer, Identity, Message

# These tests read the planner's statistics: a schema of their own.
pytestmark = pytest.mark.rebuilt_schema

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
STORED = 3_000


def _fill(session: Session) -> None:
    """Ten Telegram messages counted by ``ANALYZE``, then WhatsApp ones it has not seen."""
    session.exec(text("ALTER TABLE messages SET (autovacuum_enabled = false)"))  # type: ignore[call-overload]
    customer = Customer(display_name="Ada", created_at=NOW)
    session.add(customer)
    session.flush()
    assert customer.id is not None
    conversation = Conversation(
        channel="whatsapp",
        thread_external_id="t",
        customer_id=customer.id,
        recipient_external_id="393330000001",
        opened_at=NOW,
    )
    session.add(conversation)
    session.flush()

    def rows(channel: str, count: int) -> list[dict[str, Any]]:
        return [
            {
                "conversation_id": conversation.id,
                "customer_id": customer.id,
                "channel": channel,
                "direction": "in",
                "author": "customer",
                "kind": "text",
                "external_id": f"{channel}-{n}",
                "text": "ciao",
                "attachments": [],
                "sent_at": NOW,
                "received_at": NOW,
            }
            for n in range(count)
        ]

    session.exec(insert(Message), params=rows("telegram", 10))  # type: ignore[call-overload]
    session.commit()
    session.exec(text("ANALYZE messages"))  # type: ignore[call-overload]
    session.exec(insert(Message), params=rows("whatsapp", STORED))  # type: ignore[call-overload]
    session.commit()


def _read_explained(
    session: Session, events: list[InboundMessage], marker: str
) -> tuple[Lookups, dict[str, Any]]:
    """``Lookups.read`` for ``events``, and how PostgreSQL ran its one statement that
    contains ``marker``: the plan, with actual rows."""
    with statements_run(session.get_bind(), marker) as executed:
        known = Lookups.read(session, events)
    [(statement, params)] = executed
    return known, explain(session, statement, params)


def test_the_message_lookup_reads_only_the_ids_asked(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite's planner takes the index without statistics)")
    asked = [
        InboundMessage(
            channel="whatsapp",
            external_id=f"whatsapp-{n}" if n % 2 else f"new-{n}",  # half stored, half new
            thread=Thread("t"),
            customer=Person("393330000001"),
            sent_at=NOW,
            text="ciao",
        )
        for n in range(50)
    ]
    with Session(engine) as session:
        _fill(session)
        known, explained = _read_explained(session, asked, "FROM messages")
        session.rollback()
    assert len(known.messages) == 25
    scans = scans_of(explained["Plan"], "messages")
    assert scans, explained
    for scan in scans:  # each an index probe that reads only what it returns
        assert scan["Node Type"] == "Index Scan", explained
        assert scan["Index Name"] == "messages_channel_external_id_key", explained
        assert scan.get("Rows Removed by Filter", 0) == 0, explained
        assert scan["Actual Rows"] <= 1, explained  # per probe, at most the id asked


def test_the_newcomers_phone_numbers_are_probed_in_the_index(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite's planner takes the index without statistics)")
    with Session(engine) as session:
        session.exec(text("ALTER TABLE identities SET (autovacuum_enabled = false)"))  # type: ignore[call-overload]
        session.exec(text("ANALYZE identities"))  # type: ignore[call-overload]
        customer = Customer(display_name="Ada", created_at=NOW)
        session.add(customer)
        session.flush()
        session.exec(
            insert(Identity),  # type: ignore[call-overload]
            params=[
                {
                    "customer_id": customer.id,
                    "channel": "whatsapp",
                    "external_id": f"39333{n:07d}",
                    "phone": f"+39333{n:07d}",
                    "created_at": NOW,
                }
                for n in range(STORED)
            ],
        )
        session.commit()
        newcomers = [
            InboundMessage(
                channel="telegram",
                external_id=f"tg-{n}",
                thread=Thread(f"tg-{n}"),
                customer=Person(f"tg-{n}", phone=f"+39333{n * 97:07d}"),
                sent_at=NOW,
                text="ciao",
            )
            for n in range(50)  # the first 31 have their number stored, on WhatsApp
        ]
        known, explained = _read_explained(session, newcomers, "WHERE identities.phone")
        session.rollback()
    assert len(known.unclaimed) == 50 - 31
    scans = scans_of(explained["Plan"], "identities")
    assert scans, explained
    for scan in scans:
        assert scan["Node Type"] == "Index Only Scan", explained
        assert scan["Index Name"] == "ix_identities_phone", explained
        assert scan["Actual Rows"] <= 1, explained
