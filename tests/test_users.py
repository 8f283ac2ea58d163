"""Users, passwords, web sessions, roles and personal API tokens."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import (
    TELEGRAM_SECRET,
    RunningDaemon,
    make_settings,
    server_client,
    telegram_channel,
    wait_for,
)
from sqlalchemy import Engine
from sqlmodel import select
from typer.testing import CliRunner

from sportello.api.login_throttle import PER_ADDRESS, PER_NAME, WINDOW, LoginThrottle
from sportello.cli import app as cli_app
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import accounts
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import make_engine, session_scope
from sportello.inbox.models import ConversationEvent
from sportello.inbox.users import ApiToken, User, UserSession

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_passwords_are_hashed_and_checked(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = accounts.create_user(session, "ada", "correct horse", "admin", T0)
        assert user.password_hash.startswith("$argon2")
        assert "correct horse" not in user.password_hash
    with session_scope(engine) as session:
        assert accounts.authenticate(session, "ada", "correct horse") is not None
        assert accounts.authenticate(session, "ada", "wrong horse") is None
        assert accounts.authenticate(session, "nobody", "correct horse") is None
        with pytest.raises(accounts.AccountError, match="already exists"):
            accounts.create_user(session, "ada", "another one", "agent", T0)
        with pytest.raises(accounts.AccountError, match="unknown role"):
            accounts.create_user(session, "bob", "password1", "owner", T0)
        with pytest.raises(accounts.AccountError, match="user name"):
            accounts.create_user(session, "bad name!", "password1", "agent", T0)


def test_sessions_expire_and_end_with_a_new_password(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = accounts.create_user(session, "bob", "first password", "agent", T0)
        token, row = accounts.open_session(session, user, T0)
        assert row.token_hash != token and len(row.csrf_token) >= 24
    with session_scope(engine) as session:
        found = accounts.session_user(session, token, T0 + timedelta(days=1))
        assert found is not None and found[0].name == "bob"
        assert accounts.session_user(session, token, T0 + accounts.SESSION_TTL) is None
        assert accounts.session_user(session, "made-up", T0) is None
    with session_scope(engine) as session:
        bob = accounts.find_user(session, "bob")
        assert bob is not None
        token, _ = accounts.open_session(session, bob, T0)
        accounts.set_password(session, bob, "second password")
    with session_scope(engine) as session:
        assert accounts.session_user(session, token, T0) is None
        assert session.exec(select(UserSession)).all() == []
        assert accounts.authenticate(session, "bob", "second password") is not None


def test_api_tokens_are_stored_only_as_digests(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = accounts.create_user(session, "bob", "a password", "agent", T0)
        secret, row = accounts.create_api_token(session, user, "nightly export", T0)
        token_id = row.id
        assert token_id is not None
    assert secret.startswith("spt_") and len(secret) > 40
    with session_scope(engine) as session:
        stored = session.exec(select(ApiToken)).one()
        assert secret not in json.dumps(stored.model_dump(), default=str)
        assert secret.startswith(stored.prefix)
        owner = accounts.token_user(session, secret, T0 + timedelta(hours=1))
        assert owner is not None and owner.name == "bob"
        assert stored.last_used_at == T0 + timedelta(hours=1)
        assert accounts.token_user(session, secret[:-1] + "x", T0) is None
        assert accounts.revoke_api_token(session, owner, token_id)
    with session_scope(engine) as session:
        assert accounts.token_user(session, secret, T0) is None


def test_cli_adds_lists_and_changes_passwords(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPORTELLO_DATABASE__URL", sqlite_url)
    runner = CliRunner()
    added = runner.invoke(
        cli_app, ["users", "add", "ada", "--role", "admin", "--password-stdin"], "s3cret-pass\n"
    )
    assert added.exit_code == 0, added.output
    add_bob = ["users", "add", "bob", "--languages", "it,EN", "--channels", "X,whatsapp"]
    assert runner.invoke(cli_app, [*add_bob, "--password-stdin"], "bob-password\n").exit_code == 0
    listed = runner.invoke(cli_app, ["users", "list"])
    assert re.search(r"^ada\tadmin\t.*\t\tall$", listed.output, re.M)
    assert re.search(r"^bob\tagent\t.*\tit,en\twhatsapp,x$", listed.output, re.M)
    speaks = runner.invoke(cli_app, ["users", "speaks", "ada", "en, fr"])
    assert speaks.exit_code == 0 and "ada speaks: en, fr" in speaks.output
    wrong = runner.invoke(cli_app, ["users", "speaks", "ada", "english"])
    assert wrong.exit_code == 2 and "not two-letter language codes: english" in wrong.output
    handles = runner.invoke(cli_app, ["users", "handles", "bob", "telegram"])
    assert handles.exit_code == 0 and "bob handles: telegram" in handles.output
    every = runner.invoke(cli_app, ["users", "handles", "bob", ""])
    assert every.exit_code == 0 and "bob handles: every channel" in every.output
    wrong = runner.invoke(cli_app, ["users", "handles", "bob", "email"])
    assert wrong.exit_code == 2 and "not channels: email" in wrong.output

    again = runner.invoke(cli_app, ["users", "add", "ada", "--password-stdin"], "whatever-pass\n")
    assert again.exit_code == 2 and "already exists" in again.output
    short = runner.invoke(cli_app, ["users", "add", "cy", "--password-stdin"], "short\n")
    assert short.exit_code == 2 and "at least 8" in short.output

    changed = runner.invoke(cli_app, ["users", "passwd", "bob", "--password-stdin"], "new-pass-1\n")
    assert changed.exit_code == 0, changed.output
    missing = runner.invoke(cli_app, ["users", "passwd", "zed", "--password-stdin"], "new-pass-1\n")
    assert missing.exit_code == 2
    token = runner.invoke(cli_app, ["users", "token", "bob", "--label", "script"])
    assert token.exit_code == 0 and token.output.strip().startswith("spt_")

    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        assert accounts.authenticate(session, "bob", "new-pass-1") is not None
        assert accounts.authenticate(session, "ada", "s3cret-pass").role == "admin"  # type: ignore[union-attr]
        assert accounts.token_user(session, token.output.strip(), T0).name == "bob"  # type: ignore[union-attr]
    engine.dispose()


# --- over HTTP -------------------------------------------------------------------------


def _add_users(running: RunningDaemon) -> None:
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "ada", "ada-password", "admin", T0)
        accounts.create_user(session, "bob", "bob-password", "agent", T0)


def _login(base_url: str, name: str, password: str, **headers: str) -> httpx.Client:
    client = server_client(base_url, headers=headers)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"name": name, "password": password, "csrf": csrf})
    assert response.status_code == 303, response.text
    return client


def _csrf(client: httpx.Client) -> str:
    page = client.get("/")
    boot = re.search(r'<script id="boot" type="application/json">(.+?)</script>', page.text)
    return json.loads(boot.group(1))["csrf"]  # type: ignore[union-attr,no-any-return]


def test_login_session_cookie_and_logout(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(database_url))
    _add_users(running)
    anonymous = server_client(running.url)
    assert anonymous.get("/").status_code == 303
    assert anonymous.get("/").headers["location"] == "/login"
    form = anonymous.get("/login")
    assert form.status_code == 200 and 'name="password"' in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    wrong = anonymous.post("/login", data={"name": "bob", "password": "nope", "csrf": csrf})
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text
    forged = httpx.post(
        f"{running.url}/login", data={"name": "bob", "password": "bob-password", "csrf": "x"}
    )
    assert forged.status_code == 403 and "sportello_session" not in forged.headers.get(
        "set-cookie", ""
    )

    bob = _login(running.url, "bob", "bob-password")
    cookie = next(h for h in bob.cookies.jar if h.name == "sportello_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert bob.get("/login").headers["location"] == "/"  # already signed in
    second = _login(running.url, "bob", "bob-password")
    assert second.get("/api/v1/me").json() == {
        "name": "bob",
        "role": "agent",
        "via": "session",
        "available": False,
    }
    inbox = bob.get("/")
    assert inbox.status_code == 200 and 'id="conversation-list"' in inbox.text

    assert bob.post("/logout", data={"csrf": "wrong"}).status_code == 303
    assert bob.get("/api/v1/me").status_code == 200  # a forged logout does nothing
    assert bob.post("/logout", data={"csrf": _csrf(bob)}).status_code == 303
    assert bob.get("/api/v1/me").status_code == 401
    with session_scope(running.daemon.engine) as session:
        assert len(session.exec(select(UserSession)).all()) == 1  # the second login only


def test_failed_sign_ins_are_slowed_per_name_and_per_address(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    _add_users(running)

    def sign_in(name: str, password: str, address: str = "198.51.100.1") -> httpx.Response:
        client = server_client(running.url, headers={"X-Forwarded-For": address})
        form = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        return client.post("/login", data={"name": name, "password": password, "csrf": csrf})

    for _ in range(PER_NAME):
        assert sign_in("bob", "guess").status_code == 401
    refused = sign_in("Bob", "bob-password", "203.0.113.9")  # even right, from elsewhere
    assert refused.status_code == 429 and "Troppi tentativi falliti" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= WINDOW.total_seconds()
    assert sign_in("ada", "ada-password").status_code == 303  # another name signs in

    for attempt in range(PER_ADDRESS):  # one address guessing many names
        assert sign_in(f"guess{attempt}", "guess", "192.0.2.5").status_code == 401
    assert sign_in("ada", "ada-password", "192.0.2.5").status_code == 429
    assert sign_in("ada", "ada-password", "192.0.2.6").status_code == 303


def test_the_throttle_lets_a_name_try_again_once_its_failures_leave_the_window() -> None:
    throttle = LoginThrottle(window=timedelta(minutes=15), per_name=2, per_address=10)
    for minute in (0, 5):
        throttle.failed("bob", "192.0.2.5", T0 + timedelta(minutes=minute))
    assert throttle.wait("BOB", "192.0.2.9", T0 + timedelta(minutes=6)) == timedelta(minutes=9)
    assert throttle.wait("bob", "192.0.2.9", T0 + timedelta(minutes=15)) is None
    throttle.failed("bob", "192.0.2.5", T0 + timedelta(minutes=16))
    assert throttle.wait("bob", "192.0.2.5", T0 + timedelta(minutes=17)) == timedelta(minutes=3)
    throttle.succeeded("bob")  # the right password, once allowed, forgets the name's failures
    assert throttle.wait("bob", "192.0.2.5", T0 + timedelta(minutes=17)) is None


def test_roles_csrf_and_the_acting_user(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, emulator_server = telegram_emulator
    running = start_daemon(
        make_settings(database_url, channels=telegram_channel(emulator_server.url))
    )
    _add_users(running)
    sender = tg.user(5551001, "Giulia", "Rossi")
    update = tg.update(700001, message=tg.message(1, sender, int(time.time()), text="ciao"))
    running.post_webhook(
        "telegram",
        json.dumps(update).encode(),
        {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    conversation_id = wait_for(lambda: running.messages(channel="telegram"))[0]["conversation_id"]

    bob, ada = (
        _login(running.url, "bob", "bob-password"),
        _login(running.url, "ada", "ada-password"),
    )
    assert bob.get("/api/v1/users").status_code == 403
    assert (
        bob.post(
            "/api/v1/users",
            json={"name": "eve", "password": "eve-password"},
            headers={"X-CSRF-Token": _csrf(bob)},
        ).status_code
        == 403
    )
    assert {u["name"] for u in ada.get("/api/v1/users").json()} == {"ada", "bob"}
    assert running.api.get("/api/v1/users").status_code == 200  # api.tokens act as admin
    assert running.api.get("/api/v1/me").json() == {
        "name": "api",
        "role": "admin",
        "via": "config",
        "available": None,
    }

    path = f"/api/v1/conversations/{conversation_id}"
    assert bob.patch(path, json={"assignee": "bob"}).status_code == 403  # no CSRF header
    bad = bob.patch(path, json={"assignee": "bob"}, headers={"X-CSRF-Token": "nope"})
    assert bad.status_code == 403
    ok = bob.patch(path, json={"assignee": "bob"}, headers={"X-CSRF-Token": _csrf(bob)})
    assert ok.status_code == 200 and ok.json()["assignee"] == "bob"
    # the team, for every agent: to hand a conversation over or name a colleague
    assert bob.get("/api/v1/agents").json() == [
        {"name": "ada", "available": False, "open_conversations": 0},
        {"name": "bob", "available": False, "open_conversations": 1},
    ]
    assert server_client(running.url).get("/api/v1/agents").status_code == 401
    with session_scope(running.daemon.engine) as session:
        event = session.exec(
            select(ConversationEvent).where(ConversationEvent.kind == "assigned")
        ).one()
        assert event.actor == "bob"

    # Agents cannot change business hours, away rules or SLAs, nor erase customers.
    csrf = {"X-CSRF-Token": _csrf(bob)}
    hours = {"timezone": "Europe/Rome", "mon": ["09:00-18:00"]}
    assert bob.put("/api/v1/settings/business-hours", json=hours, headers=csrf).status_code == 403
    assert bob.put("/api/v1/settings/sla", json=[], headers=csrf).status_code == 403
    assert bob.put("/api/v1/settings/away-messages", json=[], headers=csrf).status_code == 403
    customer_id = running.messages(channel="telegram")[0]["customer_id"]
    assert bob.delete(f"/api/v1/customers/{customer_id}", headers=csrf).status_code == 403
    assert bob.get("/settings").status_code == 403
    ada_csrf = {"X-CSRF-Token": _csrf(ada)}
    saved = ada.put("/api/v1/settings/business-hours", json=hours, headers=ada_csrf)
    assert saved.status_code == 200 and saved.json()["mon"] == ["09:00-18:00"]
    assert ada.get("/settings").status_code == 200


def test_personal_api_tokens_over_http(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(database_url))
    _add_users(running)
    bob = _login(running.url, "bob", "bob-password")
    csrf = {"X-CSRF-Token": _csrf(bob)}
    created = bob.post("/api/v1/tokens", json={"label": "reports"}, headers=csrf)
    assert created.status_code == 201
    secret = created.json()["token"]
    listed = bob.get("/api/v1/tokens").json()
    assert [t["label"] for t in listed] == ["reports"] and "token" not in listed[0]
    assert secret not in bob.get("/api/v1/tokens").text

    script = server_client(running.url, headers={"Authorization": f"Bearer {secret}"})
    assert script.get("/api/v1/me").json() == {
        "name": "bob",
        "role": "agent",
        "via": "token",
        "available": False,
    }
    assert script.get("/api/v1/conversations").status_code == 200
    assert script.get("/api/v1/users").status_code == 403
    # a bearer token needs no CSRF header: it is never sent by a browser on its own
    assert script.post("/api/v1/tokens", json={"label": "second"}).status_code == 201
    assert running.api.get("/api/v1/tokens").status_code == 403  # config tokens have no owner

    token_id = created.json()["id"]
    assert bob.delete(f"/api/v1/tokens/{token_id}", headers=csrf).status_code == 204
    assert script.get("/api/v1/me").status_code == 401
    assert bob.delete(f"/api/v1/tokens/{token_id}", headers=csrf).status_code == 404
    with session_scope(running.daemon.engine) as session:
        stored = session.exec(select(ApiToken)).all()
        assert len(stored) == 1 and all(secret not in t.token_hash for t in stored)


def test_admin_creates_users_through_the_api(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    weak = running.api.post("/api/v1/users", json={"name": "cy", "password": "short"})
    assert weak.status_code == 422 and "at least" in weak.json()["detail"]
    made = running.api.post(
        "/api/v1/users", json={"name": "cy", "password": "cy-password", "role": "agent"}
    )
    assert made.status_code == 201 and made.json()["role"] == "agent"
    cy = _login(running.url, "cy", "cy-password")
    assert cy.get("/api/v1/me").json()["role"] == "agent"
    with session_scope(running.daemon.engine) as session:
        assert (
            session.exec(select(User).where(User.name == "cy"))
            .one()
            .password_hash.startswith("$argon2")
        )


def test_interface_language_follows_the_browser_and_the_switch(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    english = httpx.get(f"{running.url}/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "Sign in" in english.text and '<html lang="en">' in english.text
    italian = httpx.get(f"{running.url}/login", headers={"Accept-Language": "it-IT,en;q=0.5"})
    assert "Accedi" in italian.text
    weighted = httpx.get(f"{running.url}/login", headers={"Accept-Language": "de, en;q=0.9"})
    assert "Sign in" in weighted.text
    client = server_client(running.url, headers={"Accept-Language": "en"})
    switched = client.get("/language/it", params={"next": "https://evil.example/"})
    assert switched.headers["location"] == "/"
    assert "Accedi" in client.get("/login").text


def test_clock_controls_session_expiry_over_http(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    clock = FrozenClock(datetime.now(UTC))
    running = start_daemon(make_settings(sqlite_url), clock=clock)
    _add_users(running)
    bob = _login(running.url, "bob", "bob-password")
    assert bob.get("/api/v1/me").status_code == 200
    clock.advance(accounts.SESSION_TTL + timedelta(seconds=1))
    assert bob.get("/api/v1/me").status_code == 401
    assert bob.get("/").headers["location"] == "/login"
    assert running.api.get("/api/v1/me").status_code == 200
