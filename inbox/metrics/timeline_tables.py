"""Each conversation's walked timeline, kept in tables so the KPI report reads only the rows a
period needs (migration 0012).

Instants are POSIX seconds (``float``), as the walk produces them: the calendar does not
change them, so business time is still computed at query time. Triggers bump a
conversation's ``generation`` in every transaction that changes what the walk reads; its
rows are current while ``built_generation`` equals it.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, text
from sqlmodel import Field, SQLModel

STALE = text("built_generation <> generation")


def _conversation() -> Column[int]:
    return Column(Integer, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)


class ConversationTimeline(SQLModel, table=True):
    __tablename__ = "conversation_timelines"
    __table_args__ = (
        Index(
            "ix_conversation_timelines_stale",
            "conversation_id",
            sqlite_where=STALE,
            postgresql_where=STALE,
        ),
    )

    conversation_id: int = Field(sa_column=_conversation())
    generation: int = 1
    built_generation: int = 0


class TimelineCase(SQLModel, table=True):
    """From an opening (or reopening) to the next resolution; see ``timeline.Case``.

    ``first_wait_at`` / ``first_answer_at``: the case's first wait and the reply ending it.
    """

    __tablename__ = "timeline_cases"
    __table_args__ = (
        # covering: the report reads these columns without visiting the rows
        Index(
            "ix_timeline_cases_end",
            "end_at",
            "start_at",
            "conversation_id",
            "first_reply_at",
            "human_replies",
            "reopened_at",
        ),
        Index(
            "ix_timeline_cases_first_answer", "first_answer_at", "first_wait_at", "conversation_id"
        ),
    )

    conversation_id: int = Field(sa_column=_conversation())
    ordinal: int = Field(primary_key=True)
    start_at: float
    end_at: float | None = None
    first_wait_at: float | None = None
    first_answer_at: float | None = None
    first_reply_at: float | None = None
    human_replies: int = 0
    reopened_at: float | None = None


class TimelineWait(SQLModel, table=True):
    """A customer waiting for a human reply; ``settled_at``: when it stopped waiting (its
    reply or the resolution that cut it, whichever came first), NULL while it waits."""

    __tablename__ = "timeline_waits"
    __table_args__ = (
        Index("ix_timeline_waits_end", "end_at", "start_at", "conversation_id"),
        Index("ix_timeline_waits_settled", "settled_at", "start_at", "conversation_id"),
    )

    conversation_id: int = Field(sa_column=_conversation())
    ordinal: int = Field(primary_key=True)
    start_at: float
    end_at: float | None = None
    cut_at: float | None = None
    settled_at: float | None = None


class TimelinePause(SQLModel, table=True):
    """Pending on the customer or snoozed, from ``start_at`` to ``end_at`` (NULL: still)."""

    __tablename__ = "timeline_pauses"
    __table_args__ = (Index("ix_timeline_pauses_end", "end_at"),)

    conversation_id: int = Field(sa_column=_conversation())
    ordinal: int = Field(primary_key=True)
    start_at: float
    end_at: float | None = None
