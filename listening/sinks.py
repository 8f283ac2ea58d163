"""Where alert notifications go: a Telegram chat (our bot), a JSON webhook, e-mail.

Each sink is ``async send(text, subject)`` and raises on failure; the dispatcher retries.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Protocol

import httpx
from telegram import Bot
from telegram.request import HTTPXRequest

from sportello.config.settings import AlertSinkSettings, Settings
from sportello.connectors.tls import tls_context

TIMEOUT_S = 15.0


class Sink(Protocol):
    name: str

    async def send(self, subject: str, text: str) -> None: ...


class TelegramSink:
    """Through the Telegram Bot API, as the bot of ``channels.telegram``."""

    def __init__(self, name: str, chat_id: str, token: str, api_base_url: str) -> None:
        self.name = name
        self.chat_id = chat_id
        self.token = token
        self.base_url = api_base_url.rstrip("/") + "/bot"

    async def send(self, subject: str, text: str) -> None:
        # A bot per notification: alerts are rare, and its HTTP client stays on this loop.
        request = HTTPXRequest(read_timeout=TIMEOUT_S, httpx_kwargs={"verify": tls_context()})
        async with Bot(self.token, base_url=self.base_url, request=request) as bot:
            await bot.send_message(chat_id=self.chat_id, text=text[:4096])


class WebhookSink:
    """POST ``{"text": ...}``: what Slack and Teams incoming webhooks accept."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    async def send(self, subject: str, text: str) -> None:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, verify=tls_context()) as client:
            response = await client.post(self.url, json={"text": text})
        if response.status_code >= 300:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")


class EmailSink:
    """Plain-text e-mail over SMTP (optionally STARTTLS and login), in a worker thread."""

    def __init__(self, name: str, settings: AlertSinkSettings) -> None:
        self.name = name
        self.settings = settings

    async def send(self, subject: str, text: str) -> None:
        await asyncio.to_thread(self._send, subject, text)

    def _send(self, subject: str, text: str) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.email_from
        message["To"] = ", ".join(s.email_to)
        message["Subject"] = subject
        message.set_content(text)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=TIMEOUT_S) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username and s.smtp_password is not None:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(message)


def build_sinks(settings: Settings) -> dict[str, Sink]:
    """Every configured sink by name; a Telegram sink needs ``channels.telegram.bot_token``."""
    sinks: dict[str, Sink] = {}
    telegram = settings.channels.telegram
    for spec in settings.alerts.sinks:
        if spec.kind == "telegram":
            if telegram.bot_token is None or spec.chat_id is None:
                raise ValueError(f"alert sink {spec.name} needs channels.telegram.bot_token")
            sinks[spec.name] = TelegramSink(
                spec.name,
                spec.chat_id,
                telegram.bot_token.get_secret_value(),
                telegram.api_base_url,
            )
        elif spec.kind == "webhook":
            assert spec.url is not None
            sinks[spec.name] = WebhookSink(spec.name, spec.url)
        else:
            sinks[spec.name] = EmailSink(spec.name, spec)
    return sinks
