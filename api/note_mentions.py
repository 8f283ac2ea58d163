"""``/api/v1/me/mentions``: the internal notes that name the caller (``@bob``)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from sportello.api.deps import CurrentUser, DaemonDep, Principal, SessionDep
from sportello.inbox import note_mentions

router = APIRouter(prefix="/api/v1/me", tags=["users"])


class MentionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    note_id: int
    author: str
    text: str
    created_at: datetime
    read_at: datetime | None


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: int | None = Field(default=None, description="null: every mention")


class ReadOut(BaseModel):
    read: int = Field(description="how many were unread")


def _user_id(principal: Principal) -> int:
    if principal.user_id is None:
        raise HTTPException(403, "personal tokens belong to users; log in as one")
    return principal.user_id


@router.get("/mentions")
def list_mentions(
    session: SessionDep, principal: CurrentUser, unread: bool = False
) -> list[MentionOut]:
    """The notes that name the caller, newest first (the last 50; ``unread``: those only)."""
    found = note_mentions.mentions_of(session, _user_id(principal), unread_only=unread)
    return [MentionOut.model_validate(m) for m in found]


@router.post("/mentions/read")
def read_mentions(
    body: ReadIn, session: SessionDep, daemon: DaemonDep, principal: CurrentUser
) -> ReadOut:
    """The caller has seen them (those of one conversation, when it says which)."""
    done = note_mentions.mark_read(
        session, _user_id(principal), daemon.clock.now(), body.conversation_id
    )
    session.commit()
    return ReadOut(read=done)
