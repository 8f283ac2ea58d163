"""JSON shapes of the REST API (the contract fixes their fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sportello.api.inputs import Instant, RowId
from sportello.sentiment.label import Label

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class SentimentOut(BaseModel):
    compound: float
    label: Label
    language: str | None = None
    corrected: bool = False


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    customer_id: int
    channel: str
    direction: Literal["in", "out"]
    author: Literal["customer", "agent", "bot"]
    sent_by: str | None = None
    kind: str
    external_id: str | None
    reply_to_external_id: str | None = None
    text: str
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    sent_at: datetime
    received_at: datetime
    edited_at: datetime | None = None
    sentiment: SentimentOut | None = None
    delivery_status: str | None = None
    delivery_error: str | None = None


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    external_id: str
    handle: str | None = None
    phone: str | None = None
    email: str | None = None
    display_name: str | None = None


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    customer_id: int
    thread_external_id: str
    title: str | None = None
    is_group: bool
    public: bool
    status: str
    assignee: str | None = None
    team: str | None = None
    priority: int
    tags: list[str] = Field(default_factory=list)
    opened_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    snoozed_until: datetime | None = None
    last_message_at: datetime | None = None
    last_customer_message_at: datetime | None = None
    waiting_since: datetime | None = None
    sla_due_at: datetime | None = None
    latest_sentiment: float | None = None
    worst_sentiment: float | None = None
    customer_name: str | None = None
    last_message: str | None = Field(default=None, description="the newest message's text")


class CustomerOut(BaseModel):
    id: int
    display_name: str | None = None
    language: str | None = None
    phone: str | None = None
    email: str | None = None
    created_at: datetime
    merged_into_id: int | None = None
    identities: list[IdentityOut] = Field(default_factory=list)
    conversations: list[ConversationOut] = Field(default_factory=list)


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    source: str
    state: str
    error: str | None = None
    received_at: datetime
    processed_at: datetime | None = None
    attempts: int
    events: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: str


class ConversationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["open", "pending", "snoozed", "resolved"] | None = None
    snoozed_until: Instant | None = None
    assignee: str | None = None
    team: str | None = Field(default=None, description="a team's name; null: none")
    tags: list[str] | None = None
    priority: int | None = Field(default=None, ge=0, le=3)


class BulkPatch(BaseModel):
    """The same change to several conversations at once (the inbox's bulk actions)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[RowId] = Field(min_length=1, max_length=200)
    status: Literal["open", "pending", "snoozed", "resolved"] | None = None
    snoozed_until: Instant | None = None
    assignee: str | None = Field(default=None, description="null (given) unassigns")
    team: str | None = Field(default=None, description="null (given): no team")
    priority: int | None = Field(default=None, ge=0, le=3)
    add_tags: list[str] = Field(default_factory=list, description="added to the tags each has")


class BulkOut(BaseModel):
    updated: list[int]
    missing: list[int] = Field(description="ids of no conversation")


class ReplyIn(BaseModel):
    """Either ``text`` or ``canned_reply_id`` (its placeholders are filled for this customer)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=20_000)
    canned_reply_id: RowId | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ReplyIn:
        if (self.text is None) == (self.canned_reply_id is None):
            raise ValueError("give either text or canned_reply_id")
        return self


class PartsIn(BaseModel):
    """A reply being written, to learn how it will go out."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)


class PartsOut(BaseModel):
    """How many messages (posts, in a public X thread) the text goes out as."""

    parts: int
