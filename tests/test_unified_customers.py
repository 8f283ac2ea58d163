"""One customer across channels: evidence links, audited merge/unmerge, groups, erase/export."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import TELEGRAM_SECRET, RunningDaemon, make_settings, telegram_channel, wait_for
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import accounts, outbox
from sportello.inbox.automation_tables import AwayCooldown, RuleAnswer
from sportello.inbox.away import claim_cooldown
from sportello.inbox.clock import FrozenClock
from sportello.inbox.conversations import set_status
from sportello.inbox.db import session_scope
from sportello.inbox.desk_models import CustomerAudit
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Customer, Delivery, Message
from sportello.inbox.survey_tables import Survey
from sportello.inbox.surveys import run_surveys
from sportello.listening.mentions import store_public_tweets
from sportello.listening.models import Mention

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
GIULIA_WA = Person("393331234567", "Giulia Rossi", phone="393331234567", language="it")
GIULIA_TG = Person("5551001", "Giulia Rossi", handle="giuliarossi", language="it")
GIULIA_X = Person("1400000000000000001", "Giulia Rossi", handle="giulia_rossi")
MARCO_TG = Person("5551002", "Marco Bianchi", handle="marcob")


def _say(
    engine: Engine,
    person: Person,
    channel: str,
    external_id: str,
    text: str,
    at: datetime = T0,
    **kw: Any,
) -> tuple[int, int]:
    event = InboundMessage(
        channel=channel,  # type: ignore[arg-type]
        external_id=external_id,
        thread=kw.pop("thread", Thread(person.external_id)),
        customer=person,
        sent_at=at,
        text=text,
        **kw,
    )
    with session_scope(engine) as session:
        message, _ = ingest(session, [event], now=at).new_messages[0]
        return message.customer_id, message.conversation_id


def _daemon(
    database_url: str, start_daemon: Callable[..., RunningDaemon], **settings: Any
) -> RunningDaemon:
    return start_daemon(make_settings(database_url, **settings), clock=FrozenClock(T0))


def test_shared_own_contact_card_merges_with_the_whatsapp_customer(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = _daemon(database_url, start_daemon)
    engine = running.daemon.engine
    wa_customer, wa_conv = _say(engine, GIULIA_WA, "whatsapp", "wamid.A1", "Ordine in ritardo")
    tg_customer, tg_conv = _say(engine, GIULIA_TG, "telegram", "5551001:1", "Ciao")
    assert tg_customer != wa_customer

    card = Person("5551001", "Giulia Rossi", phone="+39 333 123 4567")
    merged, _ = _say(
        engine, GIULIA_TG, "telegram", "5551001:2", "", kind="contact", shared_contacts=(card,)
    )
    assert merged == wa_customer
    customer = running.api.get(f"/api/v1/customers/{wa_customer}").json()
    assert {i["channel"] for i in customer["identities"]} == {"whatsapp", "telegram"}
    assert {c["id"] for c in customer["conversations"]} == {wa_conv, tg_conv}
    gone = running.api.get(f"/api/v1/customers/{tg_customer}").json()
    assert gone["merged_into_id"] == wa_customer
    audit = running.api.get(f"/api/v1/customers/{wa_customer}/audit").json()["items"]
    assert audit[0]["action"] == "merge" and audit[0]["actor"] == "system"
    assert audit[0]["other_id"] == tg_customer and len(audit[0]["data"]["messages"]) == 1
    timeline = running.api.get(f"/api/v1/customers/{wa_customer}/timeline").json()["items"]
    assert [m["external_id"] for m in timeline] == ["5551001:2", "5551001:1", "wamid.A1"]
    # someone else's card proves nothing
    other_card = Person("5551009", "Giulia", phone="+39 333 123 4567")
    marco, _ = _say(engine, MARCO_TG, "telegram", "5551002:1", "", shared_contacts=(other_card,))
    assert marco not in (wa_customer, tg_customer)


def test_agent_merge_and_unmerge_are_audited_and_reversible(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = _daemon(database_url, start_daemon)
    engine, api = running.daemon.engine, running.api
    a, a_conv = _say(engine, GIULIA_TG, "telegram", "5551001:1", "Ciao dal telegram")
    b, b_conv = _say(engine, GIULIA_X, "x", "tw1", "@brand ciao da X", at=T0 + timedelta(hours=1))

    merged = api.post(f"/api/v1/customers/{a}/merge", json={"other_id": b})
    assert merged.status_code == 200
    assert {i["channel"] for i in merged.json()["identities"]} == {"telegram", "x"}
    assert [c["id"] for c in api.get("/api/v1/customers").json()["items"]] == [a]
    assert api.post(f"/api/v1/customers/{a}/merge", json={"other_id": b}).status_code == 409
    assert api.post(f"/api/v1/customers/{a}/merge", json={"other_id": a}).status_code == 409
    with Session(engine) as session:  # nothing deleted, everything moved
        customer = session.get(Customer, b)
        assert customer is not None and customer.merged_into_id == a
        assert {m.customer_id for m in session.exec(select(Message))} == {a}
    timeline = api.get(f"/api/v1/customers/{a}/timeline", params={"limit": 1}).json()
    assert timeline["items"][0]["channel"] == "x" and timeline["next_cursor"]
    older = api.get(
        f"/api/v1/customers/{a}/timeline", params={"limit": 1, "cursor": timeline["next_cursor"]}
    ).json()
    assert older["items"][0]["channel"] == "telegram"

    x_identity = next(i for i in merged.json()["identities"] if i["channel"] == "x")
    split = api.post(f"/api/v1/customers/{a}/unmerge", json={"identity_id": x_identity["id"]})
    assert split.status_code == 200
    assert split.json()["id"] == b and split.json()["merged_into_id"] is None
    assert [c["id"] for c in split.json()["conversations"]] == [b_conv]
    with Session(engine) as session:
        owners = dict(session.exec(select(Message.conversation_id, Message.customer_id)).all())
    assert owners == {a_conv: a, b_conv: b}
    actions = [e["action"] for e in api.get("/api/v1/audit").json()["items"]]
    assert actions == ["unmerge", "merge"]
    only = api.get(f"/api/v1/customers/{a}").json()["identities"][0]["id"]
    assert api.post(f"/api/v1/customers/{a}/unmerge", json={"identity_id": only}).status_code == 409


def test_weak_evidence_is_only_suggested(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = _daemon(database_url, start_daemon)
    engine, api = running.daemon.engine, running.api
    a, _ = _say(engine, GIULIA_TG, "telegram", "5551001:1", "Ciao")
    b, _ = _say(engine, GIULIA_X, "x", "tw1", "ciao")
    c, _ = _say(engine, Person("7000000000000001", "Giulia Rossi"), "messenger", "m1", "hey")
    assert len({a, b, c}) == 3  # never merged on a guess
    suggestions = api.get("/api/v1/customers/suggestions").json()["items"]
    pairs = {frozenset((s["customer_id"], s["other_id"])): s for s in suggestions}
    assert set(pairs) == {frozenset((a, b)), frozenset((a, c)), frozenset((b, c))}
    assert pairs[frozenset((a, b))]["score"] > pairs[frozenset((a, c))]["score"]

    dismissed = pairs[frozenset((a, c))]["id"]
    assert api.post(f"/api/v1/customers/suggestions/{dismissed}/dismiss").status_code == 200
    kept = api.post(f"/api/v1/customers/suggestions/{pairs[frozenset((a, b))]['id']}/confirm")
    assert kept.status_code == 200 and kept.json()["id"] == a
    # b-c would now be a-c again, which the agent dismissed: it is superseded
    assert api.get("/api/v1/customers/suggestions").json()["items"] == []
    superseded = api.get("/api/v1/customers/suggestions", params={"status": "superseded"})
    assert len(superseded.json()["items"]) == 1
    again = api.post(f"/api/v1/customers/suggestions/{dismissed}/confirm")
    assert again.status_code == 409


def _group_update(update_id: int, message_id: int, sender: dict[str, Any], text: str) -> bytes:
    chat = tg.group_chat(-1001234567890, "Clienti VIP")
    message = tg.message(message_id, sender, int(T0.timestamp()), chat=chat, text=text)
    return json.dumps(tg.update(update_id, message=message)).encode()


def test_telegram_group_messages_belong_to_their_senders(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, emulator = telegram_emulator
    running = _daemon(database_url, start_daemon, channels=telegram_channel(emulator.url))
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    giulia = tg.user(5551001, "Giulia", "Rossi", username="giuliarossi")
    marco = tg.user(5551002, "Marco", "Bianchi", username="marcob")
    for n, (sender, text) in enumerate(
        [(giulia, "Buongiorno"), (marco, "Anche io ho un problema")]
    ):
        body = _group_update(700 + n, 10 + n, sender, text)
        assert running.post_webhook("telegram", body, headers).status_code == 200
    found = wait_for(lambda: len(running.messages(channel="telegram")) == 2 and running.messages())
    assert len({m["conversation_id"] for m in found}) == 1
    by_text = {m["text"]: m["customer_id"] for m in found}
    assert by_text["Buongiorno"] != by_text["Anche io ho un problema"]
    marco_view = running.api.get(f"/api/v1/customers/{by_text['Anche io ho un problema']}").json()
    assert marco_view["identities"][0]["external_id"] == "5551002"
    assert [c["is_group"] for c in marco_view["conversations"]] == [True]
    marco_timeline = running.api.get(
        f"/api/v1/customers/{by_text['Anche io ho un problema']}/timeline"
    ).json()["items"]
    assert [m["text"] for m in marco_timeline] == ["Anche io ho un problema"]


def test_erase_and_export_a_customer(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, emulator = telegram_emulator
    running = _daemon(database_url, start_daemon, channels=telegram_channel(emulator.url))
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    giulia = tg.user(5551001, "Giulia", "Rossi", username="giuliarossi")
    marco = tg.user(5551002, "Marco", "Bianchi", username="marcob")
    for n, sender in enumerate((giulia, marco)):
        message = tg.message(20 + n, sender, int(T0.timestamp()), text="Il mio ordine 12345?")
        body = json.dumps(tg.update(800 + n, message=message)).encode()
        assert running.post_webhook("telegram", body, headers).status_code == 200
    found = wait_for(lambda: len(running.messages()) == 2 and running.messages())
    giulia_msg = next(m for m in found if m["external_id"] == "5551001:20")
    cid, conv = giulia_msg["customer_id"], giulia_msg["conversation_id"]
    api = running.api
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "bob", "bob-password", "agent", T0)
    note = {"text": "VIP, @bob"}  # it waits among bob's mentions
    assert api.post(f"/api/v1/conversations/{conv}/notes", json=note).status_code == 201
    assert (
        api.post(f"/api/v1/conversations/{conv}/messages", json={"text": "Ciao!"}).status_code
        == 201
    )

    export = api.get(f"/api/v1/customers/{cid}/export").json()
    assert export["customer"]["display_name"] == "Giulia Rossi"
    assert [i["external_id"] for i in export["identities"]] == ["5551001"]
    assert {m["text"] for m in export["messages"]} == {"Il mio ordine 12345?", "Ciao!"}
    assert [n["text"] for n in export["notes"]] == ["VIP, @bob"]
    assert len(export["outbox"]) == 1 and len(export["deliveries"]) == 1
    assert "5551001" in export["deliveries"][0]["body"]

    erased = api.delete(f"/api/v1/customers/{cid}")
    assert erased.status_code == 200
    deleted = erased.json()["deleted"]
    assert deleted["messages"] == 2 and deleted["deliveries"] == 1 and deleted["customers"] == 1
    assert deleted["notes"] == 1 and deleted["mentions"] == 1
    assert api.get(f"/api/v1/customers/{cid}").status_code == 404
    assert [m["external_id"] for m in running.messages()] == ["5551002:21"]
    assert api.get("/api/v1/search", params={"q": "giulia"}).json()["customers"] == []
    hits = api.get("/api/v1/search", params={"q": "ordine"}).json()["messages"]["items"]
    assert [m["external_id"] for m in hits] == ["5551002:21"]
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 1
        entry = session.exec(select(CustomerAudit).where(CustomerAudit.action == "erase")).one()
    assert "Giulia" not in json.dumps(entry.data) and "5551001" not in json.dumps(entry.data)


def test_erase_reaches_mentions_surveys_away_cooldowns_and_rule_answers(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    """Areas beyond the core keep customer data too; erasing a customer clears them."""
    running = _daemon(
        database_url, start_daemon, surveys={"enabled": True, "delay": "0s", "kind": "csat"}
    )
    engine = running.daemon.engine
    tweet = InboundMessage(
        channel="x",
        external_id="1860000000000000001",
        thread=Thread("1860000000000000001", public=True),
        customer=GIULIA_X,
        sent_at=T0,
        text="@acme il mio ordine è in ritardo",
    )
    dm = InboundMessage(
        channel="x",
        external_id="1860000000000000002",
        thread=Thread("1400000000000000001-1500000000"),
        customer=GIULIA_X,
        sent_at=T0,
        text="Vi scrivo anche in privato: ordine 4411",
    )
    with session_scope(engine) as session:
        ingested = ingest(session, [tweet, dm], now=T0)
        store_public_tweets(session, ingested)
        customer_id = ingested.new_messages[0][0].customer_id
        conversation = ingested.new_messages[1][1]  # surveys go to private threads only
        outbox.queue(session, conversation, "Ci scusiamo, controlliamo subito.", now=T0)
        set_status(session, conversation, "resolved", T0 + timedelta(minutes=5))
        claim_cooldown(session, customer_id, T0, timedelta(hours=12))
        answered = {"conversation_id": conversation.id, "rule": "orders", "sent_at": T0}
        session.add(RuleAnswer.model_validate(answered))
    assert run_surveys(engine, running.daemon.settings, T0 + timedelta(minutes=6)) == 1
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Mention)).one() == 1
        assert session.exec(select(func.count()).select_from(Survey)).one() == 1

    assert running.api.delete(f"/api/v1/customers/{customer_id}").status_code == 200
    with Session(engine) as session:
        for table in (Mention, Survey, AwayCooldown, RuleAnswer, Message, Customer):
            assert session.exec(select(func.count()).select_from(table)).one() == 0, table


def test_a_look_alike_handle_is_suggested_whatever_the_names(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    """Only the handles match (the names differ): the prefix lookup of the handle index finds
    the other identity, in either letter case; an unrelated handle is left alone."""
    running = _daemon(database_url, start_daemon)
    engine, api = running.daemon.engine, running.api
    a, _ = _say(engine, Person("5551009", "G.", handle="Zorro_Rossi88"), "telegram", "9:1", "Ciao")
    b, _ = _say(
        engine, Person("1400000000000000009", "Zeta", handle="zorrorossi88"), "x", "t9", "hi"
    )
    _say(engine, Person("1400000000000000010", "Zeta", handle="zoe"), "x", "t10", "hi")
    suggestions = api.get("/api/v1/customers/suggestions").json()["items"]
    assert [(frozenset((s["customer_id"], s["other_id"])), s["reason"]) for s in suggestions] == [
        (frozenset((a, b)), "same handle")
    ]
