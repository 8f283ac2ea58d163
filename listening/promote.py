"""Promote a mention to a conversation, so an agent can answer the person in public."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox.conversations import set_status
from sportello.inbox.ingest import Scorer, find_message, ingest
from sportello.inbox.models import Conversation
from sportello.listening.models import Mention
from sportello.listening.relabel import relabel_message


class NotPromotable(Exception):
    """The mention has nobody we can answer (e.g. a news article in a feed)."""


def promote(
    session: Session, mention: Mention, *, now: datetime, scorer: Scorer | None, actor: str
) -> Conversation:
    """The conversation of an X mention, created through the normal ingest path if new.

    The post becomes the customer's inbound message of a public conversation on ``x``
    (thread = the post's X conversation), so a reply goes out as a public reply.
    """
    if mention.source != "x" or not mention.author_id:
        raise NotPromotable(
            f"a {mention.source} mention has no author reachable on a channel; "
            "only posts on X can be answered from sportello"
        )
    message = find_message(session, "x", mention.external_id)
    if message is None:
        event = InboundMessage(
            channel="x",
            external_id=mention.external_id,
            thread=Thread(
                external_id=mention.thread_external_id or mention.external_id,
                public=True,
                title=f"@{mention.author_handle}" if mention.author_handle else None,
            ),
            customer=Person(
                external_id=mention.author_id,
                display_name=mention.author_name,
                handle=mention.author_handle,
            ),
            sent_at=mention.published_at,
            text=mention.text,
        )
        ingested = ingest(session, [event], now=now, scorer=scorer)
        message, conversation = ingested.new_messages[0]
    else:
        found = session.get(Conversation, message.conversation_id)
        assert found is not None
        conversation = found
    if mention.sentiment_corrected and mention.sentiment_label is not None:
        relabel_message(session, message, mention.sentiment_label, mention.sentiment_compound)
    if conversation.status != "open":
        set_status(session, conversation, "open", now, actor)
    mention.message_id, mention.conversation_id = message.id, conversation.id
    return conversation
