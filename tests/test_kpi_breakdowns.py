"""The KPIs split by agent and by channel: every row is the whole report filtered by that
agent (channel).

The hand-computed inbox of ``test_kpis.py`` (A, B, C, E over 1-11 Dec 2026), with A and C
assigned to ada, B to bob, E to nobody; carla is an agent with nothing. bob sends A's
Monday reply from the inbox, though A is ada's: ``replies_sent`` counts the sender. A
CSAT survey goes out after each resolution, asked of whoever is assigned then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from kpi_fixtures import Inbox, office_hours, rome
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from sportello.config.settings import load_settings
from sportello.inbox import accounts
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.metrics import (
    KpiQuery,
    compute_agent_kpis,
    compute_channel_kpis,
    compute_kpis,
    compute_team_kpis,
    parse_bound,
    timeline_store,
)
from sportello.inbox.models import Conversation
from sportello.inbox.survey_tables import Survey
from sportello.inbox.surveys import SurveyAnswers, run_surveys
from sportello.inbox.teams import save_team

# the figures a row shares with the report filtered by its agent
SHARED = (
    "conversations", "new_conversations", "messages_in", "messages_out",
    "messages_out_agent", "messages_out_bot", "backlog", "backlog_age",
    "backlog_by_status", "waiting_for_reply", "first_response_time", "reply_time",
    "handling_time", "resolution_time", "reply_time_distribution", "cases",
    "resolution_rate", "first_contact_resolution_rate", "csat", "nps", "ces",
)  # fmt: skip


def _assign(inbox: Inbox, conversation: Conversation, agent: str) -> None:
    conversation.assignee = agent
    inbox.session.add(conversation)
    inbox.session.flush()


def _inbox(engine: Engine, database_url: str) -> None:
    settings = load_settings(
        None,
        database={"url": database_url},
        surveys={"enabled": True, "kind": "csat", "delay": "10m"},
    )

    def answer(user: str, channel: str, score: int, at: datetime) -> None:
        with session_scope(engine) as session:
            survey = session.exec(
                select(Survey).where(Survey.state == "sent", Survey.channel == channel)
            ).one()
            ingested = Inbox(session).customer(
                channel, user, at, str(score), button_payload=f"survey:{survey.id}:{score}"
            )
            SurveyAnswers(settings, FrozenClock(at))(session, ingested)

    with session_scope(engine) as session:
        for name in ("ada", "bob", "carla"):
            accounts.create_user(session, name, f"{name}-password", "agent", rome(11, 1, 9))
        inbox = Inbox(session)
        e = inbox.conversation("x", "777", rome(11, 25, 10))
        inbox.status(e, "resolved", rome(11, 25, 10, 30))
        inbox.customer("x", "777", rome(12, 2, 10))

        a = inbox.conversation("telegram", "1001", rome(12, 4, 17, 30))
        _assign(inbox, a, "ada")
        inbox.reply(a, rome(12, 4, 17, 31), author="bot")
        inbox.reply(a, rome(12, 7, 9, 30), sent_by="bob")
        inbox.status(a, "resolved", rome(12, 7, 10))
    assert run_surveys(engine, settings, rome(12, 7, 10, 10)) == 1
    answer("1001", "telegram", 5, rome(12, 7, 10, 15))

    with session_scope(engine) as session:
        inbox = Inbox(session)
        b = inbox.conversation("whatsapp", "393331112222", rome(12, 7, 17))
        _assign(inbox, b, "bob")
        inbox.reply(b, rome(12, 9, 10), sent_by="bob")
        inbox.customer("whatsapp", "393331112222", rome(12, 9, 10, 5))
        inbox.reply(b, rome(12, 9, 10, 20), sent_by="bob")
        inbox.status(b, "pending", rome(12, 9, 10, 21))
        inbox.customer("whatsapp", "393331112222", rome(12, 10, 11))
        inbox.reply(b, rome(12, 10, 11, 30), sent_by="bob")
        inbox.status(b, "resolved", rome(12, 10, 11, 40))

        c = inbox.conversation("telegram", "1003", rome(12, 10, 9))
        _assign(inbox, c, "ada")
        inbox.echo("telegram", "1003", rome(12, 10, 9, 10))
        inbox.status(c, "resolved", rome(12, 10, 9, 15))
    assert run_surveys(engine, settings, rome(12, 10, 11, 50)) == 2  # B and C
    answer("393331112222", "whatsapp", 2, rome(12, 10, 12, 5))
    with session_scope(engine) as session:
        Inbox(session).customer("telegram", "1003", rome(12, 11, 9))


@pytest.fixture(params=["walked", "stored"])
def engine(database_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    _inbox(engine, database_url)
    if request.param == "stored":
        assert timeline_store.refresh_all(engine) == 4
    yield engine
    engine.dispose()


def _query(business_time: bool = False, **filters: str) -> KpiQuery:
    calendar = office_hours()
    return KpiQuery(
        start=parse_bound("2026-12-01", calendar.tz, end=False),
        end=parse_bound("2026-12-11", calendar.tz, end=True),
        now=rome(12, 20, 12),
        calendar=calendar,
        business_time=business_time,
        **filters,  # type: ignore[arg-type]
    )


def _rows(engine: Engine, query: KpiQuery) -> dict[str | None, dict[str, Any]]:
    with session_scope(engine) as session:
        report = compute_agent_kpis(session, query)
    return {row["agent"]: row for row in report["agents"]}


def _whole(engine: Engine, query: KpiQuery) -> dict[str, Any]:
    with session_scope(engine) as session:
        return compute_kpis(session, query)


Compute = Callable[[Session, KpiQuery], dict[str, Any]]


def _split(
    engine: Engine, compute: Compute, key: str, business_time: bool
) -> dict[str | None, dict[str, Any]]:
    """The rows of a split report by their ``key`` (agent, channel, team), each named row
    checked to be the whole report filtered by its name, and the one row so filtered."""
    with session_scope(engine) as session:
        report = compute(session, _query(business_time))
    rows = {row[key]: row for row in report[f"{key}s"]}
    for name, row in rows.items():
        if name is None:
            continue
        filtered = _whole(engine, _query(business_time, **{key: name}))
        assert {k: row[k] for k in SHARED} == {k: filtered[k] for k in SHARED}, name
        with session_scope(engine) as session:
            alone = compute(session, _query(business_time, **{key: name}))
        assert alone[f"{key}s"] == [row]
    return rows


def _add_up(rows: dict[str | None, dict[str, Any]], whole: dict[str, Any]) -> None:
    """Every conversation counts for one row (or the row of none): the rows add up."""
    for figure in ("conversations", "new_conversations", "messages_in", "messages_out",
                   "backlog", "waiting_for_reply"):  # fmt: skip
        assert sum(row[figure] for row in rows.values()) == whole[figure], figure
    for figure in ("first_response_time", "reply_time", "resolution_time"):
        assert sum(row[figure]["count"] for row in rows.values()) == whole[figure]["count"]
    assert sum(row["csat"]["asked"] for row in rows.values()) == whole["csat"]["asked"]


@pytest.mark.parametrize("business_time", [False, True])
def test_each_row_is_the_report_filtered_by_its_agent(engine: Engine, business_time: bool) -> None:
    rows = _split(engine, compute_agent_kpis, "agent", business_time)
    assert list(rows) == ["ada", "bob", "carla", None]
    whole = _whole(engine, _query(business_time))
    _add_up(rows, whole)
    assert whole["csat"]["asked"] == 3


@pytest.mark.parametrize("business_time", [False, True])
def test_each_channel_row_is_the_report_filtered_by_its_channel(
    engine: Engine, business_time: bool
) -> None:
    rows = _split(engine, compute_channel_kpis, "channel", business_time)
    assert list(rows) == ["telegram", "whatsapp", "x"]  # no Messenger in the period
    _add_up(rows, _whole(engine, _query(business_time)))
    # A and C are Telegram's: C's echo after 10 minutes, A's reply after the weekend
    assert rows["telegram"]["reply_time"]["count"] == 2
    assert rows["x"]["backlog"] == 1 and rows["x"]["reply_time"]["count"] == 0
    with session_scope(engine) as session:
        messenger = compute_channel_kpis(session, _query(business_time, channel="messenger"))
    assert messenger["channels"][0]["conversations"] == 0


def test_the_report_of_a_team_counts_its_conversations(engine: Engine) -> None:
    """ada's conversations given to a team: the team's report is ada's, surveys included."""
    with session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(Conversation).where(col(Conversation.assignee) == "ada").values(team="front")
        )
    team = _whole(engine, _query(team="front"))
    ada = _whole(engine, _query(agent="ada"))
    assert {k: team[k] for k in SHARED} == {k: ada[k] for k in SHARED}
    assert team["csat"]["asked"] == 2 and team["filters"]["team"] == "front"


@pytest.mark.parametrize("business_time", [False, True])
def test_each_team_row_is_the_report_filtered_by_its_team(
    engine: Engine, business_time: bool
) -> None:
    """A and B to the team "front", C to "back", E to none; "spare" has nothing."""
    with session_scope(engine) as session:
        for name in ("front", "back", "spare"):
            save_team(session, name, [], rome(12, 1, 9))
        given = {"1001": "front", "393331112222": "front", "1003": "back"}
        for thread, team in given.items():
            session.exec(  # type: ignore[call-overload]
                update(Conversation)
                .where(col(Conversation.thread_external_id) == thread)
                .values(team=team)
            )
    rows = _split(engine, compute_team_kpis, "team", business_time)
    assert list(rows) == ["back", "front", "spare", None]
    _add_up(rows, _whole(engine, _query(business_time)))
    # A's and B's surveys are the front's, C's the back's, whoever was assigned then
    assert [rows[team]["csat"]["asked"] for team in ("front", "back", "spare")] == [2, 1, 0]
    assert rows["front"]["csat"]["responses"] == 2 and rows[None]["csat"]["asked"] == 0
    assert rows[None]["conversations"] == 1 and rows["spare"]["conversations"] == 0


def test_hand_computed_rows(engine: Engine) -> None:
    rows = _rows(engine, _query())
    ada, bob, carla, nobody = rows["ada"], rows["bob"], rows["carla"], rows[None]
    # ada: A (Fri 17:30, bot, Mon 09:30 reply, resolved 10:00) and C (echo after 10 min,
    # resolved, back on Friday unanswered)
    assert (ada["conversations"], ada["messages_in"], ada["messages_out_agent"]) == (2, 4, 2)
    # A's away message, survey question and thanks for the answer; C's survey question
    assert ada["messages_out_bot"] == 4
    # C's echo after 600 s; A's reply after the weekend, 230 400 s
    assert ada["reply_time"]["count"] == 2
    assert ada["reply_time"]["median_s"] == (600 + 230_400) / 2
    assert ada["cases"] == {"open_at_start": 0, "started": 3, "resolved": 2, "backlog": 1}
    assert ada["csat"]["avg"] == 5 and ada["csat"]["asked"] == 2
    assert ada["replies_sent"] == 0  # A's reply was bob's
    assert bob["replies_sent"] == 4 and bob["messages_out_agent"] == 3
    assert bob["first_response_time"]["avg_s"] == 147_600
    assert bob["csat"]["avg"] == 2 and bob["first_contact_resolution_rate"] == 0.0
    assert carla["conversations"] == 0 and carla["replies_sent"] == 0
    assert carla["reply_time"] == {"avg_s": None, "median_s": None, "p90_s": None, "count": 0}
    assert carla["resolution_rate"] is None and carla["csat"]["avg"] is None
    assert nobody["conversations"] == 1 and nobody["backlog"] == 1
    assert nobody["replies_sent"] is None


def test_a_removed_agent_and_a_reply_sender_who_is_no_user_keep_their_rows(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        conversation = session.exec(
            select(Conversation).where(Conversation.channel == "whatsapp")
        ).one()
        conversation.assignee = "dora"  # left the team; the conversation still names her
        Inbox(session).reply(conversation, rome(12, 11, 10), sent_by="api")
    rows = _rows(engine, _query())
    assert list(rows) == ["ada", "api", "bob", "carla", "dora", None]
    assert rows["dora"]["conversations"] == 1 and rows["bob"]["conversations"] == 0
    assert rows["api"]["replies_sent"] == 1 and rows["api"]["conversations"] == 0
