"""Integration webhooks end to end: real deliveries (Telegram webhooks, the REST API) queue
events in their own transactions; the daemon POSTs them, signed, to a local receiver that
can fail, refuse or be down; nothing is lost, and a refusal shows in the API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agent_helpers import sign_in
from conftest import (
    TELEGRAM_SECRET,
    Browser,
    RunningDaemon,
    make_settings,
    telegram_channel,
    wait_for,
)
from fastapi import FastAPI, Request, Response
from sqlmodel import func, select

from sportello import scheduler
from sportello.config.settings import ConfigError, load_settings
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.daemon import Daemon
from sportello.inbox import accounts, housekeeping, integration_events, integration_sender, outbox
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.erasure import erase_customer
from sportello.inbox.ingest import ingest
from sportello.inbox.integration_tables import WebhookDelivery
from sportello.inbox.models import Customer

SECRET = "crm-secret"
GIULIA = tg.user(5551001, "Giulia", "Rossi")


@dataclass
class Receiver:
    """A CRM's endpoint: records what it got; answers ``faults`` first (status codes)."""

    received: list[dict[str, Any]] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks/sportello")
        async def hook(request: Request) -> Response:
            body = await request.body()
            if self.faults:
                return Response(status_code=self.faults.pop(0), content="not now")
            self.received.append({"body": json.loads(body), "headers": dict(request.headers),
                                  "raw": body})  # fmt: skip
            return Response(status_code=204)

        return app

    def events(self) -> list[str]:
        return [r["body"]["event"] for r in self.received]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, BackgroundServer]]:
    found = Receiver()
    server = BackgroundServer(found.app()).start()
    yield found, server
    server.stop()


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "WEBHOOKS_INTERVAL_S", 0.2)
    monkeypatch.setattr(outbox, "FIRST_BACKOFF_S", 0.1)


def _hooks(url: str, **extra: Any) -> dict[str, Any]:
    return {"webhooks": [{"name": "crm", "url": url, "secret": SECRET, **extra}]}


def _says(running: RunningDaemon, update_id: int, text: str) -> None:
    message = tg.message(update_id, GIULIA, int(time.time()), text=text)
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    update = json.dumps(tg.update(update_id, message=message)).encode()
    assert running.post_webhook("telegram", update, headers).status_code == 200


def test_events_reach_the_receiver_signed_in_order_and_once(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    receiver: tuple[Receiver, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    found, server = receiver
    found.faults = [503, 500]  # the CRM is restarting: two tries fail
    _, telegram = telegram_emulator
    running = start_daemon(
        make_settings(
            database_url,
            channels=telegram_channel(telegram.url),
            integrations=_hooks(f"{server.url}/hooks/sportello"),
        )
    )
    _says(running, 900001, "Il mio ordine 4411?")
    conversation_id = wait_for(lambda: running.messages(direction="in"))[0]["conversation_id"]
    path = f"/api/v1/conversations/{conversation_id}"
    running.api.post(f"{path}/messages", json={"text": "Arriva domani!"})
    running.api.patch(path, json={"status": "resolved"})
    wanted = ["conversation.opened", "message.created", "message.created", "conversation.resolved"]
    wait_for(lambda: found.events() == wanted, timeout=20)  # in order, despite the faults

    opened, said, answered, resolved = (r["body"] for r in found.received)
    assert said["data"]["text"] == "Il mio ordine 4411?" and said["data"]["direction"] == "in"
    assert said["data"]["conversation_id"] == conversation_id == opened["data"]["conversation_id"]
    assert (answered["data"]["author"], answered["data"]["sent_by"]) == ("agent", "api")
    assert resolved["data"]["actor"] == "api" and resolved["data"]["kind"] == "resolved"
    for request in found.received:
        headers = request["headers"]
        expected = hmac.new(SECRET.encode(), request["raw"], hashlib.sha256).hexdigest()
        assert headers["x-sportello-signature"] == f"sha256={expected}"
        assert headers["x-sportello-event"] == request["body"]["event"]
        assert headers["x-sportello-delivery"] == str(request["body"]["id"])
    deliveries = running.api.get("/api/v1/integrations/deliveries").json()
    assert {d["state"] for d in deliveries} == {"delivered"} and len(deliveries) == 4
    assert max(d["attempts"] for d in deliveries) == 3  # the first waited out both faults
    time.sleep(0.5)  # another round or two: nothing is sent twice
    assert len(found.received) == 4


def test_a_refusal_fails_at_once_shows_and_can_be_retried(
    sqlite_url: str,
    receiver: tuple[Receiver, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    found, server = receiver
    found.faults = [400]
    running = start_daemon(
        make_settings(
            sqlite_url,
            integrations=_hooks(f"{server.url}/hooks/sportello", events=["conversation.*"]),
        )
    )
    event = tg_event("Ciao")
    with session_scope(running.daemon.engine) as session:
        ingest(session, [event], now=event.sent_at)  # only conversation.* is wanted

    def failed() -> list[dict[str, Any]]:
        return running.api.get("/api/v1/integrations/deliveries", params={"state": "failed"}).json()

    (refused,) = wait_for(failed, timeout=10)
    assert refused["event"] == "conversation.opened" and refused["attempts"] == 1
    assert refused["last_error"] == "HTTP 400: not now"
    assert found.received == []
    retried = running.api.post(f"/api/v1/integrations/deliveries/{refused['id']}/retry")
    assert retried.status_code == 200 and retried.json()["state"] == "pending"
    wait_for(lambda: found.events() == ["conversation.opened"], timeout=10)
    again = running.api.post(f"/api/v1/integrations/deliveries/{refused['id']}/retry")
    assert again.status_code == 409


def tg_event(text: str) -> Any:
    from sportello.connectors.base import InboundMessage, Person, Thread

    return InboundMessage(
        "telegram", "5551001:1", Thread("5551001"), Person("5551001", "Giulia Rossi"),
        datetime.now(UTC), text=text,
    )  # fmt: skip


def test_queued_in_the_same_transaction_kept_through_a_restart_and_erased(
    database_url: str,
    receiver: tuple[Receiver, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    found, server = receiver
    settings = make_settings(
        database_url,
        integrations=_hooks("http://127.0.0.1:9/down"),  # nobody listens
    )
    engine = make_engine(database_url)
    migrate(engine)
    integration_events.subscribe(engine, settings.integrations.webhooks)
    try:
        event = tg_event("Ciao")
        with session_scope(engine) as session:  # a transaction that rolls back queues nothing
            ingest(session, [event], now=event.sent_at)
            session.rollback()
        with session_scope(engine) as session:
            ingest(session, [event], now=event.sent_at)
            assert session.exec(select(func.count()).select_from(WebhookDelivery)).one() == 2
    finally:
        integration_events.subscribe(engine, [])
    with session_scope(engine) as session:
        ingest(session, [tg_event("Ancora io")], now=event.sent_at)  # not subscribed: none
        assert session.exec(select(func.count()).select_from(WebhookDelivery)).one() == 2
    engine.dispose()

    # the daemon comes up with the CRM at its real address: what waited is delivered
    moved = settings.model_copy(
        update={"integrations": load_settings(
            None, integrations=_hooks(f"{server.url}/hooks/sportello")
        ).integrations}
    )  # fmt: skip
    running = start_daemon(moved)
    wait_for(lambda: found.events() == ["conversation.opened", "message.created"], timeout=10)
    # erasing the customer erases the deliveries with their text
    with session_scope(running.daemon.engine) as session:
        customer = session.exec(select(Customer)).one()
        hooks = running.daemon.erase_hooks
        erase_customer(session, customer, at=datetime.now(UTC), actor="ada", hooks=hooks)
        assert session.exec(select(func.count()).select_from(WebhookDelivery)).one() == 0


def test_webhook_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="http"):
        load_settings(None, integrations={"webhooks": [{"name": "a", "url": "ftp://x"}]})
    twice = [{"name": "a", "url": "http://x"}, {"name": "a", "url": "http://y"}]
    with pytest.raises(ConfigError, match="unique"):
        load_settings(None, integrations={"webhooks": twice})


def test_the_settings_page_shows_the_webhooks_and_sends_a_failure_again(
    sqlite_url: str,
    receiver: tuple[Receiver, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    found, server = receiver
    found.faults = [422]
    running = start_daemon(
        make_settings(sqlite_url, integrations=_hooks(f"{server.url}/hooks/sportello"))
    )
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "ada", "ada-password", "admin", datetime.now(UTC))
        event = tg_event("Ciao")
        ingest(session, [event], now=event.sent_at)
    webhooks = "/api/v1/integrations/webhooks"

    def counts() -> dict[str, int]:
        return running.api.get(webhooks).json()[0]["deliveries"]  # type: ignore[no-any-return]

    wait_for(lambda: counts() == {"pending": 0, "delivered": 1, "failed": 1}, timeout=10)
    (shown,) = running.api.get(webhooks).json()
    assert (shown["name"], shown["signed"], shown["events"]) == ("crm", True, ["*"])

    page = browser.page
    sign_in(page, running.url, "ada")
    page.goto(f"{running.url}/settings")
    crm = page.locator("#webhooks li[data-webhook='crm']")
    crm.wait_for()
    assert "0 pending · 1 delivered · 1 failed" in crm.inner_text()
    failure = page.locator("#webhook-failures li[data-delivery]")
    assert "conversation.opened" in failure.inner_text() and "HTTP 422" in failure.inner_text()
    failure.get_by_role("button", name="Send again").click()
    wait_for(lambda: sorted(found.events()) == ["conversation.opened", "message.created"])
    page.reload()
    page.locator("#webhook-failures li", has_text="None.").wait_for()
    # a test event, whatever the webhook's events
    crm.get_by_role("button", name="Send a test event").click()
    wait_for(lambda: "ping" in found.events())
    ping = next(r["body"] for r in found.received if r["body"]["event"] == "ping")
    assert (ping["data"]["webhook"], ping["data"]["by"]) == ("crm", "ada")
    missing = running.api.post(f"{webhooks}/nope/ping")
    assert missing.status_code == 404
    assert browser.errors == []


def test_a_webhook_that_is_down_never_holds_the_others_back(
    sqlite_url: str,
    receiver: tuple[Receiver, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(integration_sender, "BATCH", 2)  # its backlog fills a read at once
    found, server = receiver
    hooks = {
        "webhooks": [
            {"name": "archive", "url": "http://127.0.0.1:9/down"},  # nobody listens
            {"name": "crm", "url": f"{server.url}/hooks/sportello"},
        ]
    }
    running = start_daemon(make_settings(sqlite_url, integrations=hooks))
    with session_scope(running.daemon.engine) as session:
        session.add(  # queued for a webhook since removed from the configuration
            WebhookDelivery(
                webhook="old", event="ping", created_at=datetime.now(UTC),
                next_attempt_at=datetime.now(UTC),
            )
        )  # fmt: skip
        event = tg_event("Ciao")
        ingest(session, [event], now=event.sent_at)
        for n in range(3):
            later = replace(event, external_id=f"5551001:{n + 2}", text=f"Ancora {n}")
            ingest(session, [later], now=event.sent_at)
    wait_for(lambda: len(found.events()) == 5, timeout=10)  # opened and four messages
    gone = running.api.get("/api/v1/integrations/deliveries", params={"webhook": "old"}).json()
    assert [(d["state"], d["last_error"]) for d in gone] == [
        ("failed", "the webhook is no longer configured")
    ]
    archive = running.api.get("/api/v1/integrations/deliveries", params={"webhook": "archive"})
    assert {d["state"] for d in archive.json()} == {"pending"}


def test_finished_deliveries_are_deleted_after_their_keep_pending_ones_never(
    database_url: str,
) -> None:
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    settings = make_settings(
        database_url,
        integrations={**_hooks("http://127.0.0.1:9/down"), "keep_failed": "30d"},
    )  # keep_delivered: the default, 7 days
    daemon = Daemon(settings, clock=FrozenClock(now))
    migrate(daemon.engine)
    ages = {  # name: (state, days since it was due, days since it was delivered)
        "old-delivered": ("delivered", 8, 8),
        "young-delivered": ("delivered", 6, 6),
        "held-back": ("delivered", 9, 2),  # due long ago, delivered when the receiver came back
        "old-failed": ("failed", 31, None),
        "young-failed": ("failed", 10, None),
        "old-pending": ("pending", 40, None),
    }
    with session_scope(daemon.engine) as session:
        for name, (state, due_days, delivered_days) in ages.items():
            session.add(
                WebhookDelivery(
                    webhook="crm",
                    event=name,
                    created_at=now - timedelta(days=due_days),
                    next_attempt_at=now - timedelta(days=due_days),
                    state=state,
                    delivered_at=None
                    if delivered_days is None
                    else now - timedelta(days=delivered_days),
                )
            )
    job = next(
        j for j in scheduler.periodic_jobs(daemon) if j.name == "retention:webhook-deliveries"
    )
    assert asyncio.run(scheduler.run_job(daemon, job))
    with session_scope(daemon.engine) as session:
        kept = sorted(session.exec(select(WebhookDelivery.event)).all())
    assert kept == ["held-back", "old-pending", "young-delivered", "young-failed"]
    with session_scope(daemon.engine) as session:  # months later, only what is owed stays
        later = now + timedelta(days=90)
        assert housekeeping.trim_webhook_deliveries(session, later, settings.integrations) == 3
        assert session.exec(select(WebhookDelivery.event)).all() == ["old-pending"]
    daemon.engine.dispose()
