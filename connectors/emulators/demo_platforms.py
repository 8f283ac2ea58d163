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
from sportello.connectors.emulators.x import XEmulator


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


class XDemo:
    """X in polling mode against the emulator: a text starting with ``@`` is a public tweet
    (a customer's later tweets reply to their earlier one, so the thread stays one
    conversation); any other text is a direct message to the brand."""

    channel = "x"
    user_id = "1500000000"
    username = "sportello_demo"
    secrets = {
        "bearer_token": "demo-x-bearer",
        "consumer_key": "demo-x-consumer-key",
        "consumer_secret": "demo-x-consumer-secret",
        "access_token": "1500000000-demo-x-access-token",
        "access_token_secret": "demo-x-access-secret",
    }

    def __init__(self) -> None:
        self.emulator = XEmulator(
            user_id=self.user_id,
            username=self.username,
            name="Sportello",
            bearer_token=self.secrets["bearer_token"],
            consumer_key=self.secrets["consumer_key"],
            consumer_secret=self.secrets["consumer_secret"],
            access_token=self.secrets["access_token"],
        )
        self.server: BackgroundServer | None = None
        self._last_tweet: dict[str, str] = {}

    def start(self, daemon_url: str) -> dict[str, Any]:
        self.server = BackgroundServer(self.emulator.app).start()
        return {
            **self.secrets,
            "user_id": self.user_id,
            "api_base_url": self.server.url,
            "mode": "polling",
            "poll_interval_s": 2,
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    async def say(self, customer: DemoCustomer, text: str) -> None:
        user_id = customer.ids["x"]
        name = f"{customer.first_name} {customer.last_name}"
        self.emulator.add_user(user_id, customer.handle or customer.first_name.lower(), name)
        if not text.startswith("@"):
            self.emulator.dm(user_id, self.user_id, text)
            return
        public_text = f"@{self.username} {text[1:].lstrip()}"
        tweet = self.emulator.tweet(user_id, public_text, in_reply_to=self._last_tweet.get(user_id))
        self._last_tweet[user_id] = tweet["id"]


def demo_platforms() -> list[DemoPlatform]:
    return [TelegramDemo(), XDemo()]
