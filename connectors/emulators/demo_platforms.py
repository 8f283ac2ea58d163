"""Emulated platforms for ``sportello demo``: each starts its emulator and speaks for customers.

A new platform joins the demo by adding a :class:`DemoPlatform` to :func:`demo_platforms`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.images import png
from sportello.connectors.emulators.meta import GraphEmulator
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

    async def share_contact(self, customer: DemoCustomer, phone: str) -> None:
        """The customer shares their own contact card (Telegram's "share my phone number")."""
        user_id = int(customer.ids["telegram"])
        sender = tg.user(user_id, customer.first_name, customer.last_name, username=customer.handle)
        contact = {"phone_number": phone, "first_name": customer.first_name, "user_id": user_id}
        message = tg.message(
            self.emulator.next_message_id(user_id), sender, int(time.time()), contact=contact
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
            access_token_secret=self.secrets["access_token_secret"],
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


class _MetaDemo:
    """A Graph API emulator that signs webhooks and answers sends with receipts."""

    channel: str
    node_id: str
    token: str
    app_secret = "demo-meta-app-secret"
    verify_token = "demo-meta-verify-token"

    def __init__(self) -> None:
        self.emulator = GraphEmulator(
            self.channel,  # type: ignore[arg-type]
            self.node_id,
            self.token,
            self.app_secret,
            auto_receipts=True,
        )
        self.server: BackgroundServer | None = None

    def _start(self, daemon_url: str) -> str:
        self.emulator.webhook_url = f"{daemon_url}/webhooks/{self.channel}"
        self.server = BackgroundServer(self.emulator.app).start()
        return GraphEmulator.graph_url(self.server.url)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class MessengerDemo(_MetaDemo):
    channel = "messenger"
    node_id = "104345678901234"
    token = "EAADemoPageToken"

    def start(self, daemon_url: str) -> dict[str, Any]:
        return {
            "app_secret": self.app_secret,
            "verify_token": self.verify_token,
            "page_access_token": self.token,
            "page_id": self.node_id,
            "graph_base_url": self._start(daemon_url),
            "message_tag": "HUMAN_AGENT",
        }

    async def say(self, customer: DemoCustomer, text: str) -> None:
        psid = customer.ids["messenger"]
        self.emulator.profiles[psid] = {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
        }
        now_ms = int(time.time() * 1000)
        event = mp.text_message(psid, self.node_id, now_ms, text)
        await self.emulator.deliver(mp.messenger_webhook(self.node_id, event, time_ms=now_ms))


class WhatsAppDemo(_MetaDemo):
    channel = "whatsapp"
    node_id = "106540352242922"
    token = "EAADemoWhatsAppToken"

    def start(self, daemon_url: str) -> dict[str, Any]:
        return {
            "app_secret": self.app_secret,
            "verify_token": self.verify_token,
            "access_token": self.token,
            "phone_number_id": self.node_id,
            "graph_base_url": self._start(daemon_url),
            "templates": {
                "reply": "agent_reply",
                "away": "away_notice",
                "survey": "csat_survey",
                "follow_up": "follow_up",
            },
        }

    async def say(self, customer: DemoCustomer, text: str) -> None:
        await self._send(customer, mp.wa_text(customer.ids["whatsapp"], int(time.time()), text))

    async def send_photo(self, customer: DemoCustomer, caption: str) -> None:
        """The customer sends a picture (the inbox fetches it from the emulator)."""
        media_id = self.emulator.add_media(png(320, 240, (205, 170, 125)), "image/png")
        image = mp.wa_media("image", media_id, "image/png", caption=caption)
        wa_id = customer.ids["whatsapp"]
        await self._send(customer, mp.wa_message(wa_id, int(time.time()), "image", image))

    async def _send(self, customer: DemoCustomer, message: dict[str, Any]) -> None:
        wa_id = customer.ids["whatsapp"]
        name = f"{customer.first_name} {customer.last_name}"
        value = mp.wa_value(self.node_id, contacts=[mp.wa_contact(wa_id, name)], messages=[message])
        await self.emulator.deliver(mp.whatsapp_webhook(self.emulator.business_id, value))


def demo_platforms() -> list[DemoPlatform]:
    return [TelegramDemo(), MessengerDemo(), WhatsAppDemo(), XDemo()]
