"""Surveys in the chat: scheduling, asking, recognising answers, and their KPIs."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from kpi_fixtures import Inbox, office_hours, rome
from plan_helpers import Writes, write_transactions
from sqlalchemy import Engine
from sqlmodel import col, func, select

from sportello.config.settings import Settings, load_settings
from sportello.inbox import surveys
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.metrics import KpiQuery, compute_kpis
from sportello.inbox.metrics.comments import survey_comments
from sportello.inbox.models import Conversation, ConversationEvent, Message, OutboxItem
from sportello.inbox.survey_replies import SCALES
from sportello.inbox.survey_tables import Survey, SurveyResponse
from sportello.inbox.surveys import SurveyAnswers, asks_why, run_surveys


def _settings(database_url: str, **surveys: object) -> Settings:
    config = {"enabled": True, "kind": "csat", "delay": "10m", **surveys}
    return load_settings(None, database={"url": database_url}, surveys=config)


def _resolved(
    engine: Engine,
    channel: str,
    user: str,
    *,
    at: datetime | None = None,
    language: str | None = "it",
) -> int:
    """A conversation answered and resolved at 10:00 on Wed 9 Dec; returns its id."""
    at = at or rome(12, 9, 9, 50)
    with session_scope(engine) as session:
        inbox = Inbox(session)
        conversation = inbox.customer(channel, user, at, language=language).new_messages[0][1]
        inbox.reply(conversation, at + timedelta(minutes=5))
        inbox.status(conversation, "resolved", at + timedelta(minutes=10))
        assert conversation.id is not None
        return conversation.id


def _answer(
    engine: Engine,
    settings: Settings,
    channel: str,
    user: str,
    at: datetime,
    text: str = "",
    payload: str | None = None,
) -> int:
    with session_scope(engine) as session:
        ingested = Inbox(session).customer(channel, user, at, text, button_payload=payload)
        SurveyAnswers(settings, FrozenClock(at))(session, ingested)
        message_id = ingested.new_messages[0][0].id
        assert message_id is not None
        return message_id


def _survey(engine: Engine, conversation_id: int) -> Survey:
    with session_scope(engine) as session:
        return session.exec(select(Survey).where(Survey.conversation_id == conversation_id)).one()


def _bot_texts(engine: Engine, conversation_id: int) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Message.text)
                .where(Message.conversation_id == conversation_id, Message.author == "bot")
                .order_by(col(Message.id))
            )
        )


def test_asked_once_after_the_delay_with_buttons(engine: Engine, database_url: str) -> None:
    settings = _settings(database_url)
    conversation_id = _resolved(engine, "telegram", "2001")
    assert run_surveys(engine, settings, rome(12, 9, 10, 5)) == 0  # not due yet
    assert _survey(engine, conversation_id).state == "scheduled"
    assert run_surveys(engine, settings, rome(12, 9, 10, 10)) == 1
    assert run_surveys(engine, settings, rome(12, 9, 10, 11)) == 0  # idempotent
    survey = _survey(engine, conversation_id)
    assert survey.state == "sent" and survey.asked_at == rome(12, 9, 10, 10)
    assert survey.expires_at == rome(12, 10, 10, 10)
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Survey)).one() == 1
        item = session.exec(select(OutboxItem)).all()[-1]
        question = session.get(Message, item.message_id)
    assert question is not None
    assert question.author == "bot" and question.text.startswith("Come valuti")
    assert item.payload["purpose"] == "survey"
    assert [b["payload"] for b in item.payload["buttons"]] == [
        f"survey:{survey.id}:{n}" for n in range(1, 6)
    ]


def test_button_answer_is_stored_thanked_and_reopens_nothing(
    engine: Engine, database_url: str
) -> None:
    settings = _settings(database_url)
    conversation_id = _resolved(engine, "telegram", "2002")
    run_surveys(engine, settings, rome(12, 9, 10, 10))
    survey = _survey(engine, conversation_id)
    message_id = _answer(
        engine, settings, "telegram", "2002", rome(12, 9, 10, 12), "4", f"survey:{survey.id}:4"
    )
    survey = _survey(engine, conversation_id)
    assert (survey.state, survey.score, survey.answer_message_id) == ("answered", 4, message_id)
    assert survey.assignee is None and survey.channel == "telegram"
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.status == "resolved" and conversation.waiting_since is None
        kinds = session.exec(
            select(ConversationEvent.kind).where(
                ConversationEvent.conversation_id == conversation_id
            )
        ).all()
        assert kinds == ["opened", "resolved"]
        response = session.get(SurveyResponse, message_id)
        assert response is not None and response.outcome == "stored"
    assert _bot_texts(engine, conversation_id)[-1] == "Grazie per la tua risposta!"
    # the same button pressed again: kept as a response, not as a second score
    again = _answer(
        engine, settings, "telegram", "2002", rome(12, 9, 10, 13), "5", f"survey:{survey.id}:5"
    )
    with session_scope(engine) as session:
        response = session.get(SurveyResponse, again)
        assert response is not None and response.outcome == "already answered"
    assert _survey(engine, conversation_id).score == 4


def test_typed_number_on_x_with_one_gentle_reask(engine: Engine, database_url: str) -> None:
    settings = _settings(database_url, kind="nps")
    conversation_id = _resolved(engine, "x", "3001", language="en")
    run_surveys(engine, settings, rome(12, 9, 10, 10))
    assert "0 (not at all)" in _bot_texts(engine, conversation_id)[0]
    with session_scope(engine) as session:
        assert session.exec(select(OutboxItem)).all()[-1].payload["buttons"] == []
    _answer(engine, settings, "x", "3001", rome(12, 9, 11), "12")
    _answer(engine, settings, "x", "3001", rome(12, 9, 11, 1), "11")
    texts = _bot_texts(engine, conversation_id)
    assert len(texts) == 2 and texts[1].startswith("Sorry") and "0 to 10" in texts[1]
    _answer(engine, settings, "x", "3001", rome(12, 9, 11, 2), " 9/10 ")
    survey = _survey(engine, conversation_id)
    assert (survey.state, survey.score) == ("answered", 9)
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "resolved"
        outcomes = session.exec(select(SurveyResponse.outcome).order_by("message_id")).all()
    assert outcomes == ["off the scale", "off the scale", "stored"]
    # words are a real message: the conversation comes back
    _answer(engine, settings, "x", "3001", rome(12, 9, 11, 5), "actually I have another issue")
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "open"


def test_late_answers_are_not_scores(engine: Engine, database_url: str) -> None:
    settings = _settings(database_url, answer_window="1h")
    conversation_id = _resolved(engine, "telegram", "2003")
    run_surveys(engine, settings, rome(12, 9, 10, 10))
    survey = _survey(engine, conversation_id)
    late = _answer(
        engine, settings, "telegram", "2003", rome(12, 9, 12), "5", f"survey:{survey.id}:5"
    )
    nonsense = _answer(engine, settings, "telegram", "2003", rome(12, 9, 12, 1), "x", "survey:zz")
    with session_scope(engine) as session:
        late_response = session.get(SurveyResponse, late)
        assert late_response is not None and late_response.outcome == "late"
        nonsense_response = session.get(SurveyResponse, nonsense)
        assert nonsense_response is not None and nonsense_response.outcome == "unknown survey"
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "resolved"
    assert _survey(engine, conversation_id).score is None
    # a typed number after the window is an ordinary message
    _answer(engine, settings, "telegram", "2003", rome(12, 9, 12, 5), "3")
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "open"


def test_skips_are_recorded_with_their_reason(engine: Engine, database_url: str) -> None:
    settings = _settings(database_url, delay="2d")
    # WhatsApp: asked two days after the customer's last message, outside the 24h window
    whatsapp = _resolved(engine, "whatsapp", "393330000001")
    reopened = _resolved(engine, "telegram", "2004")
    with session_scope(engine) as session:
        Inbox(session).customer("telegram", "2004", rome(12, 10, 9), "ancora io")
    run_surveys(engine, settings, rome(12, 11, 10, 0))
    skip_reason = _survey(engine, whatsapp).skip_reason
    assert skip_reason is not None and skip_reason.startswith("messaging window closed")
    assert _survey(engine, reopened).skip_reason == "conversation reopened before asking"
    unsampled = _resolved(engine, "telegram", "2005")
    run_surveys(engine, _settings(database_url, sample_rate=0.0), rome(12, 9, 10, 30))
    assert _survey(engine, unsampled).skip_reason == "not sampled"
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(OutboxItem)).one() == 3  # replies


def test_survey_kpis_and_answers_are_not_waits(engine: Engine, database_url: str) -> None:
    """CSAT 5, 4, 2 -> 3.67, 2 of 3 satisfied; NPS 10, 9, 7, 3 -> (2 - 1) / 4 = 25;
    CES 6 of 2 asked -> 50% response rate."""
    plan: list[tuple[str, list[int | None]]] = [
        ("csat", [5, 4, 2]),
        ("nps", [10, 9, 7, 3]),
        ("ces", [6, None]),
    ]
    user = 4000
    for kind, scores in plan:
        settings = _settings(database_url, kind=kind)
        for score in scores:
            user += 1
            conversation_id = _resolved(engine, "telegram", str(user))
            run_surveys(engine, settings, rome(12, 9, 10, 10))
            if score is not None:
                survey = _survey(engine, conversation_id)
                payload = f"survey:{survey.id}:{score}"
                _answer(engine, settings, "telegram", str(user), rome(12, 9, 10, 20), "", payload)
    calendar = office_hours()
    query = KpiQuery(
        start=rome(12, 9, 0), end=rome(12, 10, 0), now=rome(12, 20, 0), calendar=calendar
    )
    with session_scope(engine) as session:
        report = compute_kpis(session, query)
    assert report["csat"]["avg"] == pytest.approx(11 / 3)
    assert report["csat"]["satisfied_pct"] == pytest.approx(200 / 3)
    assert (report["csat"]["responses"], report["csat"]["asked"]) == (3, 3)
    assert report["nps"]["score"] == 25.0
    assert (report["nps"]["promoters"], report["nps"]["detractors"]) == (2, 1)
    assert report["ces"] == {"avg": 6.0, "responses": 1, "asked": 2, "response_rate": 50.0}
    # nine conversations, each one 5-minute wait; the survey answers add none
    assert report["reply_time"]["count"] == 9 and report["reply_time"]["avg_s"] == 300
    assert report["waiting_for_reply"] == 0 and report["backlog"] == 0
    assert report["first_contact_resolution_rate"] == 100.0
    days = {d["date"]: d for d in report["volume_by_day"]}
    assert days["2026-12-09"]["csat_responses"] == 3


@pytest.mark.parametrize(
    ("channel", "kind", "buttons"),
    [("whatsapp", "nps", 0), ("messenger", "nps", 11), ("whatsapp", "ces", 7), ("x", "csat", 0)],
)
def test_buttons_only_where_the_scale_fits_the_channel(
    engine: Engine, database_url: str, channel: str, kind: str, buttons: int
) -> None:
    """WhatsApp lists hold 10 rows: an 11-point NPS is asked as a typed number there."""
    settings = _settings(database_url, kind=kind)
    _resolved(engine, channel, "2101")
    assert run_surveys(engine, settings, rome(12, 9, 10, 10)) == 1
    with session_scope(engine) as session:
        item = session.exec(select(OutboxItem)).all()[-1]
    assert len(item.payload["buttons"]) == buttons


def test_a_round_over_many_resolutions_writes_a_few_surveys_per_transaction(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a transaction holds the one writer, and the webhooks' answers, until its end:
    the first round over a day of resolutions wrote them all in one (docs/benchmarks.md,
    session 27)."""
    monkeypatch.setattr(surveys, "PART", 3)
    settings = _settings(database_url)
    resolved = [_resolved(engine, "telegram", f"30{n}") for n in range(7)]
    lock = CountingLock()
    with write_transactions(engine) as transactions:
        sent = run_surveys(engine, settings, rome(12, 9, 10, 10), write_lock=lock)
    assert sent == 7 and run_surveys(engine, settings, rome(12, 9, 10, 11)) == 0
    assert {_survey(engine, c).state for c in resolved} == {"sent"}
    per_transaction = [
        (_rows(writes, "INSERT INTO surveys"), _rows(writes, "INSERT INTO outbox"))
        for writes in transactions
    ]
    assert [added for added, _ in per_transaction if added] == [3, 3, 1]
    assert [asked for _, asked in per_transaction if asked] == [3, 3, 1]
    assert lock.entered == len(transactions) == 6  # each part under the lock


class CountingLock:
    def __init__(self) -> None:
        self.entered = 0

    def __enter__(self) -> None:
        self.entered += 1

    def __exit__(self, *_: object) -> None:
        pass


def _rows(writes: Writes, prefix: str) -> int:
    return sum(len(params) for statement, params in writes if statement.startswith(prefix))


def test_a_round_stops_at_its_budget_and_the_next_one_goes_on(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(surveys, "PART", 3)
    settings = _settings(database_url)
    resolved = [_resolved(engine, "telegram", f"31{n}") for n in range(5)]
    at = rome(12, 9, 10, 10)
    assert run_surveys(engine, settings, at, budget_s=0) == 3  # one part of each step
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Survey)).one() == 3
    assert run_surveys(engine, settings, at + timedelta(seconds=5), budget_s=0) == 2
    assert {_survey(engine, c).state for c in resolved} == {"sent"}


def _conversation(engine: Engine, conversation_id: int) -> Conversation:
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        session.expunge(conversation)
        return conversation


def test_a_low_score_asks_why_and_keeps_the_answer_without_reopening(
    engine: Engine, database_url: str
) -> None:
    settings = _settings(database_url, comment_window="30m")
    conversation_id = _resolved(engine, "telegram", "2101")
    run_surveys(engine, settings, rome(12, 9, 10, 10))
    survey = _survey(engine, conversation_id)
    _answer(engine, settings, "telegram", "2101", rome(12, 9, 10, 12), "2", f"survey:{survey.id}:2")
    assert _bot_texts(engine, conversation_id)[-1].startswith("Grazie per la risposta. Cosa")
    survey = _survey(engine, conversation_id)
    assert survey.score == 2 and survey.comment_asked_at is not None
    why = "Ho aspettato tre giorni e nessuno mi ha richiamato"
    message_id = _answer(engine, settings, "telegram", "2101", rome(12, 9, 10, 20), why)
    survey = _survey(engine, conversation_id)
    assert (survey.comment, survey.comment_message_id) == (why, message_id)
    assert survey.commented_at == rome(12, 9, 10, 20)
    conversation = _conversation(engine, conversation_id)
    assert conversation.status == "resolved" and conversation.waiting_since is None
    assert conversation.survey_comment_until is None  # one message is the comment
    assert _bot_texts(engine, conversation_id)[-1] == "Grazie, lo terremo presente."
    with session_scope(engine) as session:
        response = session.get(SurveyResponse, message_id)
        assert response is not None and response.outcome == "comment"
    # the next message is the customer's again: the conversation comes back
    _answer(engine, settings, "telegram", "2101", rome(12, 9, 10, 22), "E il rimborso?")
    assert _conversation(engine, conversation_id).status == "open"
    assert _survey(engine, conversation_id).comment == why
    # the reports list it, with the report's filters
    december = KpiQuery(rome(12, 1, 0), rome(12, 31, 0), rome(12, 20, 12), office_hours())
    with session_scope(engine) as session:
        (listed,) = survey_comments(session, december, 10)
        assert survey_comments(session, replace(december, channel="whatsapp"), 10) == []
    assert (listed["comment"], listed["score"], listed["kind"]) == (why, 2, "csat")
    assert listed["conversation_id"] == conversation_id and listed["channel"] == "telegram"


def test_no_comment_asked_after_a_good_score_nor_taken_after_its_window(
    engine: Engine, database_url: str
) -> None:
    settings = _settings(database_url, comment_window="30m")
    happy = _resolved(engine, "telegram", "2102")
    silent = _resolved(engine, "telegram", "2103")
    run_surveys(engine, settings, rome(12, 9, 10, 10))
    for user, conversation_id, score in (("2102", happy, 5), ("2103", silent, 1)):
        survey = _survey(engine, conversation_id)
        payload = f"survey:{survey.id}:{score}"
        _answer(engine, settings, "telegram", user, rome(12, 9, 10, 12), str(score), payload)
    assert _bot_texts(engine, happy)[-1] == "Grazie per la tua risposta!"
    assert _survey(engine, happy).comment_asked_at is None
    _answer(engine, settings, "telegram", "2102", rome(12, 9, 10, 15), "Un'altra cosa...")
    assert _conversation(engine, happy).status == "open"
    # 1 asks why, but the customer writes only an hour later: a message like any other
    assert _survey(engine, silent).comment_asked_at is not None
    _answer(engine, settings, "telegram", "2103", rome(12, 9, 11, 15), "Mi richiamate?")
    assert _conversation(engine, silent).status == "open"
    assert _survey(engine, silent).comment is None


@pytest.mark.parametrize(("when", "kind", "asked"), [
    ("off", "csat", set()),
    ("low", "csat", {1, 2, 3}),
    ("low", "nps", set(range(7))),
    ("low", "ces", {1, 2, 3}),
    ("all", "ces", set(range(1, 8))),
])  # fmt: skip
def test_which_scores_ask_why(when: str, kind: str, asked: set[int]) -> None:
    low, high = SCALES[kind]
    assert {score for score in range(low, high + 1) if asks_why(when, kind, score)} == asked
