"""Human corrections of sentiment, for messages and mentions; the conversation follows.

A corrected score is never overwritten by scoring again (``inbox.ingest._apply_edit`` skips
corrected messages; mentions are scored only when first stored) and is what every figure
and alert uses.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from sportello.inbox.models import Conversation, Message
from sportello.listening.models import Mention

LABELS = ("negative", "neutral", "positive")
# The compound a bare label correction stands for; "negative" counts as clearly negative.
LABEL_COMPOUND = {"negative": -0.5, "neutral": 0.0, "positive": 0.5}


def label_of(compound: float) -> str:
    """VADER's cut-offs, shared by both analyzers."""
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


def corrected_compound(label: str, compound: float | None, current: float | None) -> float:
    """The compound to store for a correction to ``label``.

    An explicit compound must agree with the label. Without one, the current score is kept
    when it already agrees, else the label's representative value is used.
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}")
    if compound is not None:
        if not -1.0 <= compound <= 1.0:
            raise ValueError("compound must be within [-1, 1]")
        if label_of(compound) != label:
            raise ValueError(f"compound {compound} is {label_of(compound)}, not {label}")
        return compound
    if current is not None and label_of(current) == label:
        return current
    return LABEL_COMPOUND[label]


def relabel_message(
    session: Session, message: Message, label: str, compound: float | None
) -> Conversation | None:
    """Correct an inbound message's sentiment; returns its conversation, kept consistent."""
    if message.direction != "in":
        raise ValueError("only customers' messages carry a sentiment")
    value = corrected_compound(label, compound, message.sentiment_compound)
    message.sentiment_compound, message.sentiment_label = value, label
    message.sentiment_corrected = True
    for mention in session.exec(select(Mention).where(Mention.message_id == message.id)):
        _set(mention, label, value)
    session.flush()
    conversation = session.get(Conversation, message.conversation_id)
    if conversation is not None:
        refresh_conversation_sentiment(session, conversation)
    return conversation


def relabel_mention(session: Session, mention: Mention, label: str, compound: float | None) -> None:
    """Correct a mention's sentiment (and its inbox message's, when it has one)."""
    value = corrected_compound(label, compound, mention.sentiment_compound)
    _set(mention, label, value)
    if mention.message_id is not None:
        message = session.get(Message, mention.message_id)
        if message is not None:
            relabel_message(session, message, label, value)


def _set(mention: Mention, label: str, value: float) -> None:
    mention.sentiment_compound, mention.sentiment_label = value, label
    mention.sentiment_corrected = True


def refresh_conversation_sentiment(session: Session, conversation: Conversation) -> None:
    """Latest and worst score of the conversation's scored inbound messages."""
    rows = session.exec(
        select(Message.sentiment_compound)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == "in",
            col(Message.sentiment_compound).is_not(None),
        )
        .order_by(col(Message.sent_at), col(Message.id))
    ).all()
    scores = [float(value) for value in rows if value is not None]
    conversation.latest_sentiment = scores[-1] if scores else None
    conversation.worst_sentiment = min(scores) if scores else None
