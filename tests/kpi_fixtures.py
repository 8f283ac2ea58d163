"""Building conversations for the KPI and survey tests through the real ingest path."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from sportello.config.settings import BusinessHoursSettings
from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox import outbox
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.conversations import set_status
from sportello.inbox.ingest import Ingested, ingest
from sportello.inbox.models import Conversation

ROME = ZoneInfo("Europe/Rome")
_MESSAGE_IDS = itertools.count(1)


def rome(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    """A local time in Rome as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=ROME).astimezone(UTC)


def office_hours() -> BusinessCalendar:
    """Monday to Friday 09:00-18:00 in Rome, Italian public holidays closed."""
    weekdays = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    return BusinessCalendar(
        BusinessHoursSettings(timezone="Europe/Rome", holidays="IT", **weekdays)
    )


class Inbox:
    """Writes customer messages, echoes, replies and status changes at explicit times."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def customer(
        self,
        channel: str,
        user: str,
        at: datetime,
        text: str = "ciao",
        *,
        button_payload: str | None = None,
        name: str = "Cliente",
        language: str | None = "it",
        direction: str = "in",
    ) -> Ingested:
        event = InboundMessage(
            channel=channel,  # type: ignore[arg-type]
            external_id=f"{user}:{next(_MESSAGE_IDS)}",
            thread=Thread(external_id=user),
            customer=Person(external_id=user, display_name=name, language=language),
            sent_at=at,
            text=text,
            kind="button" if button_payload else "text",
            direction=direction,  # type: ignore[arg-type]
            button_payload=button_payload,
        )
        result = ingest(self.session, [event], now=at)
        self.session.flush()
        return result

    def conversation(
        self, channel: str, user: str, at: datetime, text: str = "ciao"
    ) -> Conversation:
        return self.customer(channel, user, at, text).new_messages[0][1]

    def echo(self, channel: str, user: str, at: datetime, text: str = "risposta") -> None:
        """The business's reply typed in the platform's own app, coming back as an echo."""
        self.customer(channel, user, at, text, direction="out")

    def reply(
        self,
        conversation: Conversation,
        at: datetime,
        *,
        author: str = "agent",
        sent_by: str | None = None,
    ) -> None:
        outbox.queue(
            self.session,
            conversation,
            "risposta" if author == "agent" else "messaggio automatico",
            now=at,
            author=author,
            sent_by=sent_by,
            purpose="reply" if author == "agent" else "away",
        )
        self.session.flush()

    def status(self, conversation: Conversation, status: str, at: datetime) -> None:
        set_status(self.session, conversation, status, at, actor="agent")
        self.session.flush()


def hand_computed_inbox(inbox: Inbox) -> None:
    """The inbox of test_kpis.py's docstring."""
    a = inbox.conversation("telegram", "1001", rome(12, 4, 17, 30))
    inbox.reply(a, rome(12, 4, 17, 31), author="bot")
    inbox.reply(a, rome(12, 7, 9, 30))
    inbox.status(a, "resolved", rome(12, 7, 10))

    b = inbox.conversation("whatsapp", "393331112222", rome(12, 7, 17))
    inbox.reply(b, rome(12, 9, 10))
    inbox.customer("whatsapp", "393331112222", rome(12, 9, 10, 5))
    inbox.reply(b, rome(12, 9, 10, 20))
    inbox.status(b, "pending", rome(12, 9, 10, 21))
    inbox.customer("whatsapp", "393331112222", rome(12, 10, 11))
    inbox.reply(b, rome(12, 10, 11, 30))
    inbox.status(b, "resolved", rome(12, 10, 11, 40))

    c = inbox.conversation("telegram", "1003", rome(12, 10, 9))
    inbox.echo("telegram", "1003", rome(12, 10, 9, 10))
    inbox.status(c, "resolved", rome(12, 10, 9, 15))
    inbox.customer("telegram", "1003", rome(12, 11, 9))

    e = inbox.conversation("x", "777", rome(11, 25, 10))
    inbox.status(e, "resolved", rome(11, 25, 10, 30))
    inbox.customer("x", "777", rome(12, 2, 10))
