"""``/api/v1/conversations``: the triaged inbox, one conversation, its messages, replies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, UploadFile
from sqlmodel import Session, col, delete, select

from sportello.api.deps import Caller, DaemonDep, SessionDep, get_or_404
from sportello.api.inputs import RowId
from sportello.api.pagination import MAX_LIMIT, Offset, encode_cursor, offset_of
from sportello.api.schemas import (
    BulkOut,
    BulkPatch,
    ConversationOut,
    ConversationPatch,
    MessageOut,
    Page,
    PartsIn,
    PartsOut,
    ReplyIn,
)
from sportello.api.views import conversations_out, message_out
from sportello.connectors.base import OutboundFile
from sportello.inbox import outbox, settings_store, teams
from sportello.inbox.canned import render
from sportello.inbox.conversations import record, set_status
from sportello.inbox.desk_models import CannedReply
from sportello.inbox.models import Conversation, ConversationTag, Customer, Message
from sportello.inbox.triage import inbox_page
from sportello.inbox.users import User

if TYPE_CHECKING:
    from sportello.connectors.base import Connector
    from sportello.daemon import Daemon

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])
MAX_UPLOAD = 25 * 1024 * 1024  # Messenger's limit, the largest; each channel checks its own


def get_conversation(session: Session, conversation_id: int) -> Conversation:
    return get_or_404(session, Conversation, conversation_id, "conversation")


@router.get("")
def list_conversations(
    session: SessionDep,
    daemon: DaemonDep,
    _: Caller,
    status: str | None = None,
    channel: str | None = None,
    assignee: str | None = None,
    tag: str | None = None,
    team: str | None = None,
    unassigned: Annotated[bool, Query(description="only the ones nobody has taken")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[ConversationOut]:
    if unassigned and assignee is not None:
        raise HTTPException(422, "assignee and unassigned=true exclude each other")
    query = select(Conversation)
    if unassigned:
        query = query.where(col(Conversation.assignee).is_(None))
    if status is not None:
        query = query.where(Conversation.status == status)
    if channel is not None:
        query = query.where(Conversation.channel == channel)
    if assignee is not None:
        query = query.where(Conversation.assignee == assignee)
    if team is not None:
        query = query.where(Conversation.team == team)
    if tag is not None:
        tagged = select(ConversationTag.conversation_id).where(ConversationTag.tag == tag)
        query = query.where(col(Conversation.id).in_(tagged))
    offset = offset_of(cursor)
    rows = inbox_page(session, query, daemon.clock.now(), offset, limit + 1)
    next_cursor = encode_cursor(Offset(offset=offset + limit)) if len(rows) > limit else None
    return Page(items=conversations_out(session, rows[:limit]), next_cursor=next_cursor)


@router.get("/{conversation_id}")
def read_conversation(conversation_id: RowId, session: SessionDep, _: Caller) -> ConversationOut:
    return conversations_out(session, [get_conversation(session, conversation_id)])[0]


@router.patch("/{conversation_id}")
def update_conversation(
    conversation_id: RowId,
    patch: ConversationPatch,
    session: SessionDep,
    daemon: DaemonDep,
    caller: Caller,
) -> ConversationOut:
    conversation = get_conversation(session, conversation_id)
    changes = patch.model_dump(exclude_unset=True)
    _check_names(session, changes, caller)
    handed = "assignee" in changes and changes["assignee"] != conversation.assignee
    apply_changes(session, conversation, changes, daemon.clock.now(), caller)
    session.commit()  # before answering: the dependency's commit may run after the response
    daemon.live.publish(
        "conversation.updated",
        conversation_id=conversation_id,
        actor=caller,
        **({"assignee": conversation.assignee} if handed else {}),
    )
    return conversations_out(session, [conversation])[0]


@router.post("/bulk")
def update_conversations(
    body: BulkPatch, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> BulkOut:
    """The same change to each of ``ids`` (status, assignee, priority, tags added), in one
    transaction: all of them or, on a 422, none."""
    changes = body.model_dump(exclude_unset=True, exclude={"ids"})
    _check_names(session, changes, caller)
    found = conversations_by_id(session, body.ids)
    now = daemon.clock.now()
    handed = {c.id for c in found if "assignee" in changes and changes["assignee"] != c.assignee}
    for conversation in found:
        apply_changes(session, conversation, changes, now, caller)
    session.commit()
    updated = sorted(c.id for c in found if c.id is not None)
    for conversation_id in updated:
        daemon.live.publish(
            "conversation.updated",
            conversation_id=conversation_id,
            actor=caller,
            **({"assignee": changes["assignee"]} if conversation_id in handed else {}),
        )
    return BulkOut(updated=updated, missing=sorted(set(body.ids) - set(updated)))


def conversations_by_id(session: Session, ids: list[int]) -> Sequence[Conversation]:
    """The conversations of ``ids`` that exist, by id (a bulk action's)."""
    query = select(Conversation).where(col(Conversation.id).in_(ids))
    return session.exec(query.order_by(col(Conversation.id))).all()


def _check_names(session: Session, changes: dict[str, Any], caller: str) -> None:
    """``422`` for an assignee who is nobody (a user's name, the caller's own: a configured
    token takes a conversation under its name, or null) or a team that does not exist. A
    typo would hide the conversation from every inbox's *mine* and from automatic
    assignment."""
    name = changes.get("assignee")
    if name not in (None, caller) and not _is_user(session, name):
        raise HTTPException(422, [_refusal("assignee", f"no user named {name}")])
    team = changes.get("team")
    if team is not None and teams.find_team(session, team) is None:
        raise HTTPException(422, [_refusal("team", f"no team named {team}")])


def _is_user(session: Session, name: str) -> bool:
    return session.exec(select(User.id).where(User.name == name)).first() is not None


def _refusal(field: str, message: str) -> dict[str, Any]:
    return {"loc": ["body", field], "msg": message, "type": "value"}


def apply_changes(
    session: Session,
    conversation: Conversation,
    changes: dict[str, Any],
    now: datetime,
    caller: str,
) -> None:
    """The given fields of a PATCH (or a bulk change, or a macro) on one conversation, each
    change recorded as an event by ``caller``; 422 when the status change is invalid."""
    assert conversation.id is not None
    if changes.get("status") is not None:
        try:
            set_status(
                session, conversation, changes["status"], now, caller, changes.get("snoozed_until")
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
    if "assignee" in changes and conversation.assignee != changes["assignee"]:
        record(session, conversation, "assigned", now, caller, assignee=changes["assignee"])
        conversation.assignee = changes["assignee"]
    if "team" in changes and conversation.team != changes["team"]:
        record(session, conversation, "team", now, caller,
               team=changes["team"], previous=conversation.team)  # fmt: skip
        conversation.team = changes["team"]
    priority = changes.get("priority")
    if priority is not None and priority != conversation.priority:
        record(session, conversation, "priority", now, caller,
               priority=priority, previous=conversation.priority)  # fmt: skip
        conversation.priority = priority
    if changes.get("tags") is None and not changes.get("add_tags"):
        return
    tags_of = col(ConversationTag.conversation_id) == conversation.id
    have = set(session.exec(select(ConversationTag.tag).where(tags_of)))
    wanted = _cleaned(changes["tags"] if changes.get("tags") is not None else [])
    removed = sorted(have - wanted) if changes.get("tags") is not None else []
    added = sorted((wanted | _cleaned(changes.get("add_tags") or [])) - have)
    if removed:
        gone = delete(ConversationTag).where(tags_of, col(ConversationTag.tag).in_(removed))
        session.exec(gone)  # type: ignore[call-overload]
    for tag in added:
        session.add(ConversationTag(conversation_id=conversation.id, tag=tag))
    if added or removed:
        record(session, conversation, "tagged", now, caller, added=added, removed=removed)


def _cleaned(tags: list[str]) -> set[str]:
    return {tag.strip() for tag in tags if tag.strip()}


@router.get("/{conversation_id}/messages")
def conversation_messages(
    conversation_id: RowId,
    session: SessionDep,
    _: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: str | None = None,
) -> Page[MessageOut]:
    get_conversation(session, conversation_id)
    offset = offset_of(cursor)
    rows = list(
        session.exec(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(col(Message.sent_at), col(Message.id))
            .offset(offset)
            .limit(limit + 1)
        )
    )
    next_cursor = encode_cursor(Offset(offset=offset + limit)) if len(rows) > limit else None
    return Page(items=[message_out(m) for m in rows[:limit]], next_cursor=next_cursor)


@router.post("/{conversation_id}/messages", status_code=201)
def reply(
    conversation_id: RowId,
    body: ReplyIn,
    session: SessionDep,
    daemon: DaemonDep,
    caller: Caller,
) -> MessageOut:
    conversation = get_conversation(session, conversation_id)
    sendable(daemon, conversation)
    text = body.text
    if body.canned_reply_id is not None:
        canned = get_or_404(session, CannedReply, body.canned_reply_id, "canned reply")
        text = filled(session, daemon, conversation, canned.text, canned.language)
    assert text is not None
    message = queue_reply(session, conversation, text, daemon.clock.now(), caller)
    session.commit()
    daemon.wake_sender()
    daemon.live.publish("message.created", conversation_id=conversation_id, message_id=message.id)
    return message_out(message)


@router.post("/{conversation_id}/files", status_code=201)
def reply_with_file(
    conversation_id: RowId,
    file: UploadFile,
    session: SessionDep,
    daemon: DaemonDep,
    caller: Caller,
    text: Annotated[str, Form(max_length=10_000)] = "",
) -> MessageOut:
    """A reply carrying a file (multipart: ``file``, and ``text`` as its caption); 409 with
    the reason where the channel cannot send it now, 413 over 25 MiB."""
    conversation = get_conversation(session, conversation_id)
    connector = daemon.connectors.get(conversation.channel)
    if connector is None:
        raise HTTPException(409, f"channel {conversation.channel} is not configured here")
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise HTTPException(413, f"the file is over {MAX_UPLOAD // 2**20} MiB")
    if not content:
        raise HTTPException(422, "the file is empty")
    sent = OutboundFile(
        name=file.filename or "file",
        mime_type=file.content_type or "application/octet-stream",
        content=content,
    )
    now = daemon.clock.now()
    refusal = connector.can_send_file(sent, conversation.last_customer_message_at, now)
    if refusal is not None:
        raise HTTPException(409, f"cannot send this file on {conversation.channel}: {refusal}")
    message = outbox.queue(
        session,
        conversation,
        text.strip(),
        now=now,
        sent_by=caller,
        reply_to_external_id=_public_reply_target(session, conversation),
        file=sent,
    )
    session.commit()
    daemon.wake_sender()
    daemon.live.publish("message.created", conversation_id=conversation_id, message_id=message.id)
    return message_out(message)


@router.post("/{conversation_id}/parts")
def reply_parts(
    conversation_id: RowId, body: PartsIn, session: SessionDep, daemon: DaemonDep, _: Caller
) -> PartsOut:
    """How many messages a reply of ``text`` would go out as on the conversation's channel
    (one where the channel is not configured here); 409 as for the reply itself."""
    conversation = get_conversation(session, conversation_id)
    connector = sendable(daemon, conversation)
    if connector is None:
        return PartsOut(parts=1)
    return PartsOut(parts=len(connector.parts(outbox.outbound_for(conversation, body.text))))


def filled(
    session: Session,
    daemon: Daemon,
    conversation: Conversation,
    template: str,
    language: str | None = None,
) -> str:
    """A canned reply's or a macro's text, ``{name}`` and ``{next_open}`` filled for this
    conversation's customer."""
    return render(
        template,
        customer=session.get(Customer, conversation.customer_id),
        calendar=settings_store.known_calendar(session, daemon.settings),
        now=daemon.clock.now(),
        language=language,
    )


def queue_reply(
    session: Session, conversation: Conversation, text: str, now: datetime, caller: str
) -> Message:
    """An agent's text reply in the outbox, signed with their login (on X, an answer to the
    customer's latest post)."""
    return outbox.queue(
        session,
        conversation,
        text,
        now=now,
        sent_by=caller,
        reply_to_external_id=_public_reply_target(session, conversation),
    )


def sendable(daemon: Daemon, conversation: Conversation) -> Connector | None:
    """The conversation's connector (None where its channel is not configured here); 409 with
    the reason when the platform forbids a reply now (the 24-hour window)."""
    connector = daemon.connectors.get(conversation.channel)
    if connector is not None:
        now = daemon.clock.now()
        refusal = connector.can_send_free_form(conversation.last_customer_message_at, now, "reply")
        if refusal is not None:
            raise HTTPException(409, f"cannot send on {conversation.channel} now: {refusal}")
    return connector


def _public_reply_target(session: Session, conversation: Conversation) -> str | None:
    """In a public thread (an X conversation) a reply answers the customer's latest post."""
    if not conversation.public:
        return None
    return session.exec(
        select(Message.external_id)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == "in",
            col(Message.external_id).is_not(None),
        )
        .order_by(col(Message.sent_at).desc(), col(Message.id).desc())
        .limit(1)
    ).first()
