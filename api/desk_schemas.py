"""JSON shapes of the unified-inbox endpoints: notes, canned replies, search, merges, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sportello.api.inputs import RowId
from sportello.api.schemas import ConversationOut, MessageOut, Page


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    author: str | None = Field(default=None, max_length=200)


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    author: str
    text: str
    created_at: datetime


class CannedReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20_000)
    language: str | None = Field(default=None, max_length=16)


class CannedReplyOut(CannedReplyIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    updated_at: datetime


class CustomerBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    display_name: str | None = None
    phone: str | None = None
    email: str | None = None


class SearchOut(BaseModel):
    q: str
    customers: list[CustomerBrief]
    conversations: list[ConversationOut]
    messages: Page[MessageOut]


class CustomerPatch(BaseModel):
    """The details to change; a field left out stays, ``null`` (or "") clears it."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = None
    language: str | None = Field(default=None, description="two letters: away messages, surveys")
    phone: str | None = Field(
        default=None, description="with its country code, or in the business's country"
    )
    email: str | None = None


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: RowId


class UnmergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity_id: RowId


class SuggestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    other_id: int
    reason: str
    score: float
    status: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None


class AuditOut(BaseModel):
    """One audit entry; ``data`` lists the ids that moved (never names or numbers)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    customer_id: int
    other_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class ErasedOut(BaseModel):
    customer_id: int
    deleted: dict[str, int]
