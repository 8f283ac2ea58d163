"""Urgency order and full-text search on a generated inbox of realistic size."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest
from conftest import RunningDaemon, fresh_database, make_settings, run_daemon
from plan_helpers import explain, scans_of, statements_run
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from sportello.bench.datagen import generate
from sportello.inbox import search
from sportello.inbox.models import Conversation, Customer, Identity, Message
from sportello.inbox.search import (
    PG_MESSAGE_DOC,
    search_conversations,
    search_customers,
    search_messages,
)
from sportello.inbox.search import _matches as _matches_sql

FAR = datetime.max.replace(tzinfo=UTC)


class _Found(NamedTuple):
    """The columns of a message that the search tests compare (a row, not an ORM object)."""

    id: int
    text: str
    sent_at: datetime
    conversation_id: int


def _id(row: Conversation | Customer) -> int:
    assert row.id is not None
    return row.id


def _words(value: str | None) -> list[str]:
    return re.findall(r"[^\W_]+", (value or "").lower())


def _matches(query: str, *fields: str | None) -> bool:
    words = [w for f in fields for w in _words(f)]
    return all(any(w.startswith(term) for w in words) for term in _words(query))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def big_inbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningDaemon]:
    """One generated inbox per engine for the whole module: its tests only read it."""
    url = fresh_database(request.param, tmp_path_factory.mktemp("big_inbox"))
    running = run_daemon(make_settings(url))
    try:
        generate(
            running.daemon.engine, customers=2_000, conversations=5_000, messages=20_000, seed=7
        )
        yield running
    finally:
        running.stop()


def test_open_conversations_come_most_urgent_first(big_inbox: RunningDaemon) -> None:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"status": "open", "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = big_inbox.api.get("/api/v1/conversations", params=params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    with Session(big_inbox.daemon.engine) as session:
        rows = session.exec(select(Conversation).where(Conversation.status == "open")).all()

    def spec(c: Conversation) -> tuple[bool, int, bool, datetime, float, int | None]:
        negative = c.latest_sentiment is not None and c.latest_sentiment <= -0.05
        assert c.last_message_at is not None
        return (
            c.waiting_since is None,
            -c.priority,
            not negative,
            c.waiting_since or FAR,
            -c.last_message_at.timestamp(),
            c.id,
        )

    expected = [c.id for c in sorted(rows, key=spec)]
    assert len(expected) > 200  # several pages of 200
    assert [i["id"] for i in items] == expected
    first = items[0]
    assert first["waiting_since"] is not None and first["priority"] == 3


def test_message_search_finds_exactly_the_matching_messages(big_inbox: RunningDaemon) -> None:
    with Session(big_inbox.daemon.engine) as session:
        everything = [
            _Found(*row)
            for row in session.exec(
                select(Message.id, Message.text, Message.sent_at, Message.conversation_id)
            ).all()
        ]
        for query in ("rimbor", "Ordine RIMBORSO", "parcel damaged", "l'ordine"):
            found = search_messages(session, query, limit=100_000)
            expected = sorted(
                (m for m in everything if _matches(query, m.text)),
                key=lambda m: (m.sent_at, m.id),
                reverse=True,
            )
            assert len(expected) > 50, query
            assert [m.id for m in found] == [m.id for m in expected], query

            page = big_inbox.api.get("/api/v1/search", params={"q": query, "limit": 20}).json()
            assert [m["id"] for m in page["messages"]["items"]] == [m.id for m in expected[:20]]
            assert page["messages"]["next_cursor"] is not None
            listed = {c["id"] for c in page["conversations"]}
            assert listed and listed <= {m.conversation_id for m in expected}


@pytest.mark.parametrize("few", [1, 300, search.FEW], ids=["windows", "some", "default"])
def test_search_pages_are_exact_whichever_way_they_are_found(
    big_inbox: RunningDaemon, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    """The newest rows are searched first when many match; the pages are the same."""
    monkeypatch.setattr(search, "FEW", few)
    with Session(big_inbox.daemon.engine) as session:
        # one word in the newest conversation and in the oldest: a window finds one of two
        by_activity = session.exec(select(Conversation).order_by(col(Conversation.last_message_at)))
        oldest, *_, newest = by_activity.all()
        for conversation in (oldest, newest):
            assert conversation.id is not None and conversation.last_message_at is not None
            session.add(
                Message(
                    conversation_id=conversation.id,
                    customer_id=conversation.customer_id,
                    channel=conversation.channel,
                    direction="in",
                    author="customer",
                    text="Avete visto il quokka?",
                    sent_at=conversation.last_message_at,
                    received_at=conversation.last_message_at,
                )
            )
        session.commit()
        messages = session.exec(select(Message)).all()
        conversations = {c.id: c for c in session.exec(select(Conversation)).all()}
        customers = session.exec(select(Customer)).all()
        identities = session.exec(select(Identity)).all()
        # common, rarer, a customer's name (in replies and as a customer), and no match
        for query in ("ordine", "rimborso", "pacco arrivato", "rossi", "quokka", "zzzq"):
            expected = sorted(
                (m for m in messages if _matches(query, m.text)),
                key=lambda m: (m.sent_at, m.id),
                reverse=True,
            )
            for offset, limit in ((0, 20), (20, 20), (0, 2), (1, 1), (300, 50)):
                found = search_messages(session, query, limit=limit, offset=offset)
                wanted = expected[offset : offset + limit]
                assert [m.id for m in found] == [m.id for m in wanted], (query, offset)
            matching_customers = {
                c.id for c in customers if _matches(query, c.display_name, c.email)
            } | {
                i.customer_id
                for i in identities
                if _matches(query, i.display_name, i.handle, i.email)
            }
            with_match = {m.conversation_id for m in expected} | {
                c.id for c in conversations.values() if c.customer_id in matching_customers
            }
            latest_first = sorted(
                (conversations[i] for i in with_match),
                key=lambda c: (c.last_message_at is not None, c.last_message_at or FAR, c.id),
                reverse=True,
            )
            for limit in (20, 2):
                found_conversations = search_conversations(session, query, limit=limit)
                assert [c.id for c in found_conversations] == [
                    c.id for c in latest_first[:limit]
                ], query


def test_customer_search_by_name_handle_and_phone(big_inbox: RunningDaemon) -> None:
    with Session(big_inbox.daemon.engine) as session:
        customers = {c.id: c for c in session.exec(select(Customer)).all()}
        identities = session.exec(select(Identity)).all()
        by_customer: dict[int, list[Identity]] = {}
        for identity in identities:
            by_customer.setdefault(identity.customer_id, []).append(identity)

        def expected(query: str) -> list[int]:
            hits = [
                _id(c)
                for c in customers.values()
                if _matches(query, c.display_name, c.email)
                or any(
                    _matches(query, i.display_name, i.handle, i.email)
                    for i in by_customer.get(_id(c), [])
                )
            ]
            return sorted(hits, reverse=True)

        for query in ("rossi", "giulia ros", "smith"):
            found = [c.id for c in search_customers(session, query, limit=10_000)]
            assert found == expected(query) and found, query

        whatsapp = next(i for i in identities if i.channel == "whatsapp")
        phone = whatsapp.phone
        assert phone is not None
        spaced = f"{phone[:3]} {phone[3:6]} {phone[6:]}"
        assert [c.id for c in search_customers(session, spaced)] == [whatsapp.customer_id]


def test_postgres_search_uses_the_gin_index(big_inbox: RunningDaemon) -> None:
    engine = big_inbox.daemon.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with Session(engine) as session:
        condition = _matches_sql(session, "messages_fts", PG_MESSAGE_DOC, ["rimborso"])
        statement = select(Message.id).where(condition)
        session.connection().execute(text("SET LOCAL enable_seqscan = off"))
        compiled = statement.compile(engine)
        rows = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        plan = "\n".join(r[0] for r in rows)
    assert "ix_messages_text_fts" in plan


def test_postgres_conversation_search_tests_only_the_window_messages(
    big_inbox: RunningDaemon,
) -> None:
    """A window of conversations reads its own messages, not every match of a common word
    (PostgreSQL hashed all of them, a heap page each: 60-340 ms at 1M messages)."""
    engine = big_inbox.daemon.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with Session(engine) as session, statements_run(engine, "text_fts @@") as window:
        # as the daemon's statistics job leaves a grown inbox
        session.connection().execute(text("ANALYZE"))
        found = search_conversations(session, "ordine", limit=2)
        [(statement, params)] = window
        plan = explain(session, statement, params)["Plan"]
        latest = (
            select(Conversation.id)
            .where(col(Conversation.last_message_at).is_not(None))
            .order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
        )
        window_ids = session.exec(latest.limit(2 * search.WINDOWS[0])).all()
        first = select(func.min(Message.id)).where(col(Message.conversation_id).in_(window_ids))
        in_window = session.scalar(
            select(func.count()).select_from(Message).where(Message.id >= first.scalar_subquery())
        )
        matches = len(search_messages(session, "ordine", limit=100_000))
    read = sum(
        (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        for node in scans_of(plan, "messages")
    )
    assert len(found) == 2
    assert in_window is not None
    assert in_window < matches / 4  # so that reading every match cannot pass
    assert 0 < read <= in_window
