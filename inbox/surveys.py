"""Satisfaction surveys asked in the chat after a resolution, and their answers.

:func:`run_surveys` (a scheduler job, idempotent) first gives every new resolution its one
:class:`Survey` row (unique per resolution event), sampled or skipped, then asks those due
through the outbox as an automatic (``bot``) message with the channel's native buttons, or
asking for a typed number where the channel has none. :class:`SurveyAnswers` is the
pipeline hook that stores the answers, thanks the customer, and re-asks once after an
answer off the scale.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from sqlalchemy import Engine, delete, or_
from sqlmodel import Session, col, select

from sportello.config.settings import Settings, SurveySettings, parse_duration
from sportello.connectors.base import Button
from sportello.inbox import outbox
from sportello.inbox.auto_resolve import ACTOR as AUTO_RESOLVED_BY
from sportello.inbox.batches import in_batches
from sportello.inbox.clock import Clock
from sportello.inbox.db import session_scope
from sportello.inbox.models import Conversation, ConversationEvent, Customer, Message
from sportello.inbox.survey_replies import (
    SCALES,
    awaits_comment,
    button_payload,
    classify,
    looks_like_reply,
)
from sportello.inbox.survey_tables import Survey, SurveyResponse
from sportello.inbox.upsert import insert_ignore_many

if TYPE_CHECKING:
    from sportello.inbox.ingest import Ingested

log = logging.getLogger(__name__)

# How many native answer buttons each channel can show (Telegram inline keyboard rows,
# WhatsApp list rows, Messenger quick replies); a scale that does not fit is typed instead.
BUTTON_LIMITS = {"telegram": 100, "whatsapp": 10, "messenger": 13}
WINDOW_CHANNELS = frozenset({"whatsapp", "messenger"})  # free-form only 24h after the customer
MESSAGING_WINDOW = timedelta(hours=24)
LOOKBACK = timedelta(days=1)  # resolutions older than delay + this are never surveyed
PART = 20  # surveys written per transaction of a round
BUDGET_S = 10.0  # per step of a round; what is left waits for the next round
T = TypeVar("T")

QUESTIONS: dict[str, dict[str, str]] = {
    "csat": {
        "it": "Come valuti l'assistenza che hai ricevuto? Rispondi da 1 (pessima) a 5 (ottima).",
        "en": "How would you rate the help you received? Answer from 1 (poor) to 5 (excellent).",
    },
    "nps": {
        "it": "Quanto è probabile che ci consigli a un amico? Rispondi da 0 (per nulla) "
        "a 10 (certamente).",
        "en": "How likely are you to recommend us to a friend? Answer from 0 (not at all) "
        "to 10 (extremely likely).",
    },
    "ces": {
        "it": "Quanto è stato facile risolvere il tuo problema? Rispondi da 1 (molto difficile) "
        "a 7 (molto facile).",
        "en": "How easy was it to get your problem solved? Answer from 1 (very difficult) "
        "to 7 (very easy).",
    },
}
THANKS = {"it": "Grazie per la tua risposta!", "en": "Thank you for your answer!"}
# After a low score: asked why, once; the customer's next message is the answer.
LOW_SCORES = {"csat": 3, "nps": 6, "ces": 3}  # at most: not satisfied, detractor, hard
COMMENT_QUESTION = {
    "it": "Grazie per la risposta. Cosa avremmo potuto fare meglio? Scrivicelo qui.",
    "en": "Thank you for your answer. What could we have done better? Tell us here.",
}
COMMENT_THANKS = {
    "it": "Grazie, lo terremo presente.",
    "en": "Thank you, we will take it to heart.",
}
REASK = {
    "it": "Non ho capito il voto: rispondi con un numero da {low} a {high}.",
    "en": "Sorry, I did not get that: please answer with a number from {low} to {high}.",
}


# asking ----------------------------------------------------------------------------------


def run_surveys(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    write_lock: AbstractContextManager[Any] | None = None,
    budget_s: float = BUDGET_S,
) -> int:
    """One round of the scheduler job; returns how many surveys were sent.

    It writes :data:`PART` surveys per transaction, each under ``write_lock``, scheduling
    and then asking for at most about ``budget_s`` each (the next round goes on): the first
    round over a day of resolutions (surveys just switched on, or after an outage) wrote
    them all in one transaction, which held SQLite's one writer, and the webhooks' answers,
    for 0.1-0.26 s at 1M messages (docs/benchmarks.md, session 27).
    """

    def in_part(work: Callable[[Session], T]) -> T:
        with write_lock or nullcontext(), session_scope(engine) as session:
            return work(session)

    def schedule_part() -> int:
        return in_part(lambda session: schedule(session, settings.surveys, now, limit=PART))

    sent: list[int] = []

    def ask_part() -> int:
        asked = in_part(lambda session: ask_due(session, settings, now, limit=PART))
        sent.append(asked.sent)
        return asked.due

    in_batches(schedule_part, PART, budget_s=budget_s)
    in_batches(ask_part, PART, budget_s=budget_s)
    return sum(sent)


def sampled(resolution_event_id: int, rate: float) -> bool:
    """A stable draw per resolution, so a second run of the job decides the same."""
    digest = hashlib.sha256(f"survey:{resolution_event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def schedule(
    session: Session, config: SurveySettings, now: datetime, limit: int | None = None
) -> int:
    """Give the recent resolutions without one their survey row, the oldest first and at
    most ``limit``; returns how many were added (one that another replica wrote first is
    not)."""
    delay = timedelta(seconds=parse_duration(config.delay))
    rows = session.exec(
        select(ConversationEvent, Conversation)
        .join(Conversation, col(Conversation.id) == col(ConversationEvent.conversation_id))
        .outerjoin(Survey, col(Survey.resolution_event_id) == col(ConversationEvent.id))
        .where(
            ConversationEvent.kind == "resolved",
            col(ConversationEvent.at) >= now - delay - LOOKBACK,
            col(Survey.id).is_(None),
        )
        # In time order, so that the time index finds them: in id order SQLite walked
        # every event ever written (tests/test_survey_plan.py).
        .order_by(col(ConversationEvent.at), col(ConversationEvent.id))
        .limit(limit)
    ).all()
    new = [_survey(event, conversation, config, delay) for event, conversation in rows]
    return len(insert_ignore_many(session, Survey, new, ("resolution_event_id",)))


def _survey(
    event: ConversationEvent, conversation: Conversation, config: SurveySettings, delay: timedelta
) -> dict[str, Any]:
    assert event.id is not None and conversation.id is not None
    reason = _not_surveyed(conversation, config, event)
    return {
        "conversation_id": conversation.id,
        "resolution_event_id": event.id,
        "customer_id": conversation.customer_id,
        "channel": conversation.channel,
        "assignee": conversation.assignee,
        "kind": config.kind,
        "state": "scheduled" if reason is None else "skipped",
        "skip_reason": reason,
        "resolved_at": event.at,
        "due_at": event.at + delay,
    }


def _not_surveyed(
    conversation: Conversation, config: SurveySettings, event: ConversationEvent
) -> str | None:
    assert event.id is not None
    if event.actor == AUTO_RESOLVED_BY:
        return "resolved automatically"
    if conversation.channel not in config.channels:
        return "channel not surveyed"
    if conversation.is_group or conversation.public:
        return "not a private conversation"
    if not sampled(event.id, config.sample_rate):
        return "not sampled"
    return None


class Asked(NamedTuple):
    due: int  # the surveys found due: each was sent or skipped
    sent: int


def ask_due(session: Session, settings: Settings, now: datetime, limit: int | None = None) -> Asked:
    """Send the surveys that are due, or skip them with the reason; the earliest due first
    and at most ``limit``."""
    config = settings.surveys
    window = timedelta(seconds=parse_duration(config.answer_window))
    due = session.exec(
        select(Survey, Conversation, Customer)
        .join(Conversation, col(Conversation.id) == col(Survey.conversation_id))
        .join(Customer, col(Customer.id) == col(Survey.customer_id))
        .where(Survey.state == "scheduled", col(Survey.due_at) <= now)
        .order_by(col(Survey.due_at), col(Survey.id))
        .limit(limit)
    ).all()
    sent = 0
    for survey, conversation, customer in due:
        reason = _cannot_ask(survey, conversation, now)
        if reason is not None:
            survey.state, survey.skip_reason = "skipped", reason
            continue
        language = _language(customer, settings)
        text = _text(config.text, QUESTIONS[survey.kind], language, customer)
        message = outbox.queue(
            session,
            conversation,
            text,
            now=now,
            author="bot",
            purpose="survey",
            buttons=_buttons(survey),
        )
        survey.state = "sent"
        survey.asked_at, survey.expires_at = now, now + window
        survey.question_message_id = message.id
        sent += 1
    return Asked(len(due), sent)


def _cannot_ask(survey: Survey, conversation: Conversation, now: datetime) -> str | None:
    if conversation.status != "resolved" or conversation.resolved_at != survey.resolved_at:
        return "conversation reopened before asking"
    if survey.channel in WINDOW_CHANNELS:
        last = conversation.last_customer_message_at
        if last is None or now - last > MESSAGING_WINDOW:
            return "messaging window closed (24h after the customer's last message)"
    return None


def _buttons(survey: Survey) -> tuple[Button, ...]:
    assert survey.id is not None
    low, high = SCALES[survey.kind]
    if high - low + 1 > BUTTON_LIMITS.get(survey.channel, 0):
        return ()
    return tuple(Button(str(n), button_payload(survey.id, n)) for n in range(low, high + 1))


def _language(customer: Customer, settings: Settings) -> str:
    return (customer.language or settings.brand.default_language or "en")[:2].lower()


def _text(
    configured: dict[str, str], defaults: dict[str, str], language: str, customer: Customer
) -> str:
    text = (
        configured.get(language)
        or defaults.get(language)
        or next(iter(configured.values()), None)
        or defaults["en"]
    )
    return text.replace("{name}", customer.display_name or "")


# answers ---------------------------------------------------------------------------------


class SurveyAnswers:
    """The pipeline hook: recognise survey replies among the new customer messages."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    def __call__(self, session: Session, ingested: Ingested) -> None:
        for message, conversation in ingested.new_messages:
            if message.direction != "in":
                continue
            if looks_like_reply(message.text, message.button_payload):
                handle = self._handle
            elif awaits_comment(conversation, message.text, message.sent_at):
                handle = self._comment
            else:
                continue  # no savepoint (and its flush) for the messages that cannot be one
            try:
                with session.begin_nested():
                    handle(session, message, conversation)
            except Exception:  # a bad reply must never lose the customer's message
                log.exception("survey reply in message %s could not be handled", message.id)

    def _comment(self, session: Session, message: Message, conversation: Conversation) -> None:
        """The customer says why they gave a low score: kept with the survey, thanked."""
        assert conversation.id is not None and message.id is not None
        conversation.survey_comment_until = None  # one message is the comment
        survey = session.exec(
            select(Survey)
            .where(
                Survey.conversation_id == conversation.id,
                col(Survey.comment_asked_at).is_not(None),
                col(Survey.comment).is_(None),
            )
            .order_by(col(Survey.comment_asked_at).desc())
            .limit(1)
        ).first()
        if survey is None:
            return
        survey.comment, survey.commented_at = message.text.strip(), message.sent_at
        survey.comment_message_id = message.id
        session.add(SurveyResponse(message_id=message.id, survey_id=survey.id, outcome="comment"))
        customer = session.get(Customer, conversation.customer_id)
        assert customer is not None
        config = self.settings.surveys
        text = _text(
            config.comment_thanks, COMMENT_THANKS, _language(customer, self.settings), customer
        )
        outbox.queue(
            session, conversation, text, now=self.clock.now(), author="bot", purpose="survey"
        )

    def _handle(self, session: Session, message: Message, conversation: Conversation) -> None:
        assert conversation.id is not None and message.id is not None
        reply = classify(
            session, conversation.id, message.text, message.button_payload, message.sent_at
        )
        if reply is None:
            return
        survey = reply.survey
        if survey is not None and survey.conversation_id != conversation.id:
            survey = None
        outcome = self._outcome(survey, reply.score, message.sent_at)
        session.add(
            SurveyResponse(
                message_id=message.id,
                survey_id=survey.id if survey is not None else None,
                score=reply.score,
                outcome=outcome,
            )
        )
        if survey is None:
            return
        customer = session.get(Customer, conversation.customer_id)
        assert customer is not None
        language = _language(customer, self.settings)
        config = self.settings.surveys
        now = self.clock.now()
        if outcome == "stored":
            survey.state, survey.score = "answered", reply.score
            survey.answered_at, survey.answer_message_id = message.sent_at, message.id
            if asks_why(config.comment, survey.kind, reply.score):
                text = _text(config.comment_question, COMMENT_QUESTION, language, customer)
                survey.comment_asked_at = now
                window = timedelta(seconds=parse_duration(config.comment_window))
                conversation.survey_comment_until = now + window
            else:
                text = _text(config.thanks, THANKS, language, customer)
            outbox.queue(session, conversation, text, now=now, author="bot", purpose="survey")
        elif outcome == "off the scale" and not survey.reasked:
            survey.reasked = True
            low, high = SCALES[survey.kind]
            text = _text(config.reask, REASK, language, customer)
            text = text.replace("{low}", str(low)).replace("{high}", str(high))
            outbox.queue(
                session,
                conversation,
                text,
                now=now,
                author="bot",
                purpose="survey",
                buttons=_buttons(survey),
            )

    @staticmethod
    def _outcome(survey: Survey | None, score: int | None, at: datetime) -> str:
        if survey is None:
            return "unknown survey"
        if survey.state == "answered":
            return "already answered"
        if survey.state != "sent" or survey.expires_at is None:
            return "not asked"
        if at > survey.expires_at:
            return "late"
        low, high = SCALES[survey.kind]
        if score is None or not low <= score <= high:
            return "off the scale"
        return "stored"


def asks_why(when: str, kind: str, score: int | None) -> bool:
    """Whether a survey answered with ``score`` asks the customer why (``[surveys].comment``)."""
    if when == "off" or score is None:
        return False
    return when == "all" or score <= LOW_SCORES[kind]


def forget(
    session: Session,
    customer_ids: Sequence[int],
    conversation_ids: Sequence[int],
    message_ids: Sequence[int],
) -> None:
    """Erasure: the surveys and answers of these customers, conversations and messages."""
    surveys = select(Survey.id).where(
        or_(
            col(Survey.customer_id).in_(customer_ids),
            col(Survey.conversation_id).in_(conversation_ids),
        )
    )
    session.exec(  # type: ignore[call-overload]
        delete(SurveyResponse).where(
            or_(
                col(SurveyResponse.message_id).in_(message_ids),
                col(SurveyResponse.survey_id).in_(surveys),
            )
        )
    )
    session.exec(delete(Survey).where(col(Survey.id).in_(surveys)))  # type: ignore[call-overload]
