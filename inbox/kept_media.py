"""Customers' files that their platform keeps only for a while, copied into the inbox.

WhatsApp deletes a customer's media after 30 days, and Messenger's links to its CDN expire
after some days; the photo of a broken parcel sent last month is part of the case. The
``media:keep`` job copies each such file (from the connectors whose ``files_expire``) into
``message_files`` soon after it arrives, and marks the attachment with the copy's
``file_id``: from then on the inbox serves the copy. Telegram's files stay reachable by
their ``file_id``, so they are fetched when opened, as before.

The job walks inbound messages in id order from a cursor (``channel_cursors``), a bounded
window of ids per run. A platform that is down or rate-limited stops the run where it is,
to try again at the next; a file it no longer has, or will not give, is marked
``unavailable`` with the reason and not asked for again. Copies go with the messages they
belong to: erasure deletes them, the customer's export holds them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, String, cast, func
from sqlmodel import Session, col, select

from sportello.connectors.base import Connector, Media, MediaError
from sportello.inbox.clock import Clock
from sportello.inbox.db import session_scope
from sportello.inbox.models import Message, MessageFile
from sportello.inbox.polling import read_cursor, write_cursor

log = logging.getLogger(__name__)

CURSOR = "media:keep"
WINDOW = 2_000  # message ids looked at per run
PER_RUN = 20  # messages with files copied per run, at most
KEEP_FOR = timedelta(days=30)  # how far back a first run looks (WhatsApp's own 30 days)


@dataclass(frozen=True)
class Candidate:
    id: int
    channel: str
    attachments: list[dict[str, Any]]


def expiring(connectors: Mapping[str, Connector]) -> dict[str, Connector]:
    """The connectors whose platform lets customers' files expire."""
    return {name: c for name, c in connectors.items() if c.files_expire}


def candidates(
    session: Session, channels: Collection[str], now: datetime
) -> tuple[list[Candidate], int | None]:
    """The next inbound messages with attachments on ``channels`` after the cursor, and the
    id the cursor moves to once they are done (None: it stays)."""
    newest = session.exec(select(func.max(Message.id))).one() or 0
    stored = read_cursor(session, CURSOR)
    if stored is not None:
        after = int(stored)
    else:  # a first run: the messages of the last 30 days (older files are gone anyway)
        recent = select(func.min(Message.id)).where(col(Message.received_at) >= now - KEEP_FOR)
        first: int | None = session.exec(recent).one()
        after = first - 1 if first is not None else newest
    if newest <= after:  # nothing new; a first run still sets the cursor, read once
        return [], after if stored is None else None
    upper = min(after + WINDOW, newest)
    rows = session.exec(
        select(Message.id, Message.channel, Message.attachments)
        .where(
            col(Message.id) > after,
            col(Message.id) <= upper,
            Message.direction == "in",
            col(Message.channel).in_(channels),
            cast(Message.attachments, String) != "[]",
        )
        .order_by(col(Message.id))
        .limit(PER_RUN)
    ).all()
    found = [Candidate(id_ or 0, channel, list(attachments)) for id_, channel, attachments in rows]
    if len(found) == PER_RUN:
        upper = found[-1].id
    return found, upper


async def keep_new_files(
    engine: Engine,
    connectors: Mapping[str, Connector],
    clock: Clock,
    write_lock: AbstractContextManager[Any] | None = None,
) -> int:
    """Copy the files of new inbound messages whose platform lets them expire; returns
    how many files were copied."""
    keeping = expiring(connectors)
    if not keeping:
        return 0

    def read() -> tuple[list[Candidate], int | None]:
        with session_scope(engine) as session:
            return candidates(session, keeping.keys(), clock.now())

    found, upper = await asyncio.to_thread(read)
    if upper is None:
        return 0
    copied = 0
    for candidate in found:
        fetched = await _fetch(keeping[candidate.channel], candidate)
        if fetched is None:  # the platform is down or busy: from this message, next run
            upper = candidate.id - 1
            break
        await asyncio.to_thread(_store, engine, candidate.id, fetched, write_lock)
        copied += sum(isinstance(f, Media) for f in fetched.values())

    def move() -> None:
        with write_lock or nullcontext(), session_scope(engine) as session:
            write_cursor(session, CURSOR, str(upper), clock)

    await asyncio.to_thread(move)
    return copied


async def _fetch(connector: Connector, candidate: Candidate) -> dict[int, Media | str] | None:
    """The files of a message's attachments not copied yet, by index (the reason where the
    platform will not give one); None when the platform asks to try again later."""
    fetched: dict[int, Media | str] = {}
    for index, attachment in enumerate(candidate.attachments):
        if not connector.fetches(attachment) or _settled(attachment):
            continue
        try:
            fetched[index] = await connector.media(attachment)
        except MediaError as exc:
            if exc.retryable:
                log.info("keeping the files of message %s: %s", candidate.id, exc.reason)
                return None
            fetched[index] = exc.reason
    return fetched


def _settled(attachment: Mapping[str, Any]) -> bool:
    return "file_id" in attachment or "unavailable" in attachment


def _store(
    engine: Engine,
    message_id: int,
    fetched: Mapping[int, Media | str],
    write_lock: AbstractContextManager[Any] | None,
) -> None:
    """The copies of one message's files, and its attachments marked (a reason where the
    platform would not give one)."""
    if not fetched:
        return
    with write_lock or nullcontext(), session_scope(engine) as session:
        message = session.get(Message, message_id)
        if message is None:  # erased meanwhile
            return
        attachments = [dict(a) for a in message.attachments]
        for index, got in fetched.items():
            if _settled(attachments[index]):  # another replica's run, past its lease
                continue
            if isinstance(got, str):
                attachments[index]["unavailable"] = got
                continue
            name = attachments[index].get("name") or f"{attachments[index]['kind']}-{message_id}"
            copy = MessageFile(
                message_id=message_id, name=name, mime_type=got.mime_type, content=got.content
            )
            session.add(copy)
            session.flush()
            attachments[index]["file_id"] = copy.id
        message.attachments = attachments
