"""Tables of the in-chat surveys: one survey per resolution, and every reply to one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from sportello.inbox.types import UTCDateTime


class Survey(SQLModel, table=True):
    """The question owed for one resolution of a conversation (``resolution_event_id``).

    ``state``: ``scheduled`` (due at ``due_at``), ``sent``, ``answered``, or ``skipped``
    (``skip_reason`` says why: not sampled, reopened, messaging window closed, ...).
    """

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_state_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    resolution_event_id: int = Field(foreign_key="conversation_events.id", unique=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    channel: str
    assignee: str | None = None
    kind: str
    state: str = "scheduled"
    skip_reason: str | None = None
    resolved_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    asked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    question_message_id: int | None = Field(default=None, foreign_key="messages.id")
    reasked: bool = False
    score: int | None = None
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    answer_message_id: int | None = Field(default=None, foreign_key="messages.id")
    # After a low score: asked why, and what the customer wrote back.
    comment: str | None = Field(default=None, sa_column=Column(Text()))
    comment_asked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    commented_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    comment_message_id: int | None = None


class SurveyResponse(SQLModel, table=True):
    """A customer message taken as a reply to a survey, kept or not (``outcome``).

    Such a message never reopens its conversation nor waits for a human reply.
    """

    __tablename__ = "survey_responses"

    message_id: int = Field(foreign_key="messages.id", primary_key=True)
    survey_id: int | None = Field(default=None, foreign_key="surveys.id", index=True)
    score: int | None = None
    outcome: str
