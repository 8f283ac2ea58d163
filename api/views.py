"""Table rows into the API's JSON shapes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlmodel import Session, select

from sportello.api.schemas import ConversationOut, MessageOut, SentimentOut
from sportello.inbox.models import Conversation, ConversationTag, Message


def message_out(message: Message) -> MessageOut:
    out = MessageOut.model_validate(message)
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


def conversations_out(session: Session, rows: Sequence[Conversation]) -> list[ConversationOut]:
    tags = tags_of(session, [c.id for c in rows if c.id is not None])
    result = []
    for conversation in rows:
        out = ConversationOut.model_validate(conversation)
        out.tags = sorted(tags.get(conversation.id or 0, []))
        result.append(out)
    return result
