"""Triage states, snooze wake-up, notes and canned replies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from conftest import RunningDaemon, make_settings
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox import accounts
from sportello.inbox.clock import FrozenClock
from sportello.inbox.conversations import set_status, wake_snoozed
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation, ConversationEvent

T0 = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)  # a Friday, 20:30 in Rome
GIULIA = Person("5551001", "Giulia Rossi", language="it")
HOURS = {"timezone": "Europe/Rome", "mon": ["09:00-18:00"], "sat": ["10:00-12:00"]}


def _say(engine: Engine, external_id: str, text: str, at: datetime) -> int:
    event = InboundMessage("telegram", external_id, Thread("5551001"), GIULIA, at, text=text)
    with session_scope(engine) as session:
        conversation_id = ingest(session, [event], now=at).new_messages[0][1].id
        assert conversation_id is not None
        return conversation_id


def test_snoozed_wakes_at_its_time_and_resolved_reopens(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(database_url), clock=FrozenClock(T0))
    engine = running.daemon.engine
    conv = _say(engine, "5551001:1", "Ciao", T0)
    until = T0 + timedelta(hours=2)
    patched = running.api.patch(
        f"/api/v1/conversations/{conv}",
        json={"status": "snoozed", "snoozed_until": until.isoformat()},
    )
    assert patched.json()["status"] == "snoozed"
    with session_scope(engine) as session:
        assert wake_snoozed(session, until - timedelta(seconds=1)) == 0
    with session_scope(engine) as session:
        assert wake_snoozed(session, until) == 1
        assert wake_snoozed(session, until) == 0
    with Session(engine) as session:
        woken = session.get(Conversation, conv)
        assert woken is not None
        assert woken.status == "open" and woken.snoozed_until is None
        set_status(session, woken, "resolved", until)
        session.commit()
    _say(engine, "5551001:2", "Ancora io", until + timedelta(hours=1))
    assert running.api.get(f"/api/v1/conversations/{conv}").json()["status"] == "open"


def test_notes_stay_private_and_canned_replies_fill_placeholders(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(database_url, business_hours=HOURS), clock=FrozenClock(T0))
    api = running.api
    conv = _say(running.daemon.engine, "5551001:1", "Quando aprite?", T0)
    note = api.post(f"/api/v1/conversations/{conv}/notes", json={"text": "cliente storica"})
    assert note.status_code == 201 and note.json()["author"] == "api"
    assert [n["text"] for n in api.get(f"/api/v1/conversations/{conv}/notes").json()["items"]] == [
        "cliente storica"
    ]
    messages = api.get(f"/api/v1/conversations/{conv}/messages").json()["items"]
    assert [m["text"] for m in messages] == ["Quando aprite?"]  # a note is never a message

    created = api.post(
        "/api/v1/canned-replies",
        json={"title": "chiusi", "text": "Ciao {name}, riapriamo {next_open}. {altro}"},
    )
    assert created.status_code == 201
    reply_id = created.json()["id"]
    assert (
        api.post("/api/v1/canned-replies", json={"title": "chiusi", "text": "x"}).status_code == 409
    )
    sent = api.post(f"/api/v1/conversations/{conv}/messages", json={"canned_reply_id": reply_id})
    assert sent.status_code == 201
    assert (
        sent.json()["text"] == "Ciao Giulia Rossi, riapriamo sabato 21 novembre alle 10:00. {altro}"
    )
    # Operations open earlier on Saturdays, on the settings page: the next one says so.
    earlier = {**HOURS, "sat": ["09:00-12:00"]}
    assert api.put("/api/v1/settings/business-hours", json=earlier).status_code == 200
    sent = api.post(f"/api/v1/conversations/{conv}/messages", json={"canned_reply_id": reply_id})
    assert sent.json()["text"].startswith(
        "Ciao Giulia Rossi, riapriamo sabato 21 novembre alle 09:00"
    )
    assert (
        api.post(f"/api/v1/conversations/{conv}/messages", json={"text": "Ok"}).status_code == 201
    )
    both = {"text": "x", "canned_reply_id": reply_id}
    assert api.post(f"/api/v1/conversations/{conv}/messages", json=both).status_code == 422
    missing = {"canned_reply_id": 999}
    assert api.post(f"/api/v1/conversations/{conv}/messages", json=missing).status_code == 404

    updated = api.put(
        f"/api/v1/canned-replies/{reply_id}", json={"title": "chiusi", "text": "Hi {name}"}
    )
    assert updated.json()["text"] == "Hi {name}"
    assert [r["title"] for r in api.get("/api/v1/canned-replies").json()["items"]] == ["chiusi"]
    assert api.delete(f"/api/v1/canned-replies/{reply_id}").status_code == 204
    assert api.get("/api/v1/canned-replies").json()["items"] == []


def test_bulk_changes_apply_to_every_conversation_or_to_none(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(database_url), clock=FrozenClock(T0))
    engine, api = running.daemon.engine, running.api
    ids = []
    for n in range(3):
        customer = Person(str(6000 + n), f"Cliente {n}")
        event = InboundMessage("telegram", f"{6000 + n}:1", Thread(str(6000 + n)), customer, T0)
        with session_scope(engine) as session:
            ids.append(ingest(session, [event], now=T0).new_messages[0][1].id)
    first, second, third = ids
    api.patch(f"/api/v1/conversations/{first}", json={"tags": ["spam"]})
    with session_scope(engine) as session:
        accounts.create_user(session, "bob", "bob-password", "agent", T0)

    # an assignee who is nobody (a typo) is refused, in a bulk change and a PATCH alike
    nobody = api.post("/api/v1/conversations/bulk", json={"ids": ids, "assignee": "bbo"})
    assert nobody.status_code == 422
    assert nobody.json()["detail"][0] == {
        "loc": ["body", "assignee"],
        "msg": "no user named bbo",
        "type": "value",
    }
    assert api.patch(f"/api/v1/conversations/{first}", json={"assignee": "bbo"}).status_code == 422
    assert api.patch(f"/api/v1/conversations/{first}", json={"assignee": "api"}).status_code == 200
    assert api.patch(f"/api/v1/conversations/{first}", json={"assignee": None}).status_code == 200

    bad = api.post("/api/v1/conversations/bulk", json={"ids": ids, "status": "snoozed"})
    assert bad.status_code == 422  # snoozed needs a time: nothing changes
    assert {api.get(f"/api/v1/conversations/{i}").json()["status"] for i in ids} == {"open"}

    answer = api.post(
        "/api/v1/conversations/bulk",
        json={"ids": [first, second, 999], "assignee": "bob", "add_tags": ["ondata", "spam"]},
    )
    assert answer.json() == {"updated": [first, second], "missing": [999]}
    shown = {i: api.get(f"/api/v1/conversations/{i}").json() for i in ids}
    assert shown[first]["tags"] == ["ondata", "spam"] and shown[second]["tags"] == [
        "ondata",
        "spam",
    ]
    assert shown[first]["assignee"] == shown[second]["assignee"] == "bob"
    assert shown[third]["assignee"] is None and shown[third]["tags"] == []

    resolved = api.post("/api/v1/conversations/bulk", json={"ids": ids, "status": "resolved"})
    assert resolved.json()["updated"] == ids
    unassigned = api.post("/api/v1/conversations/bulk", json={"ids": [first], "assignee": None})
    assert unassigned.status_code == 200
    with Session(engine) as session:
        events = session.exec(select(ConversationEvent).order_by(col(ConversationEvent.id))).all()
        assert [(e.conversation_id, e.kind, e.actor) for e in events if e.kind != "opened"] == [
            (first, "tagged", "api"),
            (first, "assigned", "api"),  # the token takes it under its own name
            (first, "assigned", "api"),  # and lets it go
            (first, "assigned", "api"),
            (first, "tagged", "api"),
            (second, "assigned", "api"),
            (second, "tagged", "api"),
            (first, "resolved", "api"),
            (second, "resolved", "api"),
            (third, "resolved", "api"),
            (first, "assigned", "api"),
        ]
        tagged = [e.data for e in events if e.kind == "tagged"]
        assert tagged == [
            {"added": ["spam"], "removed": []},
            {"added": ["ondata"], "removed": []},  # spam it had already
            {"added": ["ondata", "spam"], "removed": []},
        ]
    too_many = api.post("/api/v1/conversations/bulk", json={"ids": list(range(201))})
    assert too_many.status_code == 422
