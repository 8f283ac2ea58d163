"""A new customer joins the customer known by the same phone number or e-mail address, whether
that evidence was stored before the worker's batch or by an earlier delivery of the same batch;
and newcomers without evidence cost no evidence query each."""

from __future__ import annotations

import re

from batch_helpers import inbound, ingest_batch
from sqlalchemy import Engine, event

from sportello.connectors.base import Person

PHONE = "393331234567"  # as WhatsApp gives it; +393331234567 normalised


def test_evidence_stored_before_the_batch_is_found(engine: Engine) -> None:
    (by_phone,) = ingest_batch(engine, inbound("whatsapp", Person(PHONE, phone=PHONE), 1))
    (by_email,) = ingest_batch(
        engine, inbound("messenger", Person("psid-1", email="Ada@Example.com"), 2)
    )
    joined = ingest_batch(
        engine,
        inbound("telegram", Person("tg-1", phone="+39 333 123 4567"), 3),
        inbound("x", Person("x-1", email="ada@example.com"), 4),
        inbound("telegram", Person("tg-2", phone="+39 333 765 4321"), 5),
    )
    assert joined[:2] == [by_phone, by_email]
    assert joined[2] not in (by_phone, by_email)


def test_a_newcomer_of_the_same_batch_is_evidence(engine: Engine) -> None:
    first, second = ingest_batch(
        engine,
        inbound("whatsapp", Person(PHONE, phone=PHONE), 1),
        inbound("telegram", Person("tg-1", phone="+" + PHONE), 2),
    )
    assert first == second


def test_a_known_identity_revealing_its_phone_in_the_batch_is_evidence(engine: Engine) -> None:
    (known,) = ingest_batch(engine, inbound("telegram", Person("tg-1"), 1))
    revealed, newcomer = ingest_batch(
        engine,
        inbound("telegram", Person("tg-1", phone="+" + PHONE), 2),
        inbound("whatsapp", Person(PHONE, phone=PHONE), 3),
    )
    assert revealed == newcomer == known


def test_an_own_contact_card_shared_in_the_batch_is_evidence(engine: Engine) -> None:
    (known,) = ingest_batch(engine, inbound("telegram", Person("tg-1"), 1))
    card = Person("tg-1", phone="+" + PHONE)  # Telegram sets user_id on one's own card
    shared, newcomer = ingest_batch(
        engine,
        inbound("telegram", Person("tg-1"), 2, kind="contact", shared_contacts=(card,)),
        inbound("whatsapp", Person(PHONE, phone=PHONE), 3),
    )
    assert shared == newcomer == known


def test_newcomers_without_evidence_cost_no_evidence_query_each(engine: Engine) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        customers = ingest_batch(
            engine,
            *(
                inbound("whatsapp", Person(f"39333000{n:04d}", phone=f"39333000{n:04d}"), n)
                for n in range(20)
            ),
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(set(customers)) == 20
    by_phone = [s for s in statements if re.search(r"WHERE \S+\.phone (=|IN)", s)]
    assert len(by_phone) == 2, by_phone  # identities and customers, once for the batch
