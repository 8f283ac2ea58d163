"""Agents correct a customer's name, language, phone number and e-mail: audited, searchable,
used by the automatic replies; a number another customer has suggests linking the two."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from automation_helpers import OFFICE, migrated
from conftest import RunningDaemon, make_settings
from sqlalchemy import Engine
from sqlmodel import Session

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox.clock import FrozenClock
from sportello.inbox.customer_details import DetailsError, edit_customer
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.linking import dismiss_link
from sportello.inbox.models import Customer, Message
from sportello.inbox.replies import recipient

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
GIU_TG = Person("5551001", "Giu", handle="giu_r", language="it")
GIULIA_WA = Person("393331234567", "Giulia R.", phone="393331234567")


def _says(engine: Engine, person: Person, channel: str, external_id: str) -> Message:
    event = InboundMessage(
        channel,  # type: ignore[arg-type]
        external_id,
        Thread(person.external_id),
        person,
        T0,
        text="Ciao",
    )
    with session_scope(engine) as session:
        message, _ = ingest(session, [event], now=T0).new_messages[0]
        session.expunge(message)
        return message


def test_an_agent_corrects_a_customer_and_a_number_they_write_suggests_a_link(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    settings = make_settings(database_url, business_hours=OFFICE)
    running = start_daemon(settings, clock=FrozenClock(T0))
    engine, api = running.daemon.engine, running.api
    telegram = _says(engine, GIU_TG, "telegram", "5551001:1").customer_id
    whatsapp = _says(engine, GIULIA_WA, "whatsapp", "wamid.1").customer_id
    assert telegram != whatsapp

    # Written as an Italian agent would: no country code (the business is in Italy).
    edited = api.patch(
        f"/api/v1/customers/{telegram}",
        json={"display_name": " Giulia Rossi ", "language": "EN", "phone": "333 123 4567"},
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["display_name"], body["language"], body["phone"]) == (
        "Giulia Rossi",
        "en",
        "+393331234567",
    )
    (suggestion,) = api.get(
        "/api/v1/customers/suggestions", params={"customer_id": telegram}
    ).json()["items"]
    assert {suggestion["customer_id"], suggestion["other_id"]} == {telegram, whatsapp}
    assert suggestion["reason"].startswith("same phone number, written by ")
    (entry,) = api.get(f"/api/v1/customers/{telegram}/audit").json()["items"]
    # Which fields, not their values: erasure leaves the audit trail.
    assert entry["action"] == "edit"
    assert entry["data"] == {"fields": ["display_name", "language", "phone"]}
    found = api.get("/api/v1/search", params={"q": "giulia ross"}).json()["customers"]
    assert [c["id"] for c in found] == [telegram]

    # The same again changes nothing and audits nothing; a cleared field is cleared.
    again = api.patch(f"/api/v1/customers/{telegram}", json={"phone": "+39 333 1234567"})
    assert again.status_code == 200
    assert len(api.get(f"/api/v1/customers/{telegram}/audit").json()["items"]) == 1
    assert (
        api.patch(f"/api/v1/customers/{telegram}", json={"language": None}).json()["language"]
        is None
    )

    confirmed = api.post(f"/api/v1/customers/suggestions/{suggestion['id']}/confirm")
    assert {i["channel"] for i in confirmed.json()["identities"]} == {"telegram", "whatsapp"}
    merged_away = whatsapp if confirmed.json()["id"] == telegram else telegram
    gone = api.patch(f"/api/v1/customers/{merged_away}", json={"display_name": "G"})
    assert gone.status_code == 409 and "edit that one" in gone.json()["detail"]


def test_wrong_details_are_refused_with_the_reason(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url), clock=FrozenClock(T0))
    customer = _says(running.daemon.engine, GIU_TG, "telegram", "5551001:1").customer_id
    path = f"/api/v1/customers/{customer}"
    for change, reason in (
        ({"phone": "333 123 4567"}, "write it with its country code"),  # no business country
        ({"phone": "+39 12"}, "not a valid phone number"),
        ({"email": "giulia@"}, "not an e-mail address"),
        ({"language": "ita"}, "not a two-letter language code"),
        ({"display_name": "G" * 201}, "at most 200 characters"),
    ):
        refused = running.api.patch(path, json=change)
        assert refused.status_code == 422 and reason in refused.json()["detail"], change
    assert running.api.patch(path, json={"nickname": "G"}).status_code == 422
    assert running.api.patch("/api/v1/customers/999", json={"email": None}).status_code == 404
    kept = running.api.get(path).json()
    assert (kept["display_name"], kept["phone"], kept["email"]) == ("Giu", None, None)


def test_a_channel_that_comes_later_with_the_written_number_joins_the_customer(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    telegram = _says(engine, GIU_TG, "telegram", "5551001:1")
    with session_scope(engine) as session:
        customer = session.get(Customer, telegram.customer_id)
        assert customer is not None
        links = edit_customer(
            session,
            customer,
            {"email": "Giulia@Example.it", "phone": "+393331234567"},
            at=T0,
            actor="ada",
        )
        assert links == []  # nobody else is known by them
    whatsapp = _says(engine, GIULIA_WA, "whatsapp", "wamid.1")
    assert whatsapp.customer_id == telegram.customer_id
    with Session(engine) as session:
        customer = session.get(Customer, telegram.customer_id)
        assert customer is not None and customer.email == "giulia@example.it"


def test_the_automatic_replies_use_what_the_agent_wrote(database_url: str) -> None:
    """Away messages and surveys greet by the corrected name, in the corrected language,
    before what the platform says of the identity."""
    engine = migrated(database_url)
    message = _says(engine, GIU_TG, "telegram", "5551001:1")
    with session_scope(engine) as session:
        before = recipient(session, message.customer_id, message.identity_id)
        assert (before.name, before.languages[0]) == ("Giu", "it")
        customer = session.get(Customer, message.customer_id)
        assert customer is not None
        fix = {"display_name": "Giulia Rossi", "language": "en"}
        edit_customer(session, customer, fix, at=T0, actor="ada")
        after = recipient(session, message.customer_id, message.identity_id)
        assert (after.name, after.languages[0]) == ("Giulia", "en")
        with pytest.raises(DetailsError) as refused:
            edit_customer(session, customer, {"created_at": "2020"}, at=T0, actor="ada")
        assert refused.value.field == "created_at"


def test_a_pair_an_agent_dismissed_is_not_suggested_again(database_url: str) -> None:
    engine = migrated(database_url)
    telegram = _says(engine, GIU_TG, "telegram", "5551001:1").customer_id
    _says(engine, GIULIA_WA, "whatsapp", "wamid.1")
    with session_scope(engine) as session:
        customer = session.get(Customer, telegram)
        assert customer is not None
        (link,) = edit_customer(session, customer, {"phone": "+393331234567"}, at=T0, actor="ada")
        dismiss_link(session, link, at=T0, actor="ada")  # "not the same person"
        edit_customer(session, customer, {"phone": None}, at=T0, actor="ada")
        again = edit_customer(session, customer, {"phone": "+393331234567"}, at=T0, actor="ada")
        assert again == []
