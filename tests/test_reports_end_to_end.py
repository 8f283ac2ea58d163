"""Surveys and reports end to end: a Telegram survey round trip, the API and the CLI."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from agent_helpers import agent_token
from conftest import (
    TELEGRAM_SECRET,
    RunningDaemon,
    make_settings,
    telegram_channel,
    wait_for,
)
from kpi_fixtures import Inbox, rome
from sqlmodel import Session, select
from typer.testing import CliRunner

from sportello import scheduler
from sportello.cli import app
from sportello.config.settings import BusinessHoursSettings
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import settings_store
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.survey_tables import Survey

MARIA = tg.user(5552001, "Maria", "Verdi", language_code="it")
HEADERS = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


@pytest.fixture(autouse=True)
def surveys_every_half_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """The surveys job runs every 5 s in a daemon; these tests need not wait that long."""
    monkeypatch.setattr(scheduler, "SURVEY_INTERVAL_S", 0.5)


def _post(running: RunningDaemon, update: dict[str, Any]) -> None:
    assert running.post_webhook("telegram", json.dumps(update).encode(), HEADERS).status_code == 200


def test_survey_round_trip_on_telegram(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, emulator_server = telegram_emulator
    settings = make_settings(
        database_url,
        channels=telegram_channel(emulator_server.url),
        surveys={"enabled": True, "delay": "0s", "kind": "csat"},
    )
    running = start_daemon(settings)
    message = tg.message(7, MARIA, int(time.time()), text="Il pacco è arrivato rotto")
    _post(running, tg.update(910001, message=message))
    inbound = wait_for(lambda: running.messages(channel="telegram", direction="in"))[0]
    conversation_id = inbound["conversation_id"]
    running.api.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Lo sostituiamo!"}
    )
    wait_for(lambda: emulator.sent)
    patch = running.api.patch(
        f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"}
    )
    assert patch.status_code == 200

    question = wait_for(lambda: [s for s in emulator.sent if "reply_markup" in s], timeout=20)[0]
    keyboard = question["reply_markup"]["inline_keyboard"]
    payloads = [row[0]["callback_data"] for row in keyboard]
    assert [row[0]["text"] for row in keyboard] == ["1", "2", "3", "4", "5"]
    assert payloads[4].startswith("survey:") and payloads[4].endswith(":5")

    bot_message = tg.message(
        question["message_id"],
        tg.BOT_USER,
        int(time.time()),
        chat=tg.private_chat(MARIA),
        text=question["text"],
        reply_markup=question["reply_markup"],
    )
    press = tg.callback_query("4419112233", MARIA, bot_message, payloads[4])
    _post(running, tg.update(910002, callback_query=press))

    def answered() -> Survey | None:
        with Session(running.daemon.engine) as session:
            survey = session.exec(select(Survey)).first()
            return survey if survey is not None and survey.state == "answered" else None

    survey = wait_for(answered)
    assert survey.score == 5 and survey.conversation_id == conversation_id
    # The press is acknowledged to Telegram, so the button stops spinning.
    acknowledged = wait_for(lambda: emulator.answered_callbacks)
    assert acknowledged[0]["callback_query_id"] == "4419112233"
    wait_for(lambda: any(s["text"] == "Grazie per la tua risposta!" for s in emulator.sent))
    conversation = running.api.get(f"/api/v1/conversations/{conversation_id}").json()
    assert conversation["status"] == "resolved"
    press_message = running.messages(external_id="callback:4419112233")[0]
    assert press_message["text"] == "5" and press_message["direction"] == "in"

    report = running.api.get("/api/v1/reports/kpis", params={"channel": "telegram"}).json()
    assert report["csat"] == {
        "avg": 5.0, "satisfied_pct": 100.0, "responses": 1, "asked": 1, "response_rate": 100.0,
    }  # fmt: skip
    assert report["messages_in"] == 2 and report["messages_out_bot"] == 2
    assert report["reply_time"]["count"] == 1 and report["backlog"] == 0
    assert report["resolution_rate"] == 100.0


def test_agents_report_end_to_end(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """ada takes Maria's conversation; bob answers first, then ada; ada resolves it. The
    conversation counts for ada, each reply for whoever sent it from the inbox."""
    _, emulator_server = telegram_emulator
    running = start_daemon(
        make_settings(sqlite_url, channels=telegram_channel(emulator_server.url))
    )
    now = datetime.now(UTC)
    ada, bob = agent_token(running, "ada", now), agent_token(running, "bob", now)
    agent_token(running, "carla", now)
    message = tg.message(8, MARIA, int(time.time()), text="Dov'è il mio ordine?")
    _post(running, tg.update(910011, message=message))
    conversation_id = wait_for(lambda: running.messages(direction="in"))[0]["conversation_id"]
    conversation = f"/api/v1/conversations/{conversation_id}"
    assert running.api.patch(conversation, json={"assignee": "ada"}).status_code == 200
    first = running.api.post(f"{conversation}/messages", json={"text": "Controllo"}, headers=bob)
    assert first.status_code == 201 and first.json()["sent_by"] == "bob"
    second = running.api.post(f"{conversation}/messages", json={"text": "Parte oggi"}, headers=ada)
    assert second.json()["sent_by"] == "ada"
    assert running.api.patch(conversation, json={"status": "resolved"}, headers=ada).is_success
    history = running.api.get(f"{conversation}/messages").json()["items"]
    assert [m["sent_by"] for m in history] == [None, "bob", "ada"]

    report = running.api.get("/api/v1/reports/agents").json()
    rows = {row["agent"]: row for row in report["agents"]}
    assert list(rows) == ["ada", "bob", "carla", None]
    assert (rows["ada"]["conversations"], rows["ada"]["replies_sent"]) == (1, 1)
    assert (rows["bob"]["conversations"], rows["bob"]["replies_sent"]) == (0, 1)
    assert rows["ada"]["cases"]["resolved"] == 1 and rows["ada"]["reply_time"]["count"] == 1
    assert rows["ada"]["messages_out_agent"] == 2 and rows["carla"]["messages_in"] == 0
    whole = running.api.get("/api/v1/reports/kpis", params={"agent": "ada"}).json()
    assert rows["ada"]["first_response_time"] == whole["first_response_time"]
    only = running.api.get("/api/v1/reports/agents", params={"agent": "bob"}).json()
    assert only["agents"] == [rows["bob"]]

    download = running.api.get("/api/v1/reports/agents", params={"format": "csv"})
    assert download.headers["content-type"].startswith("text/csv")
    today = now.date()  # no business hours set: the report counts UTC days
    assert download.headers["content-disposition"].endswith(f'-{today}.csv"')
    lines = list(csv.DictReader(io.StringIO(download.text)))
    assert [line["agent"] for line in lines] == ["ada", "bob", "carla", ""]
    assert lines[0]["replies_sent"] == "1" and lines[0]["cases.resolved"] == "1"
    assert lines[3]["replies_sent"] == "" and "reply_time.median_s" in lines[0]
    bad = running.api.get("/api/v1/reports/agents", params={"to": "domani"})
    assert bad.status_code == 422 and "not a date" in bad.json()["detail"]

    channels = running.api.get("/api/v1/reports/channels").json()["channels"]
    assert [(c["channel"], c["conversations"], c["cases"]["resolved"]) for c in channels] == [
        ("telegram", 1, 1)
    ]
    assert channels[0]["first_response_time"] == whole["first_response_time"]
    download = running.api.get("/api/v1/reports/channels", params={"format": "csv"})
    (line,) = csv.DictReader(io.StringIO(download.text))
    assert line["channel"] == "telegram" and line["messages_out_agent"] == "2"

    teams = running.api.get("/api/v1/reports/teams").json()["teams"]
    assert [(t["team"], t["conversations"]) for t in teams] == [(None, 1)]  # no team yet
    assert teams[0]["first_response_time"] == whole["first_response_time"]
    download = running.api.get("/api/v1/reports/teams", params={"format": "csv"})
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="sportello-teams-'
    )
    (line,) = csv.DictReader(io.StringIO(download.text))
    assert (line["team"], line["cases.resolved"]) == ("", "1")


def test_reports_api_shape_and_errors(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    hours = {"timezone": "Europe/Rome", "mon": ["09:00-18:00"]}
    assert running.api.put("/api/v1/settings/business-hours", json=hours).status_code == 200
    response = running.api.get(
        "/api/v1/reports/kpis",
        params={"from": "2026-11-01", "to": "2026-11-30", "business_time": "true"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "Europe/Rome"  # the hours operations set, not the file's
    for key in (
        "from", "to", "conversations", "messages_in", "messages_out", "backlog",
        "first_response_time", "reply_time", "resolution_time", "resolution_rate",
        "first_contact_resolution_rate", "csat", "nps", "ces", "volume_by_hour",
    ):  # fmt: skip
        assert key in body
    assert body["reply_time"] == {"avg_s": None, "median_s": None, "p90_s": None, "count": 0}
    assert body["nps"]["score"] is None and body["csat"]["responses"] == 0
    assert len(body["volume_by_hour"]) == 168 and body["business_time"] is True
    assert len(body["volume_by_day"]) == 30
    bad = running.api.get("/api/v1/reports/kpis", params={"from": "ieri"})
    assert bad.status_code == 422 and "not a date" in bad.json()["detail"]
    backwards = running.api.get(
        "/api/v1/reports/kpis", params={"from": "2026-12-02", "to": "2026-12-01"}
    )
    assert backwards.status_code == 422


def test_report_command_formats(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    with session_scope(engine) as session:
        inbox = Inbox(session)
        conversation = inbox.conversation("telegram", "6001", rome(11, 3, 10))
        inbox.reply(conversation, rome(11, 3, 10, 30), sent_by="ada")
        inbox.status(conversation, "resolved", rome(11, 3, 11))
    engine.dispose()
    monkeypatch.setenv("SPORTELLO_DATABASE__URL", sqlite_url)
    runner = CliRunner()
    period = ["report", "--from", "2026-11-01", "--to", "2026-11-30"]

    result = runner.invoke(app, [*period, "--format", "json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["reply_time"]["avg_s"] == 1800 and figures["resolution_rate"] == 100.0

    result = runner.invoke(app, [*period, "--format", "csv", "--channel", "telegram"])
    assert result.exit_code == 0, result.output
    rows = dict(csv.reader(io.StringIO(result.output)))
    assert rows["reply_time.avg_s"] == "1800.0" and rows["messages_in"] == "1"
    assert rows["volume_by_day.2026-11-03.messages_out"] == "1"

    result = runner.invoke(app, [*period, "--format", "json", "--team", "billing"])
    teamed = json.loads(result.output)  # no conversation is given to a team
    assert teamed["filters"]["team"] == "billing" and teamed["messages_in"] == 0

    result = runner.invoke(app, [*period, "--business-time"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "First response" in result.output and "0:30:00" in result.output

    # by agent: ada sent the reply in a conversation nobody has taken
    result = runner.invoke(app, [*period, "--by-agent", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.output)))
    assert [(line["agent"], line["conversations"], line["replies_sent"]) for line in lines] == [
        ("ada", "0", "1"),
        ("", "1", ""),
    ]
    result = runner.invoke(app, [*period, "--by-agent"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    unassigned = next(line for line in result.output.splitlines() if "(unassigned)" in line)
    assert "0:30:00" in unassigned and "100.0%" in unassigned
    result = runner.invoke(app, [*period, "--by-channel", "--format", "json"])
    assert result.exit_code == 0, result.output
    (telegram,) = json.loads(result.output)["channels"]
    assert telegram["channel"] == "telegram" and telegram["reply_time"]["avg_s"] == 1800
    result = runner.invoke(app, [*period, "--by-channel"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output  # a table, with no "replies sent" column
    assert "telegram" in result.output and "replies" not in result.output
    result = runner.invoke(app, [*period, "--by-team"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    (nobody,) = (line for line in result.output.splitlines() if "(no team)" in line)
    assert "0:30:00" in nobody and "100.0%" in nobody
    result = runner.invoke(app, [*period, "--by-team", "--format", "csv", "--team", "billing"])
    assert result.exit_code == 0, result.output
    (billing,) = csv.DictReader(io.StringIO(result.output))
    assert (billing["team"], billing["conversations"]) == ("billing", "0")
    result = runner.invoke(app, [*period, "--by-agent", "--by-team"])
    assert result.exit_code == 2 and "one breakdown at a time" in result.output

    # Operations set the hours on the settings page (the database): that Tuesday opened at
    # 10:15, so the reply took 15 minutes of business time.
    hours = BusinessHoursSettings(timezone="Europe/Rome", tue=["10:15-18:00"])
    with session_scope(engine) as session:
        settings_store.set_business_hours(session, hours, rome(11, 30, 12), "ops")
    engine.dispose()
    result = runner.invoke(app, [*period, "--business-time", "--format", "json"])
    assert json.loads(result.output)["reply_time"]["avg_s"] == 900

    result = runner.invoke(app, ["report", "--from", "nope", "--to", "2026-11-30"])
    assert result.exit_code == 2 and "not a date" in result.output
