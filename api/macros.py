"""``/api/v1/macros``: steps an agent takes together, and applying one to a conversation.

"Thanks, resolved": the reply, the tag, the resolution in one click, each recorded as the
agent's own change. Admins write the shared macros, which every agent applies; each agent
may keep macros of their own, which only they see and apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from sportello.api.conversations import (
    apply_changes,
    conversations_by_id,
    filled,
    get_conversation,
    queue_reply,
    sendable,
)
from sportello.api.deps import Caller, CurrentUser, DaemonDep, Principal, SessionDep, get_or_404
from sportello.api.desk import announce_note, write_note
from sportello.api.inputs import RowId
from sportello.api.schemas import ConversationOut, MessageOut
from sportello.api.views import conversations_out, message_out
from sportello.config.settings import Duration, parse_duration
from sportello.inbox.desk_models import ConversationNote, Macro
from sportello.inbox.models import Conversation, Message
from sportello.inbox.users import User

if TYPE_CHECKING:
    from sportello.daemon import Daemon

router = APIRouter(prefix="/api/v1", tags=["desk"])


class MacroIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    reply: str | None = Field(
        default=None, min_length=1, max_length=20_000, description="{name}, {next_open}"
    )
    note: str | None = Field(default=None, min_length=1, max_length=20_000)
    add_tags: list[str] = Field(default_factory=list)
    priority: int | None = Field(default=None, ge=0, le=3)
    take: bool = Field(default=False, description="the agent who applies it takes it")
    status: Literal["open", "pending", "resolved"] | None = None
    snooze_for: Duration | None = Field(default=None, description='snoozed this long: "1d"')
    personal: bool = Field(default=False, description="the caller's own: only they see it")

    @model_validator(mode="after")
    def _does_something(self) -> MacroIn:
        self.add_tags = [tag.strip() for tag in self.add_tags if tag.strip()]
        if self.status is not None and self.snooze_for is not None:
            raise ValueError("a macro sets a status or snoozes, not both")
        steps = (self.reply, self.note, self.priority, self.status, self.snooze_for)
        if all(step is None for step in steps) and not (self.add_tags or self.take):
            raise ValueError(
                "a macro needs a step: reply, note, add_tags, priority, take, status, snooze_for"
            )
        return self


class MacroOut(MacroIn):
    id: int
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, row: Macro) -> MacroOut:
        fields = row.model_dump(exclude={"owner", "created_at"})
        return cls(**fields, personal=row.owner is not None)


class Applied(BaseModel):
    conversation: ConversationOut
    message: MessageOut | None = Field(description="the reply it queued, if it has one")


@router.get("/macros")
def list_macros(session: SessionDep, caller: Caller) -> list[MacroOut]:
    """The shared macros and the caller's own, by name."""
    mine = or_(col(Macro.owner).is_(None), col(Macro.owner) == caller)
    rows = session.exec(select(Macro).where(mine).order_by(col(Macro.name), col(Macro.id))).all()
    return [MacroOut.of(row) for row in rows]


@router.post("/macros", status_code=201)
def create_macro(
    body: MacroIn, session: SessionDep, daemon: DaemonDep, caller: CurrentUser
) -> MacroOut:
    """A shared macro (admins) or, with ``personal``, the caller's own (anyone)."""
    _may_write(caller, body.personal)
    now = daemon.clock.now()
    row = Macro(
        **body.model_dump(exclude={"personal"}),
        owner=caller.name if body.personal else None,
        created_at=now,
        updated_at=now,
        updated_by=caller.name,
    )
    session.add(row)
    _commit_unique(session, body)
    return MacroOut.of(row)


@router.put("/macros/{macro_id}")
def update_macro(
    macro_id: RowId, body: MacroIn, session: SessionDep, daemon: DaemonDep, caller: CurrentUser
) -> MacroOut:
    """Rewrite a macro; an admin may make a shared one their own or share their own."""
    row = _visible(session, macro_id, caller.name)
    _may_write(caller, row.owner is not None)
    _may_write(caller, body.personal)
    for key, value in body.model_dump(exclude={"personal"}).items():
        setattr(row, key, value)
    row.owner = caller.name if body.personal else None
    row.updated_at, row.updated_by = daemon.clock.now(), caller.name
    _commit_unique(session, body)
    return MacroOut.of(row)


@router.delete("/macros/{macro_id}", status_code=204)
def delete_macro(macro_id: RowId, session: SessionDep, caller: CurrentUser) -> Response:
    row = _visible(session, macro_id, caller.name)
    _may_write(caller, row.owner is not None)
    session.delete(row)
    session.commit()
    return Response(status_code=204)


def _visible(session: Session, macro_id: int, caller: str) -> Macro:
    """The macro, shared or the caller's own; 404 for another agent's own."""
    row = get_or_404(session, Macro, macro_id, "macro")
    if row.owner not in (None, caller):
        raise HTTPException(404, f"macro {macro_id} not found")
    return row


def _may_write(caller: Principal, personal: bool) -> None:
    """403 unless it is the caller's own macro or the caller is an admin."""
    if not personal and not caller.is_admin:
        raise HTTPException(403, "shared macros need the admin role; an agent's own are personal")


def _commit_unique(session: Session, body: MacroIn) -> None:
    try:
        session.commit()
    except IntegrityError:
        whose = "you have" if body.personal else "a shared macro has"
        raise HTTPException(409, f"{whose} the name {body.name!r} already") from None


@router.post("/conversations/{conversation_id}/macros/{macro_id}")
def apply_macro(
    conversation_id: RowId, macro_id: RowId, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> Applied:
    """Every step of the macro, in one transaction, as the caller's own changes: all of
    them, or (``409`` when the platform refuses a reply now, ``422``) none."""
    conversation = get_conversation(session, conversation_id)
    macro = _visible(session, macro_id, caller)
    if macro.reply is not None:
        sendable(daemon, conversation)
    steps = _take_steps(session, daemon, conversation, macro, caller)
    session.commit()
    _announce(daemon, steps, caller)
    return Applied(
        conversation=conversations_out(session, [conversation])[0],
        message=message_out(steps.message) if steps.message is not None else None,
    )


class BulkMacroIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[RowId] = Field(min_length=1, max_length=200)


class Refused(BaseModel):
    id: int
    reason: str


class BulkApplied(BaseModel):
    applied: list[int]
    refused: list[Refused] = Field(
        description="left as they were: the platform refuses a reply there now"
    )
    missing: list[int] = Field(description="ids of no conversation")


@router.post("/macros/{macro_id}/apply")
def apply_macro_to_many(
    macro_id: RowId, body: BulkMacroIn, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> BulkApplied:
    """The macro on each of ``ids``, in one transaction: "the outage is over, thanks for
    waiting" to everyone who wrote about it. A conversation whose platform refuses the
    macro's reply now (a closed 24-hour window) is left as it was and named in ``refused``;
    the others get every step."""
    macro = _visible(session, macro_id, caller)
    found = conversations_by_id(session, body.ids)
    applied: list[_Steps] = []
    refused: list[Refused] = []
    for conversation in found:
        assert conversation.id is not None
        if macro.reply is not None:
            try:
                sendable(daemon, conversation)
            except HTTPException as refusal:
                refused.append(Refused(id=conversation.id, reason=str(refusal.detail)))
                continue
        applied.append(_take_steps(session, daemon, conversation, macro, caller))
    session.commit()
    for steps in applied:
        _announce(daemon, steps, caller)
    return BulkApplied(
        applied=[steps.conversation_id for steps in applied],
        refused=refused,
        missing=sorted(set(body.ids) - {c.id for c in found if c.id is not None}),
    )


@dataclass
class _Steps:
    """What a macro did to one conversation, for the announcements after the commit."""

    conversation_id: int
    message: Message | None
    note: tuple[ConversationNote, list[User]] | None
    handed: bool


def _take_steps(
    session: Session, daemon: Daemon, conversation: Conversation, macro: Macro, caller: str
) -> _Steps:
    """Every step of ``macro`` on ``conversation`` (not committed); the caller has checked
    that its reply may go out."""
    assert conversation.id is not None
    now = daemon.clock.now()
    message = None
    if macro.reply is not None:
        text = filled(session, daemon, conversation, macro.reply)
        message = queue_reply(session, conversation, text, now, caller)
    note = write_note(session, conversation.id, macro.note, caller, now) if macro.note else None
    snooze = {}
    if macro.snooze_for is not None:
        until = now + timedelta(seconds=parse_duration(macro.snooze_for))
        snooze = {"status": "snoozed", "snoozed_until": until}
    changes = {
        "status": macro.status,
        "priority": macro.priority,
        "add_tags": macro.add_tags,
        **({"assignee": caller} if macro.take else {}),
        **snooze,
    }
    handed = macro.take and conversation.assignee != caller
    apply_changes(session, conversation, changes, now, caller)
    return _Steps(conversation.id, message, note, handed)


def _announce(daemon: Daemon, steps: _Steps, caller: str) -> None:
    """After the commit: the reply to send, the note, the conversation's change."""
    if steps.message is not None:
        daemon.wake_sender()
        daemon.live.publish(
            "message.created", conversation_id=steps.conversation_id, message_id=steps.message.id
        )
    if steps.note is not None:
        announce_note(daemon, *steps.note)
    daemon.live.publish(
        "conversation.updated",
        conversation_id=steps.conversation_id,
        actor=caller,
        **({"assignee": caller} if steps.handed else {}),
    )
