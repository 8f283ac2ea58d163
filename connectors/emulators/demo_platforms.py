"""Emulated platforms for ``sportello demo``: each starts its emulator and speaks for customers.

A new platform joins the demo by adding a :class:`DemoPlatform` to :func:`demo_platforms`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator


@dataclass(frozen=True)
class DemoCustomer:
    """One person of the demo, with an account on some platforms."""

    first_name: str
    last_name: str
    language: str
    ids: dict[str, str] = field(default_factory=dict)
    handle: str | None = None


class DemoPlatform(Protocol):
    channel: str

    def start(self, daemon_url: str) -> dict[str, Any]:
        """Start the emulator; return the ``channels.<name>`` settings pointing at it."""

    def stop(self) -> None: ...

    async def say(self, customer: DemoCustomer, text: str) -> None:
        """Deliver a customer's message to the daemon as the platform would."""


class TelegramDemo:
    channel = "telegram"
    token = "7000000001:DEMO-token"
    secret = "demo-telegram-secret"

    def __init__(self) -> None:
        self.emulator = TelegramEmulator(self.token, secret=self.secret)
        self.server: BackgroundServer | None = None

    def start(self, daemon_url: str) -> dict[str, Any]:
        self.emulator.webhook_url = f"{daemon_url}/webhooks/telegram"
        self.server = BackgroundServer(self.emulator.app).start()
        return {
            "bot_token": self.token,
            "webhook_secret": self.secret,
            "api_base_url": self.server.url,
            "mode": "webhook",
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    async def say(self, customer: DemoCustomer, text: str) -> None:
        user_id = int(customer.ids["telegram"])
        sender = tg.user(
            user_id,
            customer.first_name,
            customer.last_name,
            username=customer.handle,
            language_code=customer.language,
        )
        message = tg.message(
            self.emulator.next_message_id(user_id), sender, int(time.time()), text=text
        )
        await self.emulator.deliver(tg.update(self.emulator.next_update_id(), message=message))


def demo_platforms() -> list[DemoPlatform]:
    return [TelegramDemo()]
