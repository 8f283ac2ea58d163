"""Teams: admins make them, conversations are given to them (by hand or by a triage rule),
automatic assignment gives a team's conversations only to its members, the inbox filters by
team. The API on both engines, the pages in a real headless Chromium."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from agent_helpers import agent_token, sign_in, telegram_conversation
from conftest import Browser, RunningDaemon, make_settings
from sqlalchemy import Engine
from sqlmodel import col, select

from sportello.config.settings import AssignmentSettings, TriageRuleSettings
from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox import accounts, settings_store, teams
from sportello.inbox.assignment import assign_waiting
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation, ConversationEvent
from sportello.inbox.triage_rules import TriageRules

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _users(engine: Engine, *names: str, present: bool = False) -> None:
    with session_scope(engine) as session:
        for name in names:
            user = accounts.create_user(session, name, f"{name}-password", "agent", NOW)
            user.available, user.seen_at = present, NOW - timedelta(seconds=10)


def test_admins_make_teams_and_agents_give_conversations_to_them(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(database_url))
    engine, api = running.daemon.engine, running.api
    _users(engine, "carla")
    bob = agent_token(running, "bob", NOW)
    refused = api.put("/api/v1/teams/billing", json={"members": ["bob", "ghost"]})
    assert refused.status_code == 422 and "no user named ghost" in refused.text
    assert (
        api.put("/api/v1/teams/billing", json={"members": ["bob"]}, headers=bob).status_code == 403
    )
    made = api.put("/api/v1/teams/billing", json={"members": ["bob", "carla", "bob"]})
    assert made.status_code == 200
    assert (made.json()["name"], made.json()["members"]) == ("billing", ["bob", "carla"])
    api.put("/api/v1/teams/returns", json={"members": []})
    assert [t["name"] for t in api.get("/api/v1/teams", headers=bob).json()] == [
        "billing",
        "returns",
    ]

    first = telegram_conversation(engine, "5551001", NOW)
    second = telegram_conversation(engine, "5551002", NOW)
    path = f"/api/v1/conversations/{first}"
    nope = api.patch(path, json={"team": "nope"}, headers=bob)
    assert nope.status_code == 422 and nope.json()["detail"][0]["loc"] == ["body", "team"]
    assert api.patch(path, json={"team": "billing"}, headers=bob).json()["team"] == "billing"
    bulk = api.post("/api/v1/conversations/bulk", json={"ids": [second], "team": "returns"})
    assert bulk.json()["updated"] == [second]
    listed = api.get("/api/v1/conversations", params={"team": "billing"}).json()["items"]
    assert [c["id"] for c in listed] == [first]
    counts = {t["name"]: t["open_conversations"] for t in api.get("/api/v1/teams").json()}
    assert counts == {"billing": 1, "returns": 1}
    api.patch(path, json={"team": None}, headers=bob)
    events = api.get(f"{path}/events").json()["items"]
    assert [(e["kind"], e["actor"], e["data"]) for e in events if e["kind"] == "team"] == [
        ("team", "bob", {"team": "billing", "previous": None}),
        ("team", "bob", {"team": None, "previous": "billing"}),
    ]

    # a team deleted leaves its conversations without one
    assert api.delete("/api/v1/teams/returns", headers=bob).status_code == 403
    assert api.delete("/api/v1/teams/returns").status_code == 204
    assert api.get(f"/api/v1/conversations/{second}").json()["team"] is None
    assert api.delete("/api/v1/teams/returns").status_code == 404

    # a rename carries the conversations, the triage rules and the SLA policies along
    rule = {"name": "invoices", "keywords": ["fattura"], "team": "billing"}
    assert api.put("/api/v1/settings/triage-rules", json=[rule]).status_code == 200
    policy = {"name": "billing", "teams": ["billing"], "first_response": "30m"}
    assert api.put("/api/v1/settings/sla", json=[policy]).status_code == 200
    api.patch(path, json={"team": "billing"}, headers=bob)
    api.put("/api/v1/teams/other", json={"members": []})
    rename = "/api/v1/teams/billing"
    assert api.patch(rename, json={"name": "fatture"}, headers=bob).status_code == 403
    name_taken = api.patch(rename, json={"name": "other"})
    assert name_taken.status_code == 409 and "exists already" in name_taken.text
    assert api.patch(rename, json={"name": "  "}).status_code == 422
    assert api.patch("/api/v1/teams/nope", json={"name": "x"}).status_code == 404
    renamed = api.patch(rename, json={"name": "fatture"})
    assert renamed.status_code == 200 and renamed.json()["members"] == ["bob", "carla"]
    assert [t["name"] for t in api.get("/api/v1/teams").json()] == ["fatture", "other"]
    assert api.get(path).json()["team"] == "fatture"
    assert api.get("/api/v1/settings/triage-rules").json()[0]["team"] == "fatture"
    assert api.get("/api/v1/settings/sla").json()[0]["teams"] == ["fatture"]
    events = api.get(f"/api/v1/conversations/{second}/events").json()["items"]
    given, taken = [(e["actor"], e["data"]) for e in events if e["kind"] == "team"]
    assert given[1] == {"team": "returns", "previous": None}
    assert taken == (given[0], {"team": None, "previous": "returns"})  # the admin's doing


def test_automatic_assignment_gives_a_teams_conversation_only_to_its_members(
    engine: Engine,
) -> None:
    engine = engine
    _users(engine, "bob", "carla", present=True)
    with session_scope(engine) as session:
        teams.save_team(session, "billing", ["carla"], NOW)
        loaded = accounts.find_user(session, "carla")
        assert loaded is not None
        loaded.last_assigned_at = NOW  # bob would come first on a tie
    billing = telegram_conversation(engine, "5551001", NOW - timedelta(minutes=5))
    anyone = telegram_conversation(engine, "5551002", NOW - timedelta(minutes=1))
    with session_scope(engine) as session:
        conversation = session.get(Conversation, billing)
        assert conversation is not None
        conversation.team = "billing"
    rule = AssignmentSettings(mode="balanced", max_open_per_agent=1)
    with session_scope(engine) as session:
        given = {a.conversation_id: a.assignee for a in assign_waiting(session, NOW, rule)}
    assert given == {billing: "carla", anyone: "bob"}


def test_a_triage_rule_gives_the_conversation_to_a_team(engine: Engine) -> None:
    with session_scope(engine) as session:
        teams.save_team(session, "returns", [], NOW)
        rules = [
            TriageRuleSettings(name="returns", keywords=["reso"], team="returns"),
            TriageRuleSettings(name="gone", keywords=["reso"], team="nobody"),  # no such team
        ]
        settings_store.set_triage_rules(session, rules, NOW, "test")
    hook = TriageRules(FrozenClock(NOW))
    person = Person("5551001", "Giulia Rossi")
    event = InboundMessage("telegram", "1", Thread("5551001"), person, NOW, text="Vorrei un reso")
    with session_scope(engine) as session:
        hook(session, ingest(session, [event], now=NOW))
    with session_scope(engine) as session:
        assert session.exec(select(Conversation.team)).one() == "returns"
        events = session.exec(select(ConversationEvent).order_by(col(ConversationEvent.id))).all()
        shown = [(e.kind, e.actor, e.data) for e in events if e.kind != "opened"]
    assert shown == [
        ("team", "rule:returns", {"team": "returns", "previous": None}),
        ("rule", "rules", {"rules": ["returns", "gone"], "team": "returns"}),
    ]


def test_an_admin_makes_a_team_and_an_agent_gives_it_a_conversation(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    engine = running.daemon.engine
    with session_scope(engine) as session:
        accounts.create_user(session, "ada", "ada-password", "admin", NOW)
    _users(engine, "bob")
    telegram_conversation(engine, "5551001", datetime.now(UTC), "Fattura sbagliata")
    telegram_conversation(engine, "5551002", datetime.now(UTC), "Dove è il pacco?")
    page = browser.page
    sign_in(page, running.url, "ada")
    page.locator("#live-status[data-state='live']").wait_for()
    assert page.locator("#conv-team").is_hidden()  # no team yet
    # an open inbox follows the teams an admin makes, renames and deletes (teams.changed)
    assert running.api.put("/api/v1/teams/returns", json={"members": []}).status_code == 200
    page.locator("#filter-team option[value='returns']").wait_for(state="attached")
    assert page.locator("#filter-team").is_visible() and page.locator("#bulk-team").count() == 1
    renamed = running.api.patch("/api/v1/teams/returns", json={"name": "resi"})
    assert renamed.status_code == 200, renamed.text
    page.locator("#filter-team option[value='resi']").wait_for(state="attached")
    assert page.locator("#filter-team option[value='returns']").count() == 0
    assert running.api.delete("/api/v1/teams/resi").status_code == 204
    page.locator("#filter-team option[value='resi']").wait_for(state="detached")
    assert page.locator("#filter-team").is_hidden()
    page.goto(f"{running.url}/settings")
    page.locator("body[data-loaded='true']").wait_for()
    form = page.locator("#teams-form")
    form.get_by_label("Name").fill("billing")
    form.get_by_role("button", name="Add team").click()
    team = form.locator("#teams li[data-team='billing']")
    team.get_by_label("bob").check()
    page.wait_for_function(
        """async () => (await (await fetch('/api/v1/teams')).json())[0].members.join() === 'bob'"""
    )
    # an SLA policy for the team's conversations (a team that does not exist is refused)
    sla = page.locator("#sla-form")
    sla.get_by_role("button", name="policy").click()
    policy = sla.locator("fieldset").last
    policy.get_by_label("Name").fill("billing")
    policy.get_by_label("Teams").fill("billing, nope")
    sla.get_by_role("button", name="Save").click()
    sla.locator("[data-error='0.teams']", has_text="no team named nope").wait_for()
    sla.locator("fieldset").last.get_by_label("Teams").fill("billing")
    sla.get_by_role("button", name="Save").click()
    page.wait_for_function(
        """async () => (await (await fetch('/api/v1/settings/sla')).json())
            .some((policy) => policy.teams.join() === 'billing')"""
    )

    page.goto(f"{running.url}/")
    page.locator("#conversation-list button.conversation", has_text="Customer 5551001").click()
    page.locator("#messages li.message", has_text="Fattura sbagliata").wait_for()
    page.get_by_label("Team", exact=True).last.select_option("billing")
    page.locator("#messages li.activity", has_text="ada gave it to team billing").wait_for()
    page.locator("#filter-team").select_option("billing")
    listed = page.locator("#conversation-list button.conversation")
    page.wait_for_function(
        "() => document.querySelectorAll('#conversation-list button.conversation').length === 1"
    )
    assert "Customer 5551001" in listed.first.inner_text()

    # both picked in the list and given to the team together, then taken out of it
    page.locator("#filter-team").select_option("")
    page.wait_for_function(
        "() => document.querySelectorAll('#conversation-list button.conversation').length === 2"
    )
    for box in page.locator("#conversation-list input.pick").all():
        box.check()
    bulk = page.locator("#bulk-team")
    bulk.select_option("billing")
    page.locator("#bulk-bar").wait_for(state="hidden")

    def given() -> dict[str, str | None]:
        with session_scope(engine) as session:
            rows = session.exec(select(Conversation.thread_external_id, Conversation.team))
            return dict(rows.all())

    assert given() == {"5551001": "billing", "5551002": "billing"}
    page.wait_for_function(  # each list item names its team once the list reloads
        "() => document.querySelectorAll('#conversation-list .team-chip').length === 2"
    )
    assert bulk.input_value() == ""  # ready for the next pick
    for box in page.locator("#conversation-list input.pick").all():
        box.check()
    page.locator("#bulk-count", has_text="2 picked").wait_for()
    bulk.select_option(label="No team")
    page.locator("#bulk-bar").wait_for(state="hidden")
    assert given() == {"5551001": None, "5551002": None}
    with session_scope(engine) as session:
        events = session.exec(
            select(ConversationEvent.data).where(ConversationEvent.kind == "team")
        ).all()
    assert [e["team"] for e in events].count(None) == 2  # each out of the team, recorded

    page.goto(f"{running.url}/settings")  # renamed there, its SLA policy along
    page.locator("body[data-loaded='true']").wait_for()
    page.get_by_label("New name of billing").fill("fatture")
    page.locator("#teams li[data-team='billing']").get_by_role("button", name="Rename").click()
    page.locator("#teams li[data-team='fatture']").wait_for()
    policies = running.api.get("/api/v1/settings/sla").json()
    assert [p["teams"] for p in policies if p["teams"]] == [["fatture"]]
    assert browser.errors == []
