"""Away messages: the automatic answer to a customer who writes while we are closed.

:func:`decide` is the pure rule (which rule, open or closed, which text); :class:`AwayResponder`
is the pipeline hook that applies it to freshly ingested messages, with the checks that need
the database: never to our own echoes or a group, never in reply to one of our automatic
messages, not right after an agent wrote, and at most once per customer per cooldown across
all their channels. The cooldown is claimed with one conditional statement, so simultaneous
messages (even on two replicas) yield exactly one away message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col

from sportello.config.settings import AwayMessageSettings, parse_duration
from sportello.inbox import outbox, settings_store
from sportello.inbox.automation_tables import AwayCooldown
from sportello.inbox.business_hours import BusinessCalendar, Interval, format_next_open
from sportello.inbox.clock import Clock
from sportello.inbox.ingest import Ingested, find_message
from sportello.inbox.models import Conversation, Message
from sportello.inbox.replies import pick_template, recipient, render
from sportello.inbox.upsert import claim_row

log = logging.getLogger(__name__)

SOON = {"it": "appena possibile", "en": "as soon as possible"}


@dataclass(frozen=True)
class AwayDecision:
    """What an away rule says for one message, and why."""

    send: bool
    reason: str
    is_open: bool
    holiday: str | None = None
    closure: Interval | None = None
    next_open: datetime | None = None
    rule: AwayMessageSettings | None = None
    language: str | None = None
    text: str | None = None


def match_rule(
    rules: Sequence[AwayMessageSettings], channel: str, *, is_open: bool, public: bool = False
) -> AwayMessageSettings | None:
    """The rule for ``channel`` now: the first that covers it and applies (``always``, or
    ``closed`` while closed), else the first that covers it (which then says why it is
    silent). Public posts only match rules with ``public = true``."""
    covering = [r for r in rules if channel in r.channels and (r.public or not public)]
    applying = (r for r in covering if r.when == "always" or not is_open)
    return next(applying, covering[0] if covering else None)


def decide(
    calendar: BusinessCalendar,
    rules: Sequence[AwayMessageSettings],
    *,
    channel: str,
    at: datetime,
    languages: Sequence[str] = (),
    default_language: str = "it",
    name: str = "",
    public: bool = False,
) -> AwayDecision:
    is_open = calendar.is_open(at)
    holiday, closure = calendar.holiday(at), calendar.closure(at)
    next_open = None if is_open else calendar.next_open(at)

    def decision(send: bool, reason: str, **chosen: Any) -> AwayDecision:
        return AwayDecision(send, reason, is_open, holiday, closure, next_open, **chosen)

    rule = match_rule(rules, channel, is_open=is_open, public=public)
    if rule is None:
        where = "public posts on " if public else ""
        return decision(False, f"no away rule covers {where}{channel}")
    if rule.when == "closed" and is_open:
        return decision(False, "open: the rule answers only when closed", rule=rule)
    chosen = pick_template(rule.text, languages, default_language)
    if chosen is None:
        return decision(False, "the matching rule has no text", rule=rule)
    language, template = chosen
    when_text = reopening(calendar, next_open or (at if is_open else None), language)
    text = render(template, name=name, next_open=when_text)
    reason = (
        "always answers on this channel"
        if rule.when == "always"
        else _closed_reason(holiday, closure)
    )
    return decision(True, reason, rule=rule, language=language, text=text)


def reopening(calendar: BusinessCalendar, reopens: datetime | None, language: str) -> str:
    """``{next_open}`` in ``language``: when we open (``reopens``), or "as soon as possible"
    where the calendar never opens."""
    if reopens is None:
        return SOON.get(language[:2].lower(), SOON["en"])
    return format_next_open(reopens, calendar.tz, language)


def _closed_reason(holiday: str | None, closure: Interval | None) -> str:
    if closure is not None:
        start, end = closure
        return f"closed: closure {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
    if holiday:
        return f"closed: public holiday ({holiday})"
    return "closed: outside business hours"


def claim_cooldown(session: Session, customer_id: int, now: datetime, cooldown: timedelta) -> bool:
    """Atomically take the customer's away message for this cooldown; False if already taken."""
    values = {"customer_id": customer_id, "last_sent_at": now}
    stale = col(AwayCooldown.last_sent_at) <= now - cooldown
    return claim_row(session, AwayCooldown, values, stale)


def forget_customer(session: Session, customer_id: int) -> None:
    """Drop what the away rules remember of a customer (for erasure)."""
    session.exec(delete(AwayCooldown).where(AwayCooldown.customer_id == customer_id))  # type: ignore[call-overload,arg-type]


class AwayResponder:
    """Pipeline hook: queue an away message for fresh customer messages that call for one."""

    def __init__(self, clock: Clock, default_language: str) -> None:
        self.clock = clock
        self.default_language = default_language

    def __call__(self, session: Session, ingested: Ingested) -> None:
        fresh = [(m, c) for m, c in ingested.new_messages if m.direction == "in"]
        if not fresh:
            return
        rules = settings_store.away_rules(session)
        if not rules:
            return
        calendar = settings_store.calendar(session)
        for message, conversation in fresh:
            sent = self.answer(session, calendar, rules, message, conversation)
            if sent is not None:
                log.info("away message %s queued for conversation %s", sent.id, conversation.id)

    def answer(
        self,
        session: Session,
        calendar: BusinessCalendar,
        rules: Sequence[AwayMessageSettings],
        message: Message,
        conversation: Conversation,
    ) -> Message | None:
        now = self.clock.now()
        if message.author != "customer" or conversation.is_group:
            return None
        rule = match_rule(
            rules, message.channel, is_open=calendar.is_open(now), public=conversation.public
        )
        if rule is None or now - message.sent_at > timedelta(seconds=parse_duration(rule.max_age)):
            return None
        if _replies_to_bot(session, message):
            return None
        quiet = timedelta(seconds=parse_duration(rule.quiet_after_agent))
        last_agent = conversation.last_agent_message_at
        if last_agent is not None and now - last_agent < quiet:
            return None
        reader = recipient(
            session, message.customer_id, message.identity_id, message.sentiment_language
        )
        decision = decide(
            calendar,
            [rule],
            channel=message.channel,
            at=now,
            languages=reader.languages,
            default_language=self.default_language,
            name=reader.name,
            public=conversation.public,
        )
        if not decision.send or decision.text is None:
            return None
        cooldown = timedelta(seconds=parse_duration(rule.cooldown))
        if not claim_cooldown(session, message.customer_id, now, cooldown):
            return None
        return outbox.queue(
            session,
            conversation,
            decision.text,
            now=now,
            author="bot",
            purpose="away",
            reply_to_external_id=message.external_id if conversation.public else None,
        )


def _replies_to_bot(session: Session, message: Message) -> bool:
    if not message.reply_to_external_id:
        return False
    replied = find_message(session, message.channel, message.reply_to_external_id)
    return replied is not None and replied.author == "bot"
