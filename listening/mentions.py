"""Storing mentions: once per (source, external id), scored, from any source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, or_
from sqlmodel import Session, col, select

from sportello.connectors.mentions import FoundMention
from sportello.inbox.erasure import Scope
from sportello.inbox.ingest import Ingested
from sportello.listening.models import Mention
from sportello.sentiment import SentimentService

INBOX_QUERY = "inbox"


def find_mention(session: Session, source: str, external_id: str) -> Mention | None:
    return session.exec(
        select(Mention).where(Mention.source == source, Mention.external_id == external_id)
    ).first()


def store_mention(
    session: Session,
    found: FoundMention,
    *,
    topic: str,
    query: str | None,
    now: datetime,
    sentiment: SentimentService,
    delivery_id: int | None = None,
) -> Mention | None:
    """Store ``found`` unless it is known; returns the new mention or ``None``."""
    if find_mention(session, found.source, found.external_id) is not None:
        return None
    forced = found.language if found.language in sentiment.languages else None
    scored = sentiment.score(found.text, language=forced)
    mention = Mention(
        source=found.source,
        external_id=found.external_id,
        topic=topic,
        query=query,
        author_id=found.author_id,
        author_handle=found.author_handle,
        author_name=found.author_name,
        title=found.title,
        text=found.text,
        link=found.link,
        thread_external_id=found.thread_external_id,
        language=scored.language if scored else found.language,
        published_at=found.published_at,
        fetched_at=now,
        sentiment_compound=scored.compound if scored else None,
        sentiment_label=scored.label if scored else None,
        delivery_id=delivery_id,
    )
    session.add(mention)
    session.flush()
    return mention


def store_public_tweets(session: Session, ingested: Ingested) -> None:
    """Pipeline hook: a public post at the brand that reached the inbox is a mention too.

    Its sentiment is the message's (already scored); it links back to the message and
    the conversation, so it needs no promotion.
    """
    for message, conversation in ingested.new_messages:
        if not (conversation.public and message.channel == "x" and message.direction == "in"):
            continue
        if not message.external_id:
            continue
        existing = find_mention(session, "x", message.external_id)
        if existing is not None:  # found by search first: link it to the conversation
            existing.message_id, existing.conversation_id = message.id, conversation.id
            continue
        identity_handle, identity_name = _author(session, message.identity_id)
        session.add(
            Mention(
                source="x",
                external_id=message.external_id,
                topic="brand",
                query=INBOX_QUERY,
                author_id=conversation.recipient_external_id,
                author_handle=identity_handle,
                author_name=identity_name,
                text=message.text,
                link=f"https://x.com/{identity_handle or 'i/web'}/status/{message.external_id}",
                thread_external_id=conversation.thread_external_id,
                language=message.sentiment_language,
                published_at=message.sent_at,
                fetched_at=message.received_at,
                sentiment_compound=message.sentiment_compound,
                sentiment_label=message.sentiment_label,
                sentiment_corrected=message.sentiment_corrected,
                message_id=message.id,
                conversation_id=conversation.id,
            )
        )


def _author(session: Session, identity_id: int | None) -> tuple[str | None, str | None]:
    from sportello.inbox.models import Identity

    identity = session.get(Identity, identity_id) if identity_id is not None else None
    return (identity.handle, identity.display_name) if identity is not None else (None, None)


def forget_mentions(session: Session, scope: Scope) -> None:
    """Erasure: mentions written by the customer or tied to their messages and conversations."""
    tied = or_(
        col(Mention.message_id).in_(scope.message_ids),
        col(Mention.conversation_id).in_(scope.conversation_ids),
    )
    authored = and_(
        col(Mention.source) == "x", col(Mention.author_id).in_(scope.needles.get("x", []))
    )
    session.exec(delete(Mention).where(or_(tied, authored)))  # type: ignore[call-overload]
