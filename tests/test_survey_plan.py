"""The survey job finds the recent resolutions through the events' time index.

It runs every five seconds. Ordered by event id, SQLite walked every conversation event
ever written to find the last day's resolutions: 36-56 ms a run at 1M messages
(docs/benchmarks.md, session 25).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from kpi_fixtures import Inbox, rome
from plan_helpers import explain, scans_of, statements_run
from sqlalchemy import Engine, insert, text
from sqlmodel import Session

from sportello.config.settings import SurveySettings
from sportello.inbox import surveys
from sportello.inbox.models import ConversationEvent

# These tests read the planner's statistics: a schema of their own.
pytestmark = pytest.mark.rebuilt_schema

NOW = rome(12, 9, 10)
OLD_EVENTS = 5_000


def _history(session: Session, *, analyze: bool) -> int:
    """Months of events, and one conversation resolved an hour ago; returns its id."""
    inbox = Inbox(session)
    conversation = inbox.customer("telegram", "u1", NOW - timedelta(hours=2)).new_messages[0][1]
    inbox.status(conversation, "resolved", NOW - timedelta(hours=1))
    session.connection().execute(
        insert(ConversationEvent),
        [
            {
                "conversation_id": conversation.id,
                "kind": ("resolved", "reopened", "assigned")[n % 3],
                "at": NOW - timedelta(days=365) + timedelta(hours=n),
                "data": {},
            }
            for n in range(OLD_EVENTS)  # one an hour: all older than 5 months
        ],
    )
    session.commit()
    if analyze:
        session.exec(text("ANALYZE conversation_events"))  # type: ignore[call-overload]
        session.commit()
    assert conversation.id is not None
    return conversation.id


@pytest.mark.parametrize("analyze", [True, False], ids=["analyzed", "no-statistics"])
def test_the_schedule_reads_only_the_recent_events(engine: Engine, analyze: bool) -> None:
    if engine.dialect.name == "postgresql" and not analyze:
        pytest.skip("PostgreSQL plans from statistics: the statistics:analyze job keeps them")
    with Session(engine) as session:
        resolved = _history(session, analyze=analyze)
        with statements_run(engine, "LEFT OUTER JOIN surveys") as executed:
            added = surveys.schedule(session, SurveySettings(enabled=True), NOW)
        [(statement, params)] = executed
        session.rollback()
        plan = explain(session, statement, params)
        session.rollback()
    assert added == 1 and resolved
    if engine.dialect.name == "postgresql":
        [scan] = scans_of(plan["Plan"], "conversation_events")
        index = scan.get("Index Name") or scan["Plans"][0]["Index Name"]
        assert index == "ix_conversation_events_at", plan
        assert scan["Actual Rows"] == 1, plan
    else:
        assert any("USING INDEX ix_conversation_events_at" in d for d in plan), plan
