"""Who else has a conversation open, and who is typing a reply in it.

Two agents answering the same customer at once send two answers; the inbox shows each
agent the others in the conversation ("bob is typing…"). Each inbox says which
conversation it has open when it opens one, again every 20 s, and while its agent types
a reply; it is kept on the user's row, so every replica sees it, and it fades by itself
when an inbox stops saying so (a closed tab, a sleeping laptop).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from sportello.inbox.users import User

VIEWING_S = 45.0  # an inbox says it every 20 s while a conversation is open
TYPING_S = 10.0  # and every 3 s while its agent types


@dataclass(frozen=True)
class Viewer:
    name: str
    typing: bool


@dataclass(frozen=True)
class Moved:
    """What a :func:`mark_viewing` changed that the other inboxes should see."""

    left: int | None  # the conversation the user had open before, if another one
    changed: bool  # a conversation, or the typing, changed


def mark_viewing(
    session: Session, user_id: int, conversation_id: int | None, typing: bool, now: datetime
) -> Moved:
    """The user has ``conversation_id`` open (None: none), typing a reply in it or not."""
    before = session.exec(
        select(User.viewing_conversation_id, User.viewing_at, User.typing_at).where(
            col(User.id) == user_id
        )
    ).first()
    was_in, seen, typed = before if before is not None else (None, None, None)
    if seen is None or now - seen > timedelta(seconds=VIEWING_S):
        was_in = None  # it had faded
    was_typing = typed is not None and now - typed <= timedelta(seconds=TYPING_S)
    session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(
            viewing_conversation_id=conversation_id,
            viewing_at=now,
            typing_at=now if typing and conversation_id is not None else None,
        )
    )
    left = was_in if was_in is not None and was_in != conversation_id else None
    return Moved(left, left is not None or was_in != conversation_id or was_typing != typing)


def viewers(
    session: Session, conversation_id: int, now: datetime, *, besides: int | None = None
) -> list[Viewer]:
    """The users with ``conversation_id`` open now, by name, ``besides`` left out."""
    found = session.exec(
        select(User.name, User.typing_at)
        .where(
            col(User.viewing_conversation_id) == conversation_id,
            col(User.viewing_at) >= now - timedelta(seconds=VIEWING_S),
            col(User.id) != (besides if besides is not None else -1),
        )
        .order_by(col(User.name))
    )
    typing_since = now - timedelta(seconds=TYPING_S)
    return [Viewer(name, typed is not None and typed >= typing_since) for name, typed in found]
