"""Which customer messages are replies to a survey.

A press of a survey button (payload ``survey:<id>:<score>``) always is; a typed number is
when its conversation has a survey asked and still within its answer window; and after a
low score the customer's next message, within the comment window, says why. Ingest asks
:func:`is_survey_reply` before it moves a conversation's state, so such a message neither
reopens the conversation nor waits for a human reply; the survey hook then uses
:func:`classify` to judge and store it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from sportello.inbox.models import Conversation
from sportello.inbox.survey_tables import Survey

PAYLOAD_PREFIX = "survey:"
SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
_NUMBER = re.compile(r"\s*(\d{1,3})\s*(?:/\s*\d{1,2})?\s*[.!]?\s*")


@dataclass(frozen=True)
class SurveyReply:
    survey: Survey | None
    score: int | None
    button: bool


def button_payload(survey_id: int, score: int) -> str:
    return f"{PAYLOAD_PREFIX}{survey_id}:{score}"


def looks_like_reply(text: str | None, payload: str | None) -> bool:
    """Whether a message has the form of a survey reply (a survey button or a number)."""
    if payload is not None and payload.startswith(PAYLOAD_PREFIX):
        return True
    return _NUMBER.fullmatch(text or "") is not None


def classify(
    session: Session,
    conversation_id: int,
    text: str,
    payload: str | None,
    at: datetime,
) -> SurveyReply | None:
    """The survey this message replies to, with the score it gives; None if it is no reply."""
    if payload is not None and payload.startswith(PAYLOAD_PREFIX):
        survey_id, _, score = payload.removeprefix(PAYLOAD_PREFIX).partition(":")
        survey = session.get(Survey, int(survey_id)) if survey_id.isdigit() else None
        return SurveyReply(survey, int(score) if score.isdigit() else None, button=True)
    match = _NUMBER.fullmatch(text or "")
    if match is None:
        return None
    survey = session.exec(
        select(Survey)
        .where(
            Survey.conversation_id == conversation_id,
            col(Survey.state).in_(("sent", "answered")),
            col(Survey.asked_at) <= at,
            col(Survey.expires_at) >= at,
        )
        .order_by(col(Survey.asked_at).desc())
        .limit(1)
    ).first()
    return None if survey is None else SurveyReply(survey, int(match.group(1)), button=False)


def is_survey_reply(
    session: Session, conversation_id: int, text: str, payload: str | None, at: datetime
) -> bool:
    return classify(session, conversation_id, text, payload, at) is not None


def awaits_comment(conversation: Conversation, text: str, at: datetime) -> bool:
    """Whether a customer message with ``text`` at ``at`` is the comment a survey asked for
    (no query: the conversation says until when it waits for one)."""
    until = conversation.survey_comment_until
    return until is not None and at <= until and bool(text.strip())
