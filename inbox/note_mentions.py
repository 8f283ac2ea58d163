"""Agents named in internal notes: ``@bob, puoi controllare il rimborso?``.

A note that names a user (by their login name) waits among that user's mentions, unread,
until they open the conversation; the inbox shows how many wait. Naming oneself, or a name
that is no user, does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from sportello.inbox.desk_models import ConversationNote, NoteMention
from sportello.inbox.users import User

# A login name after an @ that is not inside a word or an e-mail address; a sentence's
# full stop or hyphen after it is not part of it.
_NAMED = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9._@-]{0,63})")
UNREAD_LIMIT = 50


@dataclass(frozen=True)
class Mention:
    """A note that names the user, as their mentions list shows it."""

    id: int
    conversation_id: int
    note_id: int
    author: str
    text: str
    created_at: datetime
    read_at: datetime | None


def named_users(session: Session, text: str, author: str) -> list[User]:
    """The users ``text`` names with an @, but its author, each once, in order."""
    names: list[str] = []
    for match in _NAMED.finditer(text):
        name = match.group(1)
        names += [name, name.rstrip(".-_@")]
    if not names:
        return []
    wanted = {name.lower() for name in names}
    users = session.exec(select(User).where(func.lower(User.name).in_(wanted)))
    found = {user.name.lower(): user for user in users}
    named: dict[str, User] = {}
    for name in names:
        user = found.get(name.lower())
        if user is not None and user.name != author:
            named.setdefault(user.name, user)
    return list(named.values())


def record(
    session: Session, note: ConversationNote, users: list[User], now: datetime
) -> list[NoteMention]:
    """``note`` waits among the mentions of each of ``users``."""
    assert note.id is not None
    rows = [
        NoteMention(
            note_id=note.id, conversation_id=note.conversation_id, user_id=user.id, created_at=now
        )
        for user in users
        if user.id is not None
    ]
    session.add_all(rows)
    session.flush()
    return rows


def mentions_of(session: Session, user_id: int, *, unread_only: bool) -> list[Mention]:
    """The notes naming the user, newest first (at most :data:`UNREAD_LIMIT`)."""
    query = (
        select(NoteMention, ConversationNote)
        .join(ConversationNote, col(ConversationNote.id) == col(NoteMention.note_id))
        .where(col(NoteMention.user_id) == user_id)
    )
    if unread_only:
        query = query.where(col(NoteMention.read_at).is_(None))
    rows = session.exec(query.order_by(col(NoteMention.id).desc()).limit(UNREAD_LIMIT))
    return [
        Mention(
            id=mention.id or 0,
            conversation_id=mention.conversation_id,
            note_id=note.id or 0,
            author=note.author,
            text=note.text,
            created_at=mention.created_at,
            read_at=mention.read_at,
        )
        for mention, note in rows
    ]


def mark_read(
    session: Session, user_id: int, now: datetime, conversation_id: int | None = None
) -> int:
    """The user has seen their mentions (in one conversation, or all); how many were new."""
    condition = [col(NoteMention.user_id) == user_id, col(NoteMention.read_at).is_(None)]
    if conversation_id is not None:
        condition.append(col(NoteMention.conversation_id) == conversation_id)
    done = session.connection().execute(update(NoteMention).where(*condition).values(read_at=now))
    return int(done.rowcount)
