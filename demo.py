"""``sportello demo``: the daemon on SQLite, fed by local emulators of every platform."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import httpx

from sportello.cli import serve
from sportello.config.settings import load_settings
from sportello.connectors.emulators.demo_platforms import DemoCustomer, DemoPlatform, demo_platforms
from sportello.inbox import accounts
from sportello.inbox.clock import Clock
from sportello.inbox.db import make_engine, migrate, session_scope

log = logging.getLogger(__name__)

DEMO_TOKEN = "demo"
DEMO_USER = ("demo", "demo")  # an admin of the web inbox: name, password

CUSTOMERS = {
    "giulia": DemoCustomer("Giulia", "Rossi", "it", {"telegram": "5551001"}, handle="giuliar"),
    "marco": DemoCustomer("Marco", "Bianchi", "it", {"telegram": "5551002"}),
    "emma": DemoCustomer("Emma", "Clarke", "en", {"telegram": "5551003"}, handle="emmac"),
}

# (seconds after start, customer, channel, text)
SCRIPT: list[tuple[float, str, str, str]] = [
    (1, "giulia", "telegram", "Ciao! Il mio ordine 4411 non è ancora arrivato, potete aiutarmi?"),
    (3, "emma", "telegram", "Hi, I was charged twice for my subscription. Please fix this asap."),
    (5, "marco", "telegram", "Servizio fantastico, grazie mille per la velocità!"),
    (8, "giulia", "telegram", "Sono passati 10 giorni, è una vergogna. Voglio un rimborso."),
    (12, "emma", "telegram", "Any news? Still waiting for the refund."),
]


def run_demo(*, port: int, data_dir: Path, fresh: bool) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "demo.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    daemon_url = f"http://127.0.0.1:{port}"
    platforms = demo_platforms()
    channels = {p.channel: p.start(daemon_url) for p in platforms}
    settings = load_settings(
        None,
        database={"url": f"sqlite:///{database}"},
        api={"tokens": [DEMO_TOKEN]},
        channels=channels,
    )
    _add_demo_user(settings.database.url)
    player = threading.Thread(target=_play, args=(daemon_url, platforms), daemon=True)
    player.start()
    print(
        f"\n  sportello demo on {daemon_url}\n"
        f"  web inbox: {daemon_url}/   login: {DEMO_USER[0]} / password: {DEMO_USER[1]}\n"
        f"  API docs: {daemon_url}/docs   API token: {DEMO_TOKEN}\n"
        f"  try: curl -H 'Authorization: Bearer {DEMO_TOKEN}' {daemon_url}/api/v1/conversations\n",
        flush=True,
    )
    try:
        serve(settings, "127.0.0.1", port)
    finally:
        for platform in platforms:
            platform.stop()


def _add_demo_user(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with session_scope(engine) as session:
            accounts.ensure_user(session, *DEMO_USER, role="admin", now=Clock().now())
    finally:
        engine.dispose()


def _play(daemon_url: str, platforms: list[DemoPlatform]) -> None:
    if not _wait_ready(daemon_url):
        log.error("demo daemon never became ready; no traffic played")
        return
    by_channel = {p.channel: p for p in platforms}
    asyncio.run(_play_script(by_channel))


async def _play_script(by_channel: dict[str, DemoPlatform]) -> None:
    start = time.monotonic()
    for at, customer, channel, text in SCRIPT:
        platform = by_channel.get(channel)
        if platform is None:
            continue
        await asyncio.sleep(max(0.0, at - (time.monotonic() - start)))
        try:
            await platform.say(CUSTOMERS[customer], text)
        except Exception as exc:  # the demo goes on if one delivery fails
            log.warning("demo delivery on %s failed: %s", channel, exc)


def _wait_ready(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False
