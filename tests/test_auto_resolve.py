"""Answered conversations the customer has let go quiet are resolved by themselves; one
where the customer waits for us never is."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from conftest import make_settings
from kpi_fixtures import Inbox, rome
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from sportello.config.settings import load_settings
from sportello.daemon import Daemon
from sportello.inbox.auto_resolve import ACTOR, resolve_quiet
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.models import Conversation, ConversationEvent
from sportello.inbox.survey_tables import Survey
from sportello.inbox.surveys import run_surveys
from sportello.scheduler import periodic_jobs

THREE_DAYS = timedelta(days=3)
NOW = rome(12, 14, 10)  # Monday 14 December


def _conversation(engine: Engine, user: str, wrote_days_ago: float, *, answered: bool) -> int:
    """A customer who wrote ``wrote_days_ago``, answered an hour later or not at all."""
    at = NOW - timedelta(days=wrote_days_ago)
    with session_scope(engine) as session:
        inbox = Inbox(session)
        conversation = inbox.customer("telegram", user, at).new_messages[0][1]
        if answered:
            inbox.reply(conversation, at + timedelta(hours=1))
        assert conversation.id is not None
        return conversation.id


def _statuses(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        return {c.id: c.status for c in session.exec(select(Conversation)) if c.id is not None}


def test_only_answered_conversations_quiet_for_the_period_are_resolved(engine: Engine) -> None:
    quiet = _conversation(engine, "3001", 4, answered=True)
    waiting = _conversation(engine, "3002", 4, answered=False)  # the customer waits for us
    recent = _conversation(engine, "3003", 1, answered=True)
    pending = _conversation(engine, "3004", 5, answered=True)
    with session_scope(engine) as session:
        conversation = session.get(Conversation, pending)
        assert conversation is not None
        Inbox(session).status(conversation, "pending", NOW - timedelta(days=5) + timedelta(hours=2))

    with session_scope(engine) as session:
        assert resolve_quiet(session, NOW, THREE_DAYS) == [pending, quiet]  # quietest first
    assert _statuses(engine) == {
        quiet: "resolved",
        waiting: "open",
        recent: "open",
        pending: "resolved",
    }
    with Session(engine) as session:
        events = session.exec(
            select(ConversationEvent).where(col(ConversationEvent.kind) == "resolved")
        ).all()
        assert {(e.conversation_id, e.actor) for e in events} == {
            (quiet, ACTOR),
            (pending, ACTOR),
        }
    with session_scope(engine) as session:
        assert resolve_quiet(session, NOW, THREE_DAYS) == []  # nothing twice

    # The customer writes again: the conversation is back, as after any resolution.
    with session_scope(engine) as session:
        Inbox(session).customer("telegram", "3001", NOW + timedelta(minutes=5), "ci sono ancora")
    assert _statuses(engine)[quiet] == "open"


def test_no_survey_is_asked_after_an_automatic_resolution(
    engine: Engine, database_url: str
) -> None:
    quiet = _conversation(engine, "3101", 4, answered=True)
    with session_scope(engine) as session:
        resolve_quiet(session, NOW, THREE_DAYS)
    settings = load_settings(
        None, database={"url": database_url}, surveys={"enabled": True, "delay": "10m"}
    )
    run_surveys(engine, settings, NOW + timedelta(minutes=20))
    with Session(engine) as session:
        survey = session.exec(select(Survey).where(Survey.conversation_id == quiet)).one()
        assert survey.state == "skipped" and survey.skip_reason == "resolved automatically"


def test_the_job_runs_only_when_configured_and_resolves_in_parts(
    engine: Engine, database_url: str
) -> None:
    assert "triage:auto-resolve" not in {
        job.name for job in periodic_jobs(Daemon(make_settings(database_url)))
    }
    quiet = [_conversation(engine, str(3200 + n), 4, answered=True) for n in range(60)]
    daemon = Daemon(
        make_settings(database_url, auto_resolve={"after": "3d"}), clock=FrozenClock(NOW)
    )
    (job,) = [j for j in periodic_jobs(daemon) if j.name == "triage:auto-resolve"]

    async def run() -> object:
        return await job.work()

    assert asyncio.run(run()) == 60  # two parts: 50, then 10
    assert set(_statuses(engine).values()) == {"resolved"} and len(quiet) == 60
