"""Table rows into the API's JSON shapes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from sportello.api.attachments import content_url
from sportello.api.schemas import ConversationOut, MessageOut, SentimentOut
from sportello.connectors.registry import connector_class
from sportello.inbox.models import Conversation, ConversationTag, Customer, Message

PREVIEW_CHARS = 140


def message_out(message: Message) -> MessageOut:
    out = MessageOut.model_validate(message)
    if message.id is not None and out.attachments:
        connector = connector_class(message.channel)
        out.attachments = [
            {**a, "content_url": content_url(message.id, i)}
            if "file_id" in a or (connector is not None and connector.fetches(a))
            else a
            for i, a in enumerate(out.attachments)
        ]
    if message.sentiment_compound is not None and message.sentiment_label is not None:
        out.sentiment = SentimentOut(
            compound=message.sentiment_compound,
            label=message.sentiment_label,  # type: ignore[arg-type]
            language=message.sentiment_language,
            corrected=message.sentiment_corrected,
        )
    return out


def tags_of(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if ids:
        rows = session.exec(
            select(ConversationTag).where(ConversationTag.conversation_id.in_(ids))  # type: ignore[attr-defined]
        )
        for row in rows:
            found[row.conversation_id].append(row.tag)
    return found


def customer_names(session: Session, ids: Iterable[int]) -> dict[int, str | None]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.exec(select(Customer).where(col(Customer.id).in_(wanted)))
    return {c.id or 0: c.display_name for c in rows}


def last_texts(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """The newest message's text of each conversation, for list previews."""
    if not ids:
        return {}
    newest = (
        select(func.max(Message.id))
        .where(col(Message.conversation_id).in_(ids))
        .group_by(col(Message.conversation_id))
    )
    rows = session.exec(select(Message).where(col(Message.id).in_(newest)))
    return {m.conversation_id: _preview(m) for m in rows}


def _preview(message: Message) -> str:
    """The text, or what a message without one carries (``[image]``)."""
    if message.text:
        return message.text[:PREVIEW_CHARS]
    return " ".join(f"[{a.get('kind', 'file')}]" for a in message.attachments)


def conversations_out(session: Session, rows: Sequence[Conversation]) -> list[ConversationOut]:
    ids = [c.id for c in rows if c.id is not None]
    tags = tags_of(session, ids)
    names = customer_names(session, (c.customer_id for c in rows))
    previews = last_texts(session, ids)
    result = []
    for conversation in rows:
        out = ConversationOut.model_validate(conversation)
        out.tags = sorted(tags.get(conversation.id or 0, []))
        out.customer_name = names.get(conversation.customer_id)
        out.last_message = previews.get(conversation.id or 0)
        result.append(out)
    return result
