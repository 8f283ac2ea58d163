"""Agents' tools: private notes on conversations, canned replies, and inbox search."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sportello.api.deps import Caller, DaemonDep, SessionDep, get_or_404
from sportello.api.desk_schemas import (
    CannedReplyIn,
    CannedReplyOut,
    CustomerBrief,
    NoteIn,
    NoteOut,
    SearchOut,
)
from sportello.api.inputs import RowId
from sportello.api.pagination import MAX_LIMIT, Offset, encode_cursor, offset_of
from sportello.api.schemas import Page
from sportello.api.views import conversations_out, message_out
from sportello.inbox import note_mentions
from sportello.inbox.desk_models import CannedReply, ConversationNote
from sportello.inbox.models import Conversation
from sportello.inbox.search import search_conversations, search_customers, search_messages
from sportello.inbox.users import User

if TYPE_CHECKING:
    from sportello.daemon import Daemon

router = APIRouter(prefix="/api/v1", tags=["desk"])


@router.get("/conversations/{conversation_id}/notes")
def list_notes(conversation_id: RowId, session: SessionDep, _: Caller) -> Page[NoteOut]:
    """A conversation's private notes, oldest first (agents only; never sent)."""
    get_or_404(session, Conversation, conversation_id, "conversation")
    notes = session.exec(
        select(ConversationNote)
        .where(ConversationNote.conversation_id == conversation_id)
        .order_by(col(ConversationNote.created_at), col(ConversationNote.id))
    ).all()
    return Page(items=[NoteOut.model_validate(n) for n in notes])


@router.post("/conversations/{conversation_id}/notes", status_code=201)
def add_note(
    conversation_id: RowId, body: NoteIn, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> NoteOut:
    """A private note; the users it names (``@bob``) find it among their mentions."""
    get_or_404(session, Conversation, conversation_id, "conversation")
    note, named = write_note(session, conversation_id, body.text, body.author or caller,
                             daemon.clock.now())  # fmt: skip
    session.commit()
    announce_note(daemon, note, named)
    return NoteOut.model_validate(note)


def write_note(
    session: Session, conversation_id: int, text: str, author: str, now: datetime
) -> tuple[ConversationNote, list[User]]:
    """A new note and the users it names, recorded among their mentions (not committed)."""
    note = ConversationNote(
        conversation_id=conversation_id, author=author, text=text, created_at=now
    )
    session.add(note)
    session.flush()
    named = note_mentions.named_users(session, note.text, note.author)
    note_mentions.record(session, note, named, now)
    return note, named


def announce_note(daemon: Daemon, note: ConversationNote, named: list[User]) -> None:
    """After the commit: the other inboxes show the note, the named users hear of it."""
    conversation_id = note.conversation_id
    daemon.live.publish("note.created", conversation_id=conversation_id, note_id=note.id)
    for user in named:
        daemon.live.publish(
            "note.mention", conversation_id=conversation_id, name=user.name, author=note.author
        )


@router.get("/canned-replies")
def list_canned(session: SessionDep, _: Caller) -> Page[CannedReplyOut]:
    rows = session.exec(select(CannedReply).order_by(col(CannedReply.title))).all()
    return Page(items=[CannedReplyOut.model_validate(r) for r in rows])


@router.post("/canned-replies", status_code=201)
def create_canned(
    body: CannedReplyIn, session: SessionDep, daemon: DaemonDep, _: Caller
) -> CannedReplyOut:
    now = daemon.clock.now()
    row = CannedReply(**body.model_dump(), created_at=now, updated_at=now)
    session.add(row)
    _flush_unique(session, body.title)
    return CannedReplyOut.model_validate(row)


@router.get("/canned-replies/{reply_id}")
def read_canned(reply_id: RowId, session: SessionDep, _: Caller) -> CannedReplyOut:
    return CannedReplyOut.model_validate(_canned(session, reply_id))


@router.put("/canned-replies/{reply_id}")
def update_canned(
    reply_id: RowId, body: CannedReplyIn, session: SessionDep, daemon: DaemonDep, _: Caller
) -> CannedReplyOut:
    row = _canned(session, reply_id)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    row.updated_at = daemon.clock.now()
    _flush_unique(session, body.title)
    return CannedReplyOut.model_validate(row)


@router.delete("/canned-replies/{reply_id}", status_code=204)
def delete_canned(reply_id: RowId, session: SessionDep, _: Caller) -> Response:
    session.delete(_canned(session, reply_id))
    session.commit()
    return Response(status_code=204)


@router.get("/search")
def search(
    session: SessionDep,
    _: Caller,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: str | None = None,
) -> SearchOut:
    """Customers, conversations and messages matching every word of ``q`` (as prefixes).

    ``cursor`` pages the messages; customers and conversations are the first ``limit``.
    """
    offset = offset_of(cursor)
    messages = search_messages(session, q, limit=limit + 1, offset=offset)
    next_cursor = encode_cursor(Offset(offset=offset + limit)) if len(messages) > limit else None
    return SearchOut(
        q=q,
        customers=[
            CustomerBrief.model_validate(c) for c in search_customers(session, q, limit=limit)
        ],
        conversations=conversations_out(session, search_conversations(session, q, limit=limit)),
        messages=Page(items=[message_out(m) for m in messages[:limit]], next_cursor=next_cursor),
    )


def _canned(session: SessionDep, reply_id: int) -> CannedReply:
    return get_or_404(session, CannedReply, reply_id, "canned reply")


def _flush_unique(session: SessionDep, title: str) -> None:
    """Commit now (the answer reflects stored data); a duplicate title is a 409."""
    try:
        session.commit()
    except IntegrityError:
        raise HTTPException(409, f"a canned reply titled {title!r} exists already") from None
