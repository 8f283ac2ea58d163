"""Shared fixtures: databases (SQLite, and PostgreSQL when configured) and a running daemon."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import pytest
from database_templates import migrated_postgres, migrated_sqlite, reset_postgres
from sqlalchemy import Engine
from sqlmodel import SQLModel

from sportello.api.app import create_app
from sportello.config.settings import Settings, load_settings
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.connectors.emulators.x import XEmulator
from sportello.connectors.tls import tls_context
from sportello.daemon import Daemon
from sportello.inbox.db import make_engine, migrate

if TYPE_CHECKING:
    from playwright.sync_api import Page

POSTGRES_ENV = "SPORTELLO_TEST_POSTGRES_URL"
API_TOKEN = "test-token"
TELEGRAM_TOKEN = "123456:TEST-token"
TELEGRAM_SECRET = "telegram-secret"
META_APP_SECRET = "meta-app-secret"
META_VERIFY_TOKEN = "meta-verify-token"
PAGE_ID = "104345678901234"
PAGE_TOKEN = "EAAPageToken"
PHONE_NUMBER_ID = "106540352242922"
WHATSAPP_TOKEN = "EAAWhatsAppToken"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite and, where configured, on a real PostgreSQL: a
    fresh database at the newest migration (``database_templates``). On PostgreSQL the
    previous test's schema is kept, emptied, unless the test is marked ``rebuilt_schema``
    (it reads the planner's statistics, which a kept schema remembers)."""
    rebuilt = request.node.get_closest_marker("rebuilt_schema") is not None
    return fresh_database(request.param, tmp_path, keep_schema=not rebuilt)


@pytest.fixture(params=["sqlite", "postgres"])
def unmigrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, for the tests of the migrations themselves."""
    return fresh_database(request.param, tmp_path, migrated=False)


def fresh_database(
    kind: str, directory: Path, *, migrated: bool = True, keep_schema: bool = False
) -> str:
    """The URL of a fresh database of ``kind`` (a SQLite file in ``directory``, or the
    configured PostgreSQL, emptied), at the newest migration unless ``migrated`` is False
    (``keep_schema``: see ``database_templates.migrated_postgres``); skips the test when
    PostgreSQL is not configured."""
    if kind == "sqlite":
        path = directory / "sportello.db"
        if migrated:
            migrated_sqlite(path)
        return f"sqlite:///{path}"
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    if migrated:
        migrated_postgres(url, keep_schema=keep_schema)
    else:
        reset_postgres(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database of each kind (see ``database_url``)."""
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database at the newest migration."""
    return fresh_database("sqlite", tmp_path)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class Loop(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


async def run_until(loop: Loop, predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Run a daemon loop (``run(stop)``) until ``predicate`` holds, then stop it; fail with
    ``TimeoutError`` after ``timeout`` seconds."""
    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running


@dataclass
class RunningDaemon:
    daemon: Daemon
    server: BackgroundServer
    api: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.api.close()
        self.server.stop()

    def post_webhook(self, channel: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/webhooks/{channel}", content=body, headers=headers, timeout=10
        )

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.api.get("/api/v1/messages", params=filters)
        response.raise_for_status()
        return response.json()["items"]  # type: ignore[no-any-return]


@pytest.fixture
def telegram_emulator() -> Iterator[tuple[TelegramEmulator, BackgroundServer]]:
    emulator = TelegramEmulator(TELEGRAM_TOKEN, secret=TELEGRAM_SECRET)
    server = BackgroundServer(emulator.app).start()
    yield emulator, server
    server.stop()


@pytest.fixture
def messenger_emulator() -> Iterator[tuple[GraphEmulator, BackgroundServer]]:
    emulator = GraphEmulator("messenger", PAGE_ID, PAGE_TOKEN, META_APP_SECRET)
    server = BackgroundServer(emulator.app).start()
    yield emulator, server
    server.stop()


@pytest.fixture
def whatsapp_emulator() -> Iterator[tuple[GraphEmulator, BackgroundServer]]:
    emulator = GraphEmulator("whatsapp", PHONE_NUMBER_ID, WHATSAPP_TOKEN, META_APP_SECRET)
    server = BackgroundServer(emulator.app).start()
    yield emulator, server
    server.stop()


def server_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """A client for a daemon under test that drops idle connections after 2 s, before
    uvicorn's 5 s keep-alive closes them: httpx's default (also 5 s) let a request go out on a
    connection the server was closing that moment ("connection reset by peer")."""
    kwargs.setdefault("timeout", 10)
    kwargs.setdefault("verify", tls_context())  # not a CA bundle loaded per client
    return httpx.Client(base_url=base_url, limits=httpx.Limits(keepalive_expiry=2.0), **kwargs)


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., RunningDaemon]]:
    """Start daemons (real uvicorn on loopback); each is stopped at the end of the test."""
    started: list[RunningDaemon] = []

    def start(settings: Settings, **daemon_kwargs: Any) -> RunningDaemon:
        running = run_daemon(settings, **daemon_kwargs)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.stop()


def run_daemon(settings: Settings, **daemon_kwargs: Any) -> RunningDaemon:
    """A daemon serving on loopback (real uvicorn); the caller stops it."""
    daemon = Daemon(settings, **daemon_kwargs)
    server = BackgroundServer(create_app(daemon)).start(timeout=30)
    api = server_client(server.url, headers={"Authorization": f"Bearer {API_TOKEN}"})
    return RunningDaemon(daemon, server, api)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    overrides.setdefault("api", {"tokens": [API_TOKEN]})
    return load_settings(None, database={"url": database_url}, **overrides)


def telegram_channel(api_base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "telegram": {
            "bot_token": TELEGRAM_TOKEN,
            "webhook_secret": TELEGRAM_SECRET,
            "api_base_url": api_base_url,
            **extra,
        }
    }


def messenger_channel(server_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "messenger": {
            "app_secret": META_APP_SECRET,
            "verify_token": META_VERIFY_TOKEN,
            "page_access_token": PAGE_TOKEN,
            "page_id": PAGE_ID,
            "graph_base_url": GraphEmulator.graph_url(server_url),
            **extra,
        }
    }


def whatsapp_channel(server_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "whatsapp": {
            "app_secret": META_APP_SECRET,
            "verify_token": META_VERIFY_TOKEN,
            "access_token": WHATSAPP_TOKEN,
            "phone_number_id": PHONE_NUMBER_ID,
            "graph_base_url": GraphEmulator.graph_url(server_url),
            **extra,
        }
    }


# X: our account, two customers, and an emulator of the X API v2 ---------------------

BRAND_ID, BRAND = "100", "sportello_it"
EMMA_ID, MARCO_ID = "2001", "2002"
SECRETS = {
    "bearer_token": "x-bearer",
    "consumer_key": "x-consumer-key",
    "consumer_secret": "x-consumer-secret",
    "access_token": "100-x-access-token",
    "access_token_secret": "x-access-secret",
}


def make_x_emulator() -> XEmulator:
    """Our X account and two customers, Emma and Marco."""
    emulator = XEmulator(
        user_id=BRAND_ID,
        username=BRAND,
        name="Sportello",
        bearer_token=SECRETS["bearer_token"],
        consumer_key=SECRETS["consumer_key"],
        consumer_secret=SECRETS["consumer_secret"],
        access_token=SECRETS["access_token"],
        access_token_secret=SECRETS["access_token_secret"],
    )
    emulator.add_user(EMMA_ID, "emmac", "Emma Clarke")
    emulator.add_user(MARCO_ID, "marcob", "Marco Bianchi")
    return emulator


@pytest.fixture
def x_emulator() -> Iterator[tuple[XEmulator, BackgroundServer]]:
    emulator = make_x_emulator()
    server = BackgroundServer(emulator.app).start()
    yield emulator, server
    server.stop()


def x_channel(api_base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "x": {
            **SECRETS,
            "user_id": BRAND_ID,
            "api_base_url": api_base_url,
            "poll_interval_s": 0.2,
            **extra,
        }
    }


# The web inbox in a real browser ---------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Browser:
    page: Page
    errors: list[str]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A page of Debian's headless Chromium (never a downloaded one), at laptop size."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no Chromium binary (install Debian's with `make browser`)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(
            viewport={"width": 1366, "height": 768}, locale="en-GB", timezone_id="Europe/Rome"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield Browser(page, errors)
        context.close()  # closes the event stream before the daemon stops
        chromium.close()


@pytest.fixture
def fresh_orm_caches() -> None:
    """Empty every mapper's cache of compiled statements, for a test that counts cycles.

    SQLAlchemy keeps them per mapper, process-wide, 100 each, keyed by every test's engine,
    and once over 150 lets a third go at once: dropped while a test measures, an earlier
    test's statements read as the measured work's cycles. Empty before the warm-up.
    """
    for mapper in SQLModel._sa_registry.mappers:
        mapper._compiled_cache.clear()


def cycles_left_by(work: Callable[[], object]) -> Counter[str]:
    """The objects ``work`` left in reference cycles, by type (only the collector frees them)."""
    gc.collect()
    gc.disable()
    try:
        work()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return Counter(type(o).__qualname__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
