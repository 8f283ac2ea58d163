"""``/api/v1/settings/...`` (business hours, away messages, SLA policies, assignment, triage
rules) and
``/api/v1/sla``.

The settings are stored in the database (seeded from the configuration file once) and
edited here; each PUT replaces the whole section, in the shape of the TOML section.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from sportello.api.deps import Admin, Caller, DaemonDep, SessionDep
from sportello.api.inputs import Instant, RowId
from sportello.api.pagination import MAX_LIMIT, Offset, encode_cursor, offset_of
from sportello.api.schemas import Page
from sportello.config.settings import (
    AssignmentSettings,
    AwayMessageSettings,
    BusinessHoursSettings,
    ChannelName,
    SlaSettings,
    TriageRules,
)
from sportello.inbox import settings_store, sla
from sportello.inbox.automation_tables import SlaBreach
from sportello.inbox.business_hours import format_next_open
from sportello.inbox.clock import ensure_utc
from sportello.inbox.models import Message
from sportello.inbox.named_in_rules import (
    Unknown,
    unknown_in_sla_policies,
    unknown_in_triage_rules,
)
from sportello.inbox.replies import pick_template
from sportello.inbox.triage_rules import decide

router = APIRouter(prefix="/api/v1", tags=["business hours, away messages, SLA"])


class BusinessHoursStatus(BaseModel):
    at: datetime
    timezone: str
    open: bool
    next_open: datetime | None
    next_close: datetime | None
    next_open_text: str | None
    holiday: str | None
    closure: bool


class SlaBreachOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    channel: str
    kind: Literal["first_response", "resolution", "window_closing"]
    level: Literal["warning", "breach"]
    policy: str | None
    due_at: datetime
    fired_at: datetime


@router.get("/settings/business-hours")
def read_business_hours(session: SessionDep, _: Caller) -> BusinessHoursSettings | None:
    """The stored business hours; ``null`` means none are set, i.e. always open."""
    return settings_store.business_hours(session)


@router.put("/settings/business-hours")
def write_business_hours(
    body: BusinessHoursSettings, session: SessionDep, daemon: DaemonDep, caller: Admin
) -> BusinessHoursSettings:
    settings_store.set_business_hours(session, body, daemon.clock.now(), caller)
    return body


@router.get("/settings/business-hours/status")
def business_hours_status(
    session: SessionDep,
    daemon: DaemonDep,
    _: Caller,
    at: Annotated[Instant | None, Query(description="ISO 8601 instant; default now")] = None,
    language: Annotated[
        str | None, Query(description="of next_open_text; default brand.default_language")
    ] = None,
) -> BusinessHoursStatus:
    """Whether the business is open at ``at`` and when it next opens and closes."""
    instant = ensure_utc(at) if at is not None else daemon.clock.now()
    calendar = settings_store.calendar(session)
    next_open = calendar.next_open(instant)
    language = language or daemon.settings.brand.default_language
    return BusinessHoursStatus(
        at=instant,
        timezone=calendar.definition.timezone,
        open=calendar.is_open(instant),
        next_open=next_open,
        next_close=calendar.next_close(instant),
        next_open_text=format_next_open(next_open, calendar.tz, language) if next_open else None,
        holiday=calendar.holiday(instant, language),
        closure=calendar.closure(instant) is not None,
    )


@router.get("/settings/away-messages")
def read_away_messages(session: SessionDep, _: Caller) -> list[AwayMessageSettings]:
    """The away rules, in order: the first rule covering a message's channel applies."""
    return settings_store.away_rules(session)


@router.put("/settings/away-messages")
def write_away_messages(
    body: list[AwayMessageSettings], session: SessionDep, daemon: DaemonDep, caller: Admin
) -> list[AwayMessageSettings]:
    settings_store.set_away_rules(session, body, daemon.clock.now(), caller)
    return body


@router.get("/settings/sla")
def read_sla(session: SessionDep, _: Caller) -> list[SlaSettings]:
    """The SLA policies, in order: the first matching a conversation applies."""
    return settings_store.sla_policies(session)


@router.put("/settings/sla")
def write_sla(
    body: list[SlaSettings], session: SessionDep, daemon: DaemonDep, caller: Admin
) -> list[SlaSettings]:
    """Replace the policies; ``422`` when one names no team."""
    _refuse(unknown_in_sla_policies(session, body))
    settings_store.set_sla_policies(session, body, daemon.clock.now(), caller)
    return body


@router.get("/settings/assignment")
def read_assignment(session: SessionDep, daemon: DaemonDep, _: Caller) -> AssignmentSettings:
    """Who gets an open conversation nobody has taken (``off``: nobody, agents take them)."""
    return settings_store.assignment(session, daemon.settings)


@router.put("/settings/assignment")
def write_assignment(
    body: AssignmentSettings, session: SessionDep, daemon: DaemonDep, caller: Admin
) -> AssignmentSettings:
    settings_store.set_assignment(session, body, daemon.clock.now(), caller)
    return body


@router.get("/settings/triage-rules")
def read_triage_rules(session: SessionDep, _: Caller) -> TriageRules:
    """The triage rules, in order: every rule a customer's message matches applies."""
    return settings_store.triage_rules(session)


@router.put("/settings/triage-rules")
def write_triage_rules(
    body: TriageRules, session: SessionDep, daemon: DaemonDep, caller: Admin
) -> TriageRules:
    """Replace the rules; ``422`` when one assigns to nobody known, or to no team."""
    _refuse(unknown_in_triage_rules(session, body))
    settings_store.set_triage_rules(session, body, daemon.clock.now(), caller)
    return body


def _refuse(unknown: list[Unknown]) -> None:
    """``422`` naming each rule's field that points to nobody."""
    if unknown:
        raise HTTPException(
            422,
            [
                {"loc": ["body", u.index, u.field], "msg": u.message, "type": "value"}
                for u in unknown
            ],
        )


class TriagePreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    channel: ChannelName
    rules: TriageRules | None = Field(
        default=None, description="rules to try instead of the stored ones (not saved)"
    )


class TriagePreviewOut(BaseModel):
    language: str | None = Field(description="as detected in the text")
    sentiment: Literal["positive", "neutral", "negative"] | None
    rules: list[str] = Field(description="the rules that match, in order")
    tags: list[str]
    priority: int | None
    assignee: str | None
    team: str | None
    answer: str | None = Field(
        description="the automatic answer, in the text's language where the rule has it "
        "(placeholders as written)"
    )


@router.post("/settings/triage-rules/preview")
def preview_triage_rules(
    body: TriagePreviewIn, session: SessionDep, daemon: DaemonDep, _: Caller
) -> TriagePreviewOut:
    """What the triage rules would do with a customer's message on ``channel``: the text
    scored as the journal worker scores it, then every rule's conditions."""
    scored = daemon.sentiment.score(body.text)
    at = daemon.clock.now()
    message = Message(
        conversation_id=0, customer_id=0, channel=body.channel, direction="in",
        author="customer", sent_at=at, received_at=at, text=body.text,
        sentiment_language=scored.language if scored else None,
        sentiment_label=scored.label if scored else None,
    )  # fmt: skip
    rules = body.rules if body.rules is not None else settings_store.triage_rules(session)
    outcome = decide(rules, message)
    languages = [message.sentiment_language] if message.sentiment_language else []
    answer = pick_template(outcome.answer, languages, daemon.settings.brand.default_language)
    return TriagePreviewOut(
        language=message.sentiment_language,
        sentiment=scored.label if scored else None,
        rules=outcome.rules,
        tags=outcome.tags,
        priority=outcome.priority,
        assignee=outcome.assignee,
        team=outcome.team,
        answer=answer[1] if answer is not None else None,
    )


@router.get("/sla/breaches")
def list_breaches(
    session: SessionDep,
    _: Caller,
    kind: Literal["first_response", "resolution", "window_closing"] | None = None,
    level: Literal["warning", "breach"] | None = None,
    conversation_id: RowId | None = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[SlaBreachOut]:
    """SLA warnings and breaches (and 24-hour windows about to close), newest first."""
    query = sla.breaches_query(
        since=ensure_utc(since) if since else None,
        until=ensure_utc(until) if until else None,
        kinds=[kind] if kind else [],
        level=level,
        conversation_id=conversation_id,
    )
    offset = offset_of(cursor)
    rows = list(
        session.exec(
            query.order_by(SlaBreach.id.desc()).offset(offset).limit(limit + 1)  # type: ignore[union-attr]
        )
    )
    next_cursor = encode_cursor(Offset(offset=offset + limit)) if len(rows) > limit else None
    return Page(
        items=[SlaBreachOut.model_validate(r) for r in rows[:limit]], next_cursor=next_cursor
    )
