"""The generated inbox carries the status events its conversations' states imply."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sqlmodel import Session, col, select

from sportello.bench.datagen import generate
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.db import make_engine, migrate
from sportello.inbox.metrics import KpiQuery, compute_kpis
from sportello.inbox.models import Conversation, ConversationEvent, Message

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _id(conversation: Conversation) -> int:
    assert conversation.id is not None
    return conversation.id


def test_events_match_the_conversations_and_the_report_sees_resolutions(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    generate(engine, customers=300, conversations=1_000, messages=5_000, seed=3, now=NOW)
    with Session(engine) as session:
        conversations = session.exec(select(Conversation)).all()
        events: dict[int, list[ConversationEvent]] = defaultdict(list)
        for event in session.exec(
            select(ConversationEvent).order_by(
                col(ConversationEvent.conversation_id), col(ConversationEvent.at)
            )
        ):
            events[event.conversation_id].append(event)
        inbound_at = {
            (m.conversation_id, m.sent_at)
            for m in session.exec(select(Message).where(Message.direction == "in"))
        }
        reopened = 0
        for conversation in conversations:
            own = events[_id(conversation)]
            assert own[0].kind == "opened" and own[0].at == conversation.opened_at
            last = own[-1]
            if conversation.status == "resolved":
                assert (last.kind, last.at) == ("resolved", conversation.resolved_at)
                assert conversation.waiting_since is None
            elif conversation.status == "pending":
                assert last.kind == "pending"
            else:
                assert last.kind in ("opened", "reopened")
            for before, event in pairwise(own):
                if event.kind == "reopened":
                    reopened += 1
                    assert before.kind == "resolved" and before.at < event.at
                    assert (conversation.id, event.at) in inbound_at
        assert reopened > 20
        by_id = sorted(conversations, key=_id)  # ids in the order things happen
        assert [c.opened_at for c in by_id] == sorted(c.opened_at for c in conversations)
        statuses = {c.status for c in conversations}
        assert statuses == {"open", "pending", "resolved"}
        query = KpiQuery(
            start=NOW - timedelta(days=60),
            end=NOW,
            now=NOW,
            calendar=BusinessCalendar.always_open(),
        )
        report = compute_kpis(session, query)
    assert report["cases"]["resolved"] > 500
    assert 0 < report["first_contact_resolution_rate"] < 100
    assert report["backlog"] == sum(1 for c in conversations if c.status != "resolved")
    engine.dispose()
