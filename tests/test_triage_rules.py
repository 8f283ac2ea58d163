"""Triage rules: what a customer writes tags, raises and assigns the conversation.

Through the real path: Telegram-shaped webhooks into a running daemon (both engines), the
rules stored, edited over the API, the CLI and the settings page (Chromium).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_helpers import agent_token, sign_in
from conftest import (
    Browser,
    RunningDaemon,
    make_settings,
    telegram_channel,
    wait_for,
)
from sqlalchemy import Engine
from sqlmodel import col, select
from telegram_helpers import customer_writes
from typer.testing import CliRunner

from sportello.cli import app
from sportello.config.settings import ConfigError, TriageRuleSettings, load_settings
from sportello.connectors.base import Channel, InboundMessage, Person, Thread
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import accounts, settings_store
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation, ConversationEvent, ConversationTag, Message
from sportello.inbox.triage_rules import TriageRules, decide, matches

GIULIA = tg.user(5551001, "Giulia", "Rossi")
JOHN = tg.user(5551002, "John", "Smith")
REFUNDS = {
    "name": "refunds",
    "keywords": ["rimbors*", "refund", "money back"],
    "add_tags": ["refund"],
    "priority": 2,
}
RULES = [
    REFUNDS,
    {"name": "unhappy", "sentiment": "negative", "add_tags": ["unhappy"], "priority": 3},
    {"name": "english", "languages": ["en"], "add_tags": ["english"]},
    {"name": "telegram-to-marta", "channels": ["telegram"], "assign": "marta"},
    {"name": "whatsapp-to-paolo", "channels": ["whatsapp"], "assign": "paolo"},
]


def _rule(**fields: Any) -> TriageRuleSettings:
    return TriageRuleSettings.model_validate({"name": "r", "add_tags": ["t"], **fields})


def _message(
    text: str, language: str = "it", label: str = "neutral", channel: str = "telegram"
) -> Message:
    at = datetime.now(UTC)
    return Message(
        conversation_id=1, customer_id=1, channel=channel, direction="in", author="customer",
        sent_at=at, received_at=at, text=text, sentiment_language=language, sentiment_label=label,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("keywords", "text", "expected"),
    [
        (["rimborso"], "Vorrei il RIMBORSO, grazie", True),
        (["rimborso"], "rimborsone!", False),  # a whole word, not a part of one
        (["rimbors*"], "Quando mi rimborsate?", True),
        (["perche"], "Perché non arriva?", True),  # accents or not, either way
        (["perché"], "perche non arriva", True),
        (["money back"], "I want my money\n  back now", True),  # any run of spaces
        (["money back"], "money is back", False),
        (["c++"], "about c++ code", True),  # written as it is, not as a pattern
        (["refund"], "", False),
    ],
)
def test_keywords_match_whole_words_in_any_case_with_or_without_accents(
    keywords: list[str], text: str, expected: bool
) -> None:
    assert matches(_rule(keywords=keywords), _message(text)) is expected


def test_every_condition_must_hold() -> None:
    rule = _rule(channels=["whatsapp"], languages=["en"], sentiment="negative", keywords=["late"])
    late = "My parcel is late"
    assert matches(rule, _message(late, "en", "negative", "whatsapp"))
    assert not matches(rule, _message(late, "en", "negative", "telegram"))
    assert not matches(rule, _message(late, "it", "negative", "whatsapp"))
    assert not matches(rule, _message(late, "en", "neutral", "whatsapp"))
    assert matches(_rule(), _message("anything at all", channel="x"))  # no condition: every one


def test_every_matching_rule_adds_up_in_order() -> None:
    rules = [
        _rule(name="a", add_tags=["refund", "vip"], priority=1, assign="marta"),
        _rule(name="b", keywords=["nothing here"], priority=3, assign="nobody"),
        _rule(name="c", add_tags=["refund", "late"], priority=2, assign="paolo"),
    ]
    outcome = decide(rules, _message("dov'è il mio ordine"))
    assert outcome.rules == ["a", "c"]
    assert outcome.tags == ["refund", "vip", "late"]
    assert (outcome.priority, outcome.assignee, outcome.assigned_by) == (2, "marta", "a")


def test_a_matching_rule_marked_stop_is_the_last_one_tried() -> None:
    message = _message("Vorrei un rimborso")
    rules = [
        _rule(name="a", keywords=["spedizione"], add_tags=["shipping"], stop=True),  # no match
        _rule(name="b", keywords=["rimborso"], add_tags=["refund"], stop=True),
        _rule(name="c", add_tags=["other"], priority=3, assign="paolo"),
    ]
    outcome = decide(rules, message)
    assert (outcome.rules, outcome.tags) == (["b"], ["refund"])
    assert (outcome.priority, outcome.assignee) == (None, None)
    assert decide([rules[0], rules[2]], message).rules == ["c"]


def test_a_rule_is_checked_when_written() -> None:
    with pytest.raises(ConfigError, match="add_tags, priority, assign, team or answer"):
        load_settings(None, triage_rules=[{"name": "idle", "keywords": ["x"]}])
    with pytest.raises(ConfigError, match="unique"):
        load_settings(None, triage_rules=[REFUNDS, REFUNDS])
    with pytest.raises(ConfigError, match="two-letter"):
        load_settings(None, triage_rules=[{**REFUNDS, "languages": ["ita"]}])
    with pytest.raises(ConfigError, match="empty word"):
        load_settings(None, triage_rules=[{**REFUNDS, "keywords": ["refund", " "]}])
    with pytest.raises(ConfigError, match="priority"):
        load_settings(None, triage_rules=[{**REFUNDS, "priority": 7}])


def _inbound(number: int, text: str, at: datetime, user: str = "5551001") -> InboundMessage:
    person = Person(user, f"Customer {user}")
    return InboundMessage("telegram", f"{user}:{number}", Thread(user), person, at, text=text)


def test_what_a_rolled_back_delivery_added_is_added_again(engine: Engine) -> None:
    """The hook remembers a batch's tags (no query, no flush per message) until a rollback."""
    at = datetime.now(UTC)
    hook = TriageRules(FrozenClock(at))
    with session_scope(engine) as session:
        settings_store.set_triage_rules(session, [_rule(keywords=["rimborso"])], at, "test")
        hook(session, ingest(session, [_inbound(1, "Ciao", at)], now=at))  # nothing to do
    with session_scope(engine) as session:
        savepoint = session.begin_nested()
        hook(session, ingest(session, [_inbound(2, "Un rimborso?", at)], now=at))
        savepoint.rollback()  # as the worker does when a delivery of its batch fails
        batch = [
            _inbound(3, "Il RIMBORSO!", at),
            _inbound(4, "rimborso, grazie", at),  # Giulia's conversation: tagged once
            _inbound(1, "Rimborso per me?", at, user="5551002"),  # two new customers: on
            _inbound(1, "Anche io un rimborso", at, user="5551003"),  # PostgreSQL, stored later
        ]
        hook(session, ingest(session, batch, now=at))
    with session_scope(engine) as session:
        tags = session.exec(select(ConversationTag.conversation_id, ConversationTag.tag)).all()
        kinds = session.exec(select(ConversationEvent.kind)).all()
    assert sorted(tags) == [(1, "t"), (2, "t"), (3, "t")]
    assert sorted(kinds) == ["opened"] * 3 + ["rule"] * 3


def _events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind is not None:
            yield kind, json.loads(line.removeprefix("data: "))


def _conversation(running: RunningDaemon, conversation_id: int) -> dict[str, Any]:
    with session_scope(running.daemon.engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        tags = session.exec(
            select(ConversationTag.tag)
            .where(ConversationTag.conversation_id == conversation_id)
            .order_by(col(ConversationTag.tag))
        ).all()
        events = session.exec(
            select(ConversationEvent)
            .where(ConversationEvent.conversation_id == conversation_id)
            .order_by(col(ConversationEvent.id))
        ).all()
        return {
            "tags": list(tags),
            "priority": conversation.priority,
            "assignee": conversation.assignee,
            "sla_due": conversation.sla_due_at - conversation.opened_at
            if conversation.sla_due_at
            else None,
            "events": [(e.kind, e.actor, e.data) for e in events if e.kind != "opened"],
        }


def test_a_customer_message_tags_raises_and_assigns_its_conversation(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, telegram = telegram_emulator
    sla = [
        {"name": "urgent", "priorities": [2, 3], "first_response": "15m"},
        {"name": "default", "first_response": "1h"},
    ]
    running = start_daemon(
        make_settings(
            database_url,
            channels=telegram_channel(telegram.url),
            triage_rules=RULES,
            sla=sla,
        )
    )
    now = datetime.now(UTC)
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "marta", "marta-password", "agent", now)
    with running.api.stream("GET", "/api/v1/events") as response:
        events = _events(response)
        next(events)  # hello: subscribed
        customer_writes(running, GIULIA, "Ciao! Vorrei il RIMBORSO dell'ordine 4411, grazie mille")
        updated = next(d for k, d in events if k == "conversation.updated")
    giulia_id = updated["conversation_id"]
    # marta's inbox hears at once that it is hers
    assert updated == {"conversation_id": giulia_id, "actor": "rules", "assignee": "marta"}
    giulia = _conversation(running, giulia_id)
    assert giulia["tags"] == ["refund"]
    assert (giulia["priority"], giulia["assignee"]) == (2, "marta")
    assert giulia["sla_due"] == timedelta(minutes=15)  # the raised priority's SLA policy
    assert giulia["events"] == [
        ("assigned", "rule:telegram-to-marta", {"assignee": "marta"}),
        (
            "rule",
            "rules",
            {
                "rules": ["refunds", "telegram-to-marta"],
                "tags": ["refund"],
                "priority": 2,
                "assignee": "marta",
            },
        ),
    ]

    # an agent raises it further and hands it over: a rule neither lowers nor takes it back
    path = f"/api/v1/conversations/{giulia_id}"
    running.api.patch(path, json={"priority": 3, "assignee": "api"})
    customer_writes(running, GIULIA, "Allora, questo rimborso?")
    again = _conversation(running, giulia_id)
    assert (again["priority"], again["assignee"], again["tags"]) == (3, "api", ["refund"])
    assert [kind for kind, _, _ in again["events"]] == ["assigned", "rule", "assigned", "priority"]

    # an angry English customer: every rule that matches applies
    angry = "This is the worst service ever, I am really angry and disappointed."
    john_id = customer_writes(running, JOHN, angry)
    john = wait_for(lambda: (c := _conversation(running, john_id))["assignee"] and c)
    assert john["tags"] == ["english", "unhappy"]
    assert (john["priority"], john["assignee"]) == (3, "marta")
    assert john["events"][-1][2]["rules"] == ["unhappy", "english", "telegram-to-marta"]


TRACKING = {
    "name": "tracking",
    "keywords": ["tracking", "where is my"],
    "answer": {
        "it": "Ciao {name}, segui il pacco su example.com/track.",
        "en": "Hi {name}, follow your parcel at example.com/track.",
    },
}


def test_a_rule_answers_once_per_conversation_in_the_customers_language(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, telegram = telegram_emulator
    running = start_daemon(
        make_settings(
            database_url, channels=telegram_channel(telegram.url), triage_rules=[TRACKING]
        )
    )
    giulia_id = customer_writes(running, GIULIA, "Buongiorno, mi mandate il tracking del pacco?")
    italian = "Ciao Giulia, segui il pacco su example.com/track."
    wait_for(lambda: [sent for sent in emulator.sent if sent["text"] == italian])
    customer_writes(running, GIULIA, "Il tracking non si apre, mi aiutate?")  # not again
    john_id = customer_writes(running, JOHN, "Hello, where is my parcel? Thanks a lot")
    english = "Hi John, follow your parcel at example.com/track."
    wait_for(lambda: [sent for sent in emulator.sent if sent["text"] == english])

    def bot_messages(conversation_id: int) -> list[tuple[str, str]]:
        stored = running.messages(conversation_id=conversation_id, direction="out")
        return [(m["author"], m["text"]) for m in stored]

    assert bot_messages(giulia_id) == [("bot", italian)]
    assert bot_messages(john_id) == [("bot", english)]
    assert [sent["text"] for sent in emulator.sent].count(italian) == 1
    events = _conversation(running, giulia_id)["events"]  # the second match changed nothing
    assert events == [("rule", "rules", {"answered": "it", "rules": ["tracking"]})]
    # an automatic answer is no first response: the customer still waits for an agent
    conversation = running.api.get(f"/api/v1/conversations/{giulia_id}").json()
    assert conversation["first_response_at"] is None
    # resolved, then reopened by a new question: the rule answers again, once
    running.api.patch(f"/api/v1/conversations/{giulia_id}", json={"status": "resolved"})
    customer_writes(running, GIULIA, "Altro ordine: mi date il tracking?")
    customer_writes(running, GIULIA, "E il tracking dell'ordine 4412?")
    assert bot_messages(giulia_id) == [("bot", italian)] * 2


def test_a_rule_never_answers_in_a_public_thread_or_a_group(engine: Engine) -> None:
    at = datetime.now(UTC)
    hook = TriageRules(FrozenClock(at))
    luca = Person("1400000000000000009", "Luca")

    def said(channel: Channel, external_id: str, thread: Thread) -> InboundMessage:
        return InboundMessage(channel, external_id, thread, luca, at, text="Where is my parcel?")

    in_public = said("x", "1860000000000000009", Thread("1860000000000000009", public=True))
    in_group = said("telegram", "-100123:7", Thread("-100123", is_group=True))
    in_private = said("telegram", "1400000000000000009:8", Thread("1400000000000000009"))
    with session_scope(engine) as session:
        rules = [TriageRuleSettings.model_validate(TRACKING)]
        settings_store.set_triage_rules(session, rules, at, "test")  # read back as written
        ingested = ingest(session, [in_public, in_group, in_private], now=at)
        hook(session, ingested)
        private = ingested.new_messages[2][1].id
    with session_scope(engine) as session:
        answered = session.exec(select(Message.conversation_id).where(Message.author == "bot"))
        assert answered.all() == [private]


def test_the_rules_are_seeded_then_edited_over_the_api_by_admins(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url, triage_rules=[REFUNDS]))
    path = "/api/v1/settings/triage-rules"
    assert [rule["name"] for rule in running.api.get(path).json()] == ["refunds"]
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "paolo", "paolo-password", "agent", datetime.now(UTC))
    wanted = [{**REFUNDS, "assign": "marta"}, {"name": "x", "channels": ["x"], "assign": "paolo"}]
    answer = running.api.put(path, json=wanted)
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {"loc": ["body", 0, "assign"], "msg": "no user named marta", "type": "value"}
    ]
    answer = running.api.put(path, json=[{"name": "idle", "channels": ["x"]}])
    assert answer.status_code == 422 and "add_tags, priority, assign, team or answer" in answer.text
    assert [rule["name"] for rule in running.api.get(path).json()] == ["refunds"]  # unchanged
    agent = agent_token(running, "bob", datetime.now(UTC))
    assert running.api.put(path, json=wanted[1:], headers=agent).status_code == 403
    assert running.api.get(path, headers=agent).status_code == 200  # agents may read them
    assert running.api.put(path, json=wanted[1:]).status_code == 200
    stored = running.api.get(path).json()
    assert [(rule["name"], rule["assign"]) for rule in stored] == [("x", "paolo")]


def test_the_daemon_warns_at_start_of_rules_naming_nobody(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], caplog: pytest.LogCaptureFixture
) -> None:
    """The configuration file's rules are stored unchecked (its users may come later)."""
    rules = [REFUNDS, {"name": "to-marta", "channels": ["telegram"], "assign": "marta"}]
    policies = [{"name": "billing", "first_response": "1h", "teams": ["billing"]}]
    with caplog.at_level(logging.WARNING, logger="sportello.daemon"):
        start_daemon(make_settings(sqlite_url, triage_rules=rules, sla=policies))
    warned = [r.getMessage() for r in caplog.records if r.name == "sportello.daemon"]
    assert warned == [
        "triage rule 2, assign: no user named marta (it does nothing)",
        "SLA policy 1, teams: no team named billing (it does nothing)",
    ]


def test_a_message_is_tried_against_the_stored_rules_or_the_ones_given(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url, triage_rules=RULES))
    path = "/api/v1/settings/triage-rules/preview"
    angry = "This is the worst service ever, I want a refund now. Really disappointed."
    tried = running.api.post(path, json={"text": angry, "channel": "whatsapp"}).json()
    assert tried == {
        "language": "en",
        "sentiment": "negative",
        "rules": ["refunds", "unhappy", "english", "whatsapp-to-paolo"],
        "tags": ["refund", "unhappy", "english"],
        "priority": 3,
        "assignee": "paolo",  # the preview names the rule's agent, user or not
        "team": None,
        "answer": None,
    }
    calm = {"text": "Ciao, a che ora aprite domani?", "channel": "x"}
    assert running.api.post(path, json=calm).json()["rules"] == []
    unsaved = [
        {
            "name": "hours",
            "keywords": ["a che ora"],
            "add_tags": ["hours"],
            "team": "desk",
            "answer": {"en": "We open at 9.", "it": "Apriamo alle 9."},
        }
    ]
    tried = running.api.post(path, json={**calm, "rules": unsaved}).json()
    assert (tried["rules"], tried["tags"], tried["team"]) == (["hours"], ["hours"], "desk")
    assert tried["answer"] == "Apriamo alle 9."  # in the language the text is in
    everything = {"name": "everything", "add_tags": ["seen"]}
    tried = running.api.post(path, json={**calm, "rules": [*unsaved, everything]}).json()
    assert tried["rules"] == ["hours", "everything"]
    stopping = [{**unsaved[0], "stop": True}, everything]
    assert running.api.post(path, json={**calm, "rules": stopping}).json()["rules"] == ["hours"]
    assert running.api.get("/api/v1/settings/triage-rules").json()[0]["name"] == "refunds"
    bad = running.api.post(path, json={**calm, "rules": [{"name": "idle"}]})
    assert bad.status_code == 422


def test_the_cli_stores_and_shows_the_rules(tmp_path: Path) -> None:
    config = tmp_path / "sportello.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "cli.db"}"\n')
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[triage_rules]]\nname = "refunds"\nkeywords = ["rimbors*"]\nadd_tags = ["refund"]\n'
    )
    runner = CliRunner()
    result = runner.invoke(app, ["hours", "set", "--file", str(rules), "--config", str(config)])
    assert result.exit_code == 0 and "stored: triage_rules" in result.output, result.output
    shown = json.loads(runner.invoke(app, ["hours", "show", "--config", str(config)]).output)
    assert shown["triage_rules"][0]["keywords"] == ["rimbors*"]
    rules.write_text('[[triage_rules]]\nname = "refunds"\npriority = 9\n')
    result = runner.invoke(app, ["hours", "set", "--file", str(rules), "--config", str(config)])
    assert result.exit_code == 2 and "triage_rules.0.priority" in result.output
    # names that point to nobody, as the API refuses them; nothing is stored
    rules.write_text(
        '[[triage_rules]]\nname = "refunds"\nkeywords = ["x"]\nassign = "mara"\nteam = "resi"\n'
        '[[sla]]\nname = "returns"\nteams = ["resi"]\n'
    )
    result = runner.invoke(app, ["hours", "set", "--file", str(rules), "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "triage_rules.0.assign: no user named mara" in result.output
    assert "triage_rules.0.team: no team named resi" in result.output
    assert "sla.0.teams: no team named resi" in result.output
    shown = json.loads(runner.invoke(app, ["hours", "show", "--config", str(config)]).output)
    assert shown["triage_rules"][0]["keywords"] == ["rimbors*"] and shown["sla"] == []


def test_an_admin_writes_a_rule_on_the_settings_page(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    with session_scope(running.daemon.engine) as session:
        now = datetime.now(UTC)
        accounts.create_user(session, "ada", "ada-password", "admin", now)
        accounts.create_user(session, "marta", "marta-password", "agent", now)
    page = browser.page
    sign_in(page, running.url, "ada")
    page.wait_for_url(f"{running.url}/")
    page.goto(f"{running.url}/settings")
    page.locator("body[data-loaded='true']").wait_for()
    form = page.locator("#rules-form")
    form.get_by_role("button", name="+ rule").click()
    card = form.locator("fieldset[data-rule='0']")
    card.get_by_label("Name").fill("refunds")
    card.get_by_label("Keywords").fill("rimbors*, money back")
    card.get_by_label("Add tags").fill("refund")
    card.get_by_label("Raise priority to").select_option("2")
    card.get_by_label("Give to", exact=True).fill("mara")  # a typo
    form.get_by_role("button", name="Save").click()
    error = card.locator("[data-error='0.assign']")
    error.wait_for()
    assert error.inner_text() == "no user named mara"
    card.get_by_label("Give to", exact=True).fill("marta")
    card.get_by_label("then stop: skip the rules below").check()
    card.get_by_label("Automatic answer (it)").fill("Ciao {name}, il rimborso parte in 5 giorni.")
    form.get_by_role("button", name="Save").click()
    form.locator(".saved").wait_for()
    stored = running.api.get("/api/v1/settings/triage-rules").json()
    assert stored == [
        {
            "name": "refunds",
            "channels": [],
            "keywords": ["rimbors*", "money back"],
            "languages": [],
            "sentiment": None,
            "add_tags": ["refund"],
            "priority": 2,
            "assign": "marta",
            "team": None,
            "answer": {"it": "Ciao {name}, il rimborso parte in 5 giorni."},
            "stop": True,
        }
    ]
    form.get_by_label("Try a customer's message").fill("Quando arriva il mio RIMBORSO?")
    form.get_by_label("Channel").select_option("telegram")
    form.get_by_role("button", name="Try").click()
    result = form.locator("#rule-try-result")
    result.wait_for()
    assert result.inner_text().startswith(
        "Matches refunds: +refund · P2 high · → marta · "
        "answers “Ciao {name}, il rimborso parte in 5 giorni.” (it"
    )
    form.get_by_label("Try a customer's message").fill("Grazie, tutto a posto")
    form.get_by_label("Try a customer's message").press("Enter")
    form.locator("#rule-try-result", has_text="No rule matches").wait_for()
    page.reload()
    page.locator("body[data-loaded='true']").wait_for()
    card = form.locator("fieldset[data-rule='0']")
    assert card.get_by_label("Keywords").input_value() == "rimbors*, money back"
    assert card.get_by_label("Raise priority to").input_value() == "2"
    assert card.get_by_label("then stop: skip the rules below").is_checked()
    card.get_by_role("button", name="Remove this rule").click()
    form.get_by_role("button", name="Save").click()
    page.wait_for_function(
        "async () => (await (await fetch('/api/v1/settings/triage-rules')).json()).length === 0"
    )
    assert browser.errors == []
