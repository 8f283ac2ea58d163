"""``/api/v1/me/viewing`` and ``/api/v1/conversations/{id}/viewers``: who else is there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from sportello.api.deps import CurrentUser, DaemonDep, SessionDep, get_or_404
from sportello.api.inputs import RowId
from sportello.inbox import viewers
from sportello.inbox.models import Conversation

if TYPE_CHECKING:
    from sportello.daemon import Daemon

router = APIRouter(prefix="/api/v1", tags=["users"])


class ViewingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: int | None = Field(description="the conversation open; null: none")
    typing: bool = Field(default=False, description="typing a reply in it now")


class ViewerOut(BaseModel):
    name: str
    typing: bool


@router.put("/me/viewing", status_code=204)
def set_viewing(
    body: ViewingIn, session: SessionDep, daemon: DaemonDep, principal: CurrentUser
) -> Response:
    """The conversation the caller's inbox shows, and whether they type a reply in it:
    said on opening one, every 20 s while it is open and every 3 s while typing."""
    if principal.user_id is None:
        raise HTTPException(403, "personal tokens belong to users; log in as one")
    if body.conversation_id is not None:
        get_or_404(session, Conversation, body.conversation_id, "conversation")
    moved = viewers.mark_viewing(
        session, principal.user_id, body.conversation_id, body.typing, daemon.clock.now()
    )
    session.commit()
    announce(daemon, moved, body.conversation_id)
    return Response(status_code=204)


def announce(daemon: Daemon, moved: viewers.Moved, now_in: int | None) -> None:
    """Tell the inboxes of the conversations a (committed) move changed."""
    if moved.changed:
        for conversation_id in {now_in, moved.left} - {None}:
            daemon.live.publish("conversation.viewers", conversation_id=conversation_id)


@router.get("/conversations/{conversation_id}/viewers")
def list_viewers(
    conversation_id: RowId, session: SessionDep, daemon: DaemonDep, principal: CurrentUser
) -> list[ViewerOut]:
    """The other users who have the conversation open now, and whether they are typing."""
    get_or_404(session, Conversation, conversation_id, "conversation")
    found = viewers.viewers(session, conversation_id, daemon.clock.now(), besides=principal.user_id)
    return [ViewerOut(name=v.name, typing=v.typing) for v in found]
