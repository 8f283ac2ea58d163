"""Telegram in polling mode: getUpdates with a stored offset, exactly once across restarts."""

from __future__ import annotations

import time
from collections.abc import Callable

from conftest import RunningDaemon, make_settings, telegram_channel, wait_for
from sqlmodel import Session

from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox.models import ChannelCursor

ANNA = tg.user(5553001, "Anna", "Neri", language_code="it")


def _queue(emulator: TelegramEmulator, n: int) -> None:
    message = tg.message(n, ANNA, int(time.time()), text=f"ciao {n}")
    emulator.pending_updates.append(tg.update(800000 + n, message=message))


def test_polling_survives_restarts_and_rate_limits(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, emulator_server = telegram_emulator
    settings = make_settings(
        database_url,
        channels=telegram_channel(emulator_server.url, mode="polling", poll_interval_s=0.2),
    )
    for n in range(1, 4):
        _queue(emulator, n)
    emulator.webhook_url = "https://old.example.invalid/hook"  # left over: polling drops it
    first = start_daemon(settings)
    wait_for(lambda: len(first.messages(channel="telegram")) == 3)
    with Session(first.daemon.engine) as session:
        cursor = session.get(ChannelCursor, "telegram:updates")
        assert cursor is not None
        assert cursor.value == "800004"
    first.server.stop()

    # Telegram keeps updates until a later offset confirms them: the emulator still has
    # them all, and a rate limit comes first. Nothing is lost or doubled.
    emulator.add_fault("getUpdates", 429, count=1, retry_after=1)
    for n in range(4, 6):
        _queue(emulator, n)
    second = start_daemon(settings)
    wait_for(lambda: len(second.messages(channel="telegram")) == 5, timeout=15)
    time.sleep(0.5)
    texts = sorted(m["text"] for m in second.messages(channel="telegram"))
    assert texts == [f"ciao {n}" for n in range(1, 6)]
