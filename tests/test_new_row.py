"""``new_row`` builds the object SQLModel's constructor builds, and the same row is stored."""

from __future__ import annotations

from typing import Any

import pytest
from batch_helpers import T0
from sqlalchemy import Engine, Table, event, inspect, select
from sqlmodel import SQLModel

from sportello.inbox.db import session_scope
from sportello.inbox.models import Conversation, ConversationEvent, Customer, Identity, Message
from sportello.inbox.new_row import new_row

CUSTOMER = {"display_name": "Giulia", "phone": "+393331234567", "created_at": T0}
IDENTITY = {"channel": "whatsapp", "external_id": "393331234567", "created_at": T0}
CONVERSATION = {
    "channel": "whatsapp",
    "thread_external_id": "393331234567",
    "recipient_external_id": "393331234567",
    "opened_at": T0,
}
EVENT = {"kind": "opened", "at": T0, "data": {"by": "test"}}
MESSAGE = {
    "channel": "whatsapp",
    "direction": "in",
    "author": "customer",
    "external_id": "wamid.1",
    "text": "Buongiorno",
    "attachments": [{"kind": "image", "url": "https://example.com/a.jpg"}],
    "sent_at": T0,
    "received_at": T0,
}
ROWS: list[tuple[type[SQLModel], dict[str, Any]]] = [
    (Customer, CUSTOMER),
    (Identity, {**IDENTITY, "customer_id": 1}),
    (Conversation, {**CONVERSATION, "customer_id": 1}),
    (ConversationEvent, {**EVENT, "conversation_id": 1}),
    (Message, {**MESSAGE, "conversation_id": 1, "customer_id": 1}),
]


@pytest.mark.parametrize(("model", "values"), ROWS, ids=lambda v: getattr(v, "__name__", ""))
def test_the_object_is_the_constructors(model: type[SQLModel], values: dict[str, Any]) -> None:
    built, constructed = new_row(model, **values), model(**values)
    assert repr(built) == repr(constructed)  # every field, in the same order
    assert built.__pydantic_fields_set__ == constructed.__pydantic_fields_set__
    assert built.model_dump(exclude_unset=True) == values
    assert inspect(built).transient


def test_defaults_are_fresh_for_each_row() -> None:
    one = new_row(ConversationEvent, conversation_id=1, kind="opened", at=T0)
    two = new_row(ConversationEvent, conversation_id=1, kind="opened", at=T0)
    one.data["note"] = "only mine"
    assert two.data == {}


def test_init_listeners_see_the_row_and_its_values() -> None:
    seen: list[tuple[object, dict[str, Any]]] = []

    def listener(target: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        seen.append((target, dict(kwargs)))

    event.listen(ConversationEvent, "init", listener)
    try:
        row = new_row(ConversationEvent, conversation_id=1, kind="opened", at=T0)
    finally:
        event.remove(ConversationEvent, "init", listener)
    assert seen == [(row, {"conversation_id": 1, "kind": "opened", "at": T0})]


def test_an_unknown_field_is_an_error() -> None:
    with pytest.raises(TypeError, match="Message has no field sent"):
        new_row(Message, conversation_id=1, sent=T0)


def test_the_same_rows_are_stored(engine: Engine) -> None:
    """Each row twice, built both ways, then changed after it was added: the stored pairs are
    equal but for their ids and unique keys."""
    stored: list[tuple[Table, int, int]] = []
    with session_scope(engine) as session:
        ids: dict[str, int] = {}
        for model, values in ROWS:
            pair = []
            for build, suffix in ((new_row, "-a"), (_construct, "-b")):
                row_values = {**values, **_unique(model, suffix), **ids}
                row = build(model, **{k: v for k, v in row_values.items() if k in values})
                session.add(row)
                session.flush()
                pair.append(row)
            for row in pair:
                if isinstance(row, Message):
                    row.sentiment_compound = -0.5  # pending changes reach the insert or update
            session.flush()
            ids.update(_ids(model, pair[0]))
            stored.append((model.__table__, pair[0].id, pair[1].id))  # type: ignore[attr-defined]
        session.commit()
    with engine.connect() as connection:
        for table, a, b in stored:
            rows = connection.execute(select(table).where(table.c.id.in_([a, b]))).mappings()
            first, second = (_comparable(dict(row)) for row in rows)
            assert first == second, table.name
            if table.name == "messages":
                assert first["sentiment_compound"] == -0.5


def _construct(model: type[SQLModel], **values: Any) -> SQLModel:
    return model(**values)


def _unique(model: type[SQLModel], suffix: str) -> dict[str, str]:
    keys = {Identity: "external_id", Conversation: "thread_external_id", Message: "external_id"}
    key = keys.get(model)
    return {key: f"{dict(ROWS)[model][key]}{suffix}"} if key else {}


def _ids(model: type[SQLModel], row: Any) -> dict[str, int]:
    names = {Customer: "customer_id", Conversation: "conversation_id"}
    return {names[model]: row.id} if model in names else {}


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    unique = ("id", "external_id", "thread_external_id")
    return {key: value for key, value in row.items() if key not in unique}
