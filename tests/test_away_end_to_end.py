"""A Sunday message gets its away message through the outbox, and the settings API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from automation_helpers import AWAY, OFFICE, rome
from conftest import TELEGRAM_SECRET, RunningDaemon, make_settings, telegram_channel, wait_for

from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox.clock import FrozenClock

GIULIA = tg.user(5551001, "Giulia", "Rossi", username="giuliar", language_code="it")
EMMA = tg.user(5551003, "Emma", "Clarke", language_code="en")
HEADERS = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
SUNDAY = rome(2026, 12, 6, 10)


def _update(update_id: int, user: dict[str, Any], message_id: int, text: str) -> bytes:
    message = tg.message(message_id, user, int(SUNDAY.timestamp()), text=text)
    return json.dumps(tg.update(update_id, message=message)).encode()


def _sunday_daemon(
    database_url: str, telegram_url: str, start_daemon: Callable[..., RunningDaemon]
) -> RunningDaemon:
    """A daemon on Sunday morning, office closed, with its away message."""
    settings = make_settings(
        database_url,
        channels=telegram_channel(telegram_url),
        business_hours=OFFICE,
        away_messages=[AWAY],
    )
    return start_daemon(settings, clock=FrozenClock(SUNDAY))


def test_sunday_message_gets_one_away_message_on_telegram(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, emulator_server = telegram_emulator
    running = _sunday_daemon(database_url, emulator_server.url, start_daemon)
    script = [(GIULIA, "Ciao, il mio ordine?"), (GIULIA, "Ci siete?"), (EMMA, "Hello, anyone?")]
    for update_id, (user, text) in enumerate(script, start=1):
        message_id = emulator.next_message_id(user["id"])
        running.post_webhook("telegram", _update(update_id, user, message_id, text), HEADERS)

    wait_for(lambda: len(emulator.sent) >= 2, timeout=20)
    texts = {m["chat_id"]: m["text"] for m in emulator.sent}
    assert texts == {
        5551001: "Ciao Giulia, siamo chiusi: ti rispondiamo da lunedì 7 dicembre alle 09:00.",
        5551003: "Hi Emma, we are closed: we will answer from Monday 7 December at 09:00.",
    }
    wait_for(lambda: len(running.messages(direction="in")) == 3)
    bots = wait_for(
        lambda: [m for m in running.messages(direction="out") if m["delivery_status"] == "sent"]
    )
    assert len(bots) == 2 and all(m["author"] == "bot" for m in bots)
    assert len(emulator.sent) == 2
    conversation = running.api.get(f"/api/v1/conversations/{bots[0]['conversation_id']}").json()
    assert conversation["first_response_at"] is None  # the away message is not a response
    assert conversation["waiting_since"] is not None


def test_the_worker_wakes_the_sender_for_the_away_message_it_queued(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """Not the sender's idle poll: it would wait two minutes here."""
    emulator, emulator_server = telegram_emulator
    running = _sunday_daemon(database_url, emulator_server.url, start_daemon)
    running.daemon.sender.idle_s = 120
    time.sleep(1.5)  # the round under way (1 s poll) ends; the next one waits 120 s
    message_id = emulator.next_message_id(GIULIA["id"])
    running.post_webhook("telegram", _update(1, GIULIA, message_id, "Ciao?"), HEADERS)
    wait_for(lambda: len(emulator.sent) == 1, timeout=10)


def test_settings_api_reads_edits_and_documents_hours_and_away_rules(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(
        make_settings(sqlite_url, business_hours=OFFICE, away_messages=[AWAY]),
        clock=FrozenClock(SUNDAY),
    )
    api = running.api
    hours = api.get("/api/v1/settings/business-hours").json()
    assert hours["mon"] == ["09:00-18:00"] and hours["holidays"] == "IT"  # seeded from the file

    status = api.get("/api/v1/settings/business-hours/status").json()
    assert status["open"] is False and status["next_open"].startswith("2026-12-07T08:00:00")
    assert status["next_open_text"] == "lunedì 7 dicembre alle 09:00"
    at_christmas = {"at": "2026-12-25T10:00:00+01:00"}
    christmas = api.get("/api/v1/settings/business-hours/status", params=at_christmas).json()
    assert christmas["holiday"] == "Natale" and christmas["closure"] is True  # the brand's language
    for language, name in (("en", "Christmas Day"), ("it-IT", "Natale"), ("ja", "Christmas Day")):
        asked = {**at_christmas, "language": language}
        shown = api.get("/api/v1/settings/business-hours/status", params=asked).json()
        assert shown["holiday"] == name, language

    saturday_too = {**OFFICE, "sat": ["09:00-12:00"]}
    assert api.put("/api/v1/settings/business-hours", json=saturday_too).status_code == 200
    status = api.get(
        "/api/v1/settings/business-hours/status", params={"at": "2026-12-05T10:00:00+01:00"}
    ).json()
    assert status["open"] is True
    bad = api.put("/api/v1/settings/business-hours", json={**OFFICE, "mon": ["9-18"]})
    assert bad.status_code == 422 and "HH:MM-HH:MM" in bad.text

    bad_rule = api.put("/api/v1/settings/away-messages", json=[{"text": {"it": "{nome}"}}])
    assert bad_rule.status_code == 422 and "unknown placeholder" in bad_rule.text
    rule = {"channels": ["telegram"], "when": "always", "cooldown": "1h", "text": {"en": "Hi"}}
    assert api.put("/api/v1/settings/away-messages", json=[rule]).status_code == 200
    assert api.get("/api/v1/settings/away-messages").json()[0]["when"] == "always"

    policy = {"name": "vip", "priorities": [3], "first_response": "15m", "business_time": True}
    nobody = api.put("/api/v1/settings/sla", json=[{**policy, "teams": ["billing"]}])
    assert nobody.status_code == 422 and nobody.json()["detail"][0]["loc"] == ["body", 0, "teams"]
    assert api.put("/api/v1/teams/billing", json={"members": []}).status_code == 200
    teamed = api.put("/api/v1/settings/sla", json=[{**policy, "teams": ["billing"]}])
    assert teamed.status_code == 200 and teamed.json()[0]["teams"] == ["billing"]
    assert api.put("/api/v1/settings/sla", json=[policy]).status_code == 200
    assert api.get("/api/v1/settings/sla").json()[0]["first_response"] == "15m"
    assert api.get("/api/v1/sla/breaches").json() == {"items": [], "next_cursor": None}

    paths = api.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/settings/business-hours",
        "/api/v1/settings/business-hours/status",
        "/api/v1/settings/away-messages",
        "/api/v1/settings/sla",
        "/api/v1/sla/breaches",
    ):
        assert path in paths
    assert "put" in paths["/api/v1/settings/away-messages"]
