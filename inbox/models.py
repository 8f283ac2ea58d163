"""The core tables: one SQLModel class per table.

Timestamps are stored and read back as aware UTC datetimes (:class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, event, inspect
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from sportello.inbox.triage_key import triage_key
from sportello.inbox.types import UTCDateTime


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    display_name: str | None = None
    language: str | None = None
    email: str | None = Field(default=None, index=True)
    phone: str | None = Field(default=None, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Set when an agent (or strong evidence) merged this customer into another; the row and
    # its history stay so the merge can be undone (see ``inbox/merge.py``).
    merged_into_id: int | None = Field(default=None, index=True)


class Identity(SQLModel, table=True):
    """A customer's account on one channel (Telegram user id, wa_id, PSID, X user id)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    channel: str
    external_id: str = Field(index=True)  # search by a platform id, whatever the channel
    handle: str | None = None
    phone: str | None = Field(default=None, index=True)
    email: str | None = Field(default=None, index=True)
    display_name: str | None = None
    language: str | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Conversation(SQLModel, table=True):
    """One platform thread (a chat, a DM thread, a tweet thread); reopened when it comes back."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "thread_external_id"),
        Index("ix_conversations_status_waiting", "status", "waiting_since"),
        Index("ix_conversations_status_triage", "status", "triage_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    thread_external_id: str
    customer_id: int = Field(foreign_key="customers.id", index=True)
    recipient_external_id: str
    title: str | None = None
    is_group: bool = False
    public: bool = False
    status: str = Field(default="open")
    assignee: str | None = Field(default=None, index=True)
    team: str | None = Field(default=None, index=True)  # a team's name (inbox/teams.py)
    priority: int = 0
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    first_response_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    snoozed_until: datetime | None = _ts()
    last_message_at: datetime | None = _ts(index=True)
    last_customer_message_at: datetime | None = _ts()
    last_agent_message_at: datetime | None = _ts()
    waiting_since: datetime | None = _ts()
    sla_due_at: datetime | None = _ts(index=True)  # the next SLA deadline (inbox/sla.py)
    # When the SLA check is next to look at the conversation (inbox/sla.py); None: not
    # before it changes. Set to CLOCK_CHANGED by every flush that changes a deadline's inputs.
    sla_check_at: datetime | None = _ts(index=True)
    latest_sentiment: float | None = None
    worst_sentiment: float | None = None
    # Until then the customer's next message is the comment a survey asked for after a low
    # score (inbox/surveys.py): it neither reopens the conversation nor waits for a reply.
    survey_comment_until: datetime | None = _ts()
    # The inbox order as a string (inbox/triage_key.py), kept up to date on every flush.
    triage_key: str = Field(default="", index=True)


# What a conversation's SLA deadlines are computed from (inbox/sla.py, ``Clocked``).
CLOCK_FIELDS = frozenset(
    (
        "channel",
        "priority",
        "team",
        "status",
        "opened_at",
        "first_response_at",
        "resolved_at",
        "waiting_since",
    )
)
# ``sla_check_at`` of a conversation whose deadlines may have moved: the next check looks.
CLOCK_CHANGED = datetime(1970, 1, 1, tzinfo=UTC)


@event.listens_for(Conversation, "before_insert")
@event.listens_for(Conversation, "before_update")
def _before_write(_mapper: Any, _connection: Any, conversation: Conversation) -> None:
    before_write(conversation)


def before_write(conversation: Conversation) -> None:
    """What every flush of a conversation keeps up to date from its other fields.

    The SLA check reads only the conversations whose ``sla_check_at`` has come: marking every
    change of a deadline's inputs here, in the flush, covers every writer (the worker, the
    API, the jobs) without each one having to remember it.
    """
    _refresh_triage_key(conversation)
    state = inspect(conversation)
    if state.key is None or any(
        key in CLOCK_FIELDS and old != state.dict.get(key)
        for key, old in state.committed_state.items()
    ):
        conversation.sla_check_at = CLOCK_CHANGED


def _refresh_triage_key(conversation: Conversation) -> None:
    """Set the conversation's inbox order from its fields (every flush does it)."""
    conversation.triage_key = triage_key(
        waiting_since=conversation.waiting_since,
        priority=conversation.priority,
        sla_due_at=conversation.sla_due_at,
        latest_sentiment=conversation.latest_sentiment,
        last_message_at=conversation.last_message_at,
    )


class ConversationTag(SQLModel, table=True):
    __tablename__ = "conversation_tags"

    conversation_id: int = Field(foreign_key="conversations.id", primary_key=True)
    tag: str = Field(primary_key=True, index=True)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        # Covering indexes (migration 0009): a conversation's history, and a period's
        # messages, as the KPI report and the inbox read them, without visiting the rows.
        Index(
            "ix_messages_history",
            "conversation_id",
            "sent_at",
            "id",
            "direction",
            "author",
            "delivery_status",
        ),
        Index(
            "ix_messages_period",
            "sent_at",
            "id",
            "direction",
            "author",
            "channel",
            "conversation_id",
            "customer_id",
            "sentiment_compound",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id")
    customer_id: int = Field(foreign_key="customers.id", index=True)
    identity_id: int | None = Field(default=None, foreign_key="identities.id")
    channel: str
    direction: str
    author: str
    # The login of the agent who sent the reply from sportello; none for anything else
    # (customers, automatic messages, replies typed in a platform's own app).
    sent_by: str | None = None
    kind: str = "text"
    external_id: str | None = None
    reply_to_external_id: str | None = None
    text: str = ""
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    edited_at: datetime | None = _ts()
    sentiment_compound: float | None = None
    sentiment_label: str | None = None
    sentiment_language: str | None = None
    sentiment_corrected: bool = False
    delivery_status: str | None = None
    delivery_error: str | None = None
    button_payload: str | None = None


# Processed deliveries with their body, and those the retention left without (drop_body).
UNTRIMMED = "state = 'processed' AND length(body) > 0"
TRIMMED = "state = 'processed' AND length(body) = 0"


class Delivery(SQLModel, table=True):
    """The journal: every raw inbound delivery, committed before the platform gets its 200."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("channel", "dedup_key"),
        Index("ix_deliveries_state_id", "state", "id"),
        # The worker's queue (journal.claim_pending): see migration 0015.
        Index(
            "ix_deliveries_pending",
            "id",
            postgresql_where=sql_text("state = 'pending'"),
            sqlite_where=sql_text("state = 'pending'"),
        ),
        # The retention job's (housekeeping.trim_deliveries): see migration 0016.
        Index(
            "ix_deliveries_untrimmed",
            "processed_at",
            postgresql_where=sql_text(UNTRIMMED),
            sqlite_where=sql_text(UNTRIMMED),
        ),
        Index(
            "ix_deliveries_trimmed",
            "id",
            postgresql_where=sql_text(TRIMMED),
            sqlite_where=sql_text(TRIMMED),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    source: str = "webhook"
    dedup_key: str
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    state: str = "pending"
    attempts: int = 0
    error: str | None = None
    events: int = 0
    processed_at: datetime | None = _ts()


class MessageFile(SQLModel, table=True):
    """A file an agent sent with a message. Kept: a retry sends the same bytes, and the inbox
    shows what went out (erased with the customer's messages)."""

    __tablename__ = "message_files"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True)
    name: str
    mime_type: str
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class OutboxItem(SQLModel, table=True):
    """One outbound message waiting to be sent, with its retry state."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True)
    channel: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    state: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    locked_until: datetime | None = _ts()


class ChannelCursor(SQLModel, table=True):
    """A poller's position (Telegram update offset, X since_id), kept across restarts."""

    __tablename__ = "channel_cursors"

    name: str = Field(primary_key=True)
    value: str
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ConversationEvent(SQLModel, table=True):
    """What happened to a conversation and who did it: status changes, assignment, merges."""

    __tablename__ = "conversation_events"
    __table_args__ = (
        Index("ix_conversation_events_history", "conversation_id", "at", "id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id")
    kind: str
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class EarlyStatus(SQLModel, table=True):
    """A platform's status for a message id we have not recorded yet (sent, not yet stored)."""

    __tablename__ = "early_statuses"
    __table_args__ = (Index("ix_early_statuses_channel_external", "channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    external_id: str
    status: str
    error: str | None = None
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
