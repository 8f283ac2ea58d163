"""A batch's new customers, identities and conversations: numbered ahead and inserted together
at the flush on PostgreSQL (parents first), inserted at once on SQLite; the same rows either
way, look-alikes found within the batch, and a newcomer stored meanwhile by another replica."""

from __future__ import annotations

import json

import pytest
from batch_helpers import T0, inbound, ingest_batch, statements
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from sportello.config.settings import TelegramSettings
from sportello.connectors.base import Person
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.telegram import TelegramConnector
from sportello.inbox import journal
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.desk_models import CustomerLink
from sportello.inbox.ingest import Ingested
from sportello.inbox.models import Conversation, Customer, Delivery, Identity, Message
from sportello.inbox.numbered_rows import ReservedIds, add_new
from sportello.inbox.pipeline import JournalWorker


def _inserts(seen: list[tuple[str, bool]], table: str) -> list[bool]:
    """Whether each INSERT into ``table`` was an executemany."""
    return [many for statement, many in seen if statement.startswith(f"INSERT INTO {table} ")]


def test_a_batch_of_newcomers_is_inserted_one_statement_per_table(engine: Engine) -> None:
    people = [Person(f"39333000{n:04d}", display_name=f"Cliente {n}") for n in range(20)]
    with statements(engine) as seen:
        customers = ingest_batch(engine, *(inbound("whatsapp", p, n) for n, p in enumerate(people)))
    postgres = engine.dialect.name == "postgresql"
    for table in ("customers", "identities", "conversations"):
        # PostgreSQL: one executemany each, at the flush; SQLite: a row at once, for its id
        assert _inserts(seen, table) == ([True] if postgres else [False] * 20)
    reserving = [s for s, _ in seen if "nextval(pg_get_serial_sequence('customers'" in s]
    assert len(reserving) == (1 if postgres else 0)
    with session_scope(engine) as session:
        stored = session.exec(select(Identity).order_by(col(Identity.id))).all()
        conversations = session.exec(select(Conversation).order_by(col(Conversation.id))).all()
        messages = session.exec(select(Message).order_by(col(Message.id))).all()
    assert [i.external_id for i in stored] == [p.external_id for p in people]  # in order made
    assert [i.customer_id for i in stored] == customers == [m.customer_id for m in messages]
    assert [c.customer_id for c in conversations] == customers
    assert [m.conversation_id for m in messages] == [c.id for c in conversations]
    assert [m.identity_id for m in messages] == [i.id for i in stored]


def test_newcomers_of_one_batch_are_look_alikes_of_each_other(engine: Engine) -> None:
    first, second, third = ingest_batch(
        engine,
        inbound("telegram", Person("tg-7", display_name="Giulia Rossi", handle="giulia_r0ssi"), 1),
        inbound("whatsapp", Person("393331234567", display_name="giulia rossi"), 2),
        inbound("x", Person("x-7", handle="GiuliaR0ssi"), 3),
    )
    assert len({first, second, third}) == 3
    with session_scope(engine) as session:
        links = session.exec(select(CustomerLink).order_by(col(CustomerLink.id))).all()
    assert [(link.customer_id, link.other_id, link.reason) for link in links] == [
        (second, first, "same display name"),
        (third, first, "same handle"),
    ]


def test_a_row_waiting_for_the_flush_is_found_and_stored(engine: Engine) -> None:
    with session_scope(engine) as session:
        reserved = ReservedIds.reserve(session, customers=2, identities=0, conversations=0)
        ada = add_new(session, Customer(display_name="Ada", created_at=T0), reserved)
        assert ada.id is not None
        assert session.get(Customer, ada.id) is ada  # read before the flush: flushed first
        ada.language = "it"  # a change after it was stored is flushed like any other
        ada_id = ada.id
    with session_scope(engine) as session:
        stored = session.exec(select(Customer)).one()
    assert (stored.id, stored.display_name, stored.language) == (ada_id, "Ada", "it")
    if engine.dialect.name == "postgresql":
        assert reserved.take(Customer) == ada_id + 1  # numbered in the order made
    else:
        assert reserved.take(Customer) is None  # no sequence: inserted at once


def test_a_newcomer_stored_meanwhile_by_another_replica(database_url: str) -> None:
    """The batch's rows meet the other replica's at the flush; the batch is redone one
    delivery at a time, and the newcomer joins the customer the other replica stored."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite stores a new identity at once, under its one writer's lock")
    engine = make_engine(database_url)
    migrate(engine)
    pia, leo = tg.user(5554001, "Pia", "Gallo"), tg.user(5554002, "Leo", "Neri")
    other_replica: list[int] = []

    def store_pia_elsewhere(session: Session, ingested: Ingested) -> None:
        if other_replica:
            return
        with Session(engine) as elsewhere:  # its own connection and transaction
            elsewhere.execute(text("SET LOCAL lock_timeout = '5s'"))  # not a hang, if wrong
            customer = Customer(display_name="Pia Gallo", created_at=T0)
            elsewhere.add(customer)
            elsewhere.flush()
            assert customer.id is not None
            elsewhere.add(
                Identity(
                    customer_id=customer.id,
                    channel="telegram",
                    external_id=str(pia["id"]),
                    display_name="Pia Gallo",
                    created_at=T0,
                )
            )
            elsewhere.commit()
            other_replica.append(customer.id)

    connector = TelegramConnector(TelegramSettings(bot_token=SecretStr("1:x")))
    worker = JournalWorker(
        engine, {"telegram": connector}, FrozenClock(T0), hooks=[store_pia_elsewhere]
    )
    for n, user in enumerate((pia, leo), start=1):  # two newcomers: their ids reserved
        message = tg.message(n, user, int(T0.timestamp()), text=f"ciao {n}")
        body = json.dumps(tg.update(n, message=message)).encode()
        journal.append(engine, channel="telegram", body=body, received_at=T0, platform_key=f"u{n}")
    assert worker.process_pending() == 2
    with Session(engine) as session:
        deliveries = session.exec(select(Delivery)).all()
        identities = {i.external_id: i.customer_id for i in session.exec(select(Identity))}
        messages = {m.text: m.customer_id for m in session.exec(select(Message))}
        customers = [c.id for c in session.exec(select(Customer).order_by(col(Customer.id)))]
    assert [(d.state, d.error) for d in deliveries] == [("processed", None)] * 2
    assert identities[str(pia["id"])] == messages["ciao 1"] == other_replica[0]
    assert identities[str(leo["id"])] == messages["ciao 2"] != other_replica[0]
    assert customers == [other_replica[0], messages["ciao 2"]]  # Pia's first one: gone
    engine.dispose()
