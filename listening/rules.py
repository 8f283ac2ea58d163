"""The alert rules of ``[[alerts.rules]]``, evaluated over mentions and inbound messages.

- ``negative_share``: in the rolling ``window``, at least ``min_volume`` items and a share
  of clearly negative ones (compound <= -0.5, corrected scores included) >= ``threshold``.
- ``volume_spike``: the items of the rolling ``window`` against the same window of the
  same hour of the week in each of the past ``baseline_weeks`` weeks: fires above
  ``median + k * 1.4826 * MAD`` (MAD floored at 1 item, so a quiet history is not
  "infinitely" unusual) and at least ``min_volume`` items.
- ``keyword``: any watched keyword (whole word, case-insensitive) in ``min_volume`` items
  of the window; one episode per keyword.

Each rule sees only its ``sources`` (``x``, ``feed``: mentions; ``messages``: customers'
inbound messages) and ``languages`` (empty: all).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from sportello.config.settings import AlertRuleSettings, parse_duration
from sportello.inbox.models import Message
from sportello.listening.alerts import raise_alert, resolve_alert
from sportello.listening.models import Alert, Mention

CLEARLY_NEGATIVE = -0.5
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation
DEFAULT_MIN_VOLUME = {"negative_share": 10, "volume_spike": 5, "keyword": 1}


@dataclass(frozen=True)
class Item:
    at: datetime
    text: str
    compound: float | None
    language: str | None


def _window(rule: AlertRuleSettings) -> timedelta:
    return timedelta(seconds=parse_duration(rule.window))


def min_volume(rule: AlertRuleSettings) -> int:
    return rule.min_volume or DEFAULT_MIN_VOLUME[rule.kind]


def items(session: Session, rule: AlertRuleSettings, start: datetime, end: datetime) -> list[Item]:
    """What the rule sees in ``[start, end)``."""
    found: list[Item] = []
    mention_sources = [s for s in rule.sources if s in ("x", "feed")]
    if mention_sources:
        query = select(
            Mention.published_at, Mention.text, Mention.sentiment_compound, Mention.language
        ).where(
            col(Mention.source).in_(mention_sources),
            Mention.published_at >= start,
            Mention.published_at < end,
        )
        if rule.languages:
            query = query.where(col(Mention.language).in_(rule.languages))
        found += [Item(*row) for row in session.exec(query)]
    if "messages" in rule.sources:
        query = select(
            Message.sent_at, Message.text, Message.sentiment_compound, Message.sentiment_language
        ).where(Message.direction == "in", Message.sent_at >= start, Message.sent_at < end)
        if rule.languages:
            query = query.where(col(Message.sentiment_language).in_(rule.languages))
        found += [Item(*row) for row in session.exec(query)]
    return found


def count(session: Session, rule: AlertRuleSettings, start: datetime, end: datetime) -> int:
    total = 0
    mention_sources = [s for s in rule.sources if s in ("x", "feed")]
    if mention_sources:
        query = select(func.count()).where(
            col(Mention.source).in_(mention_sources),
            Mention.published_at >= start,
            Mention.published_at < end,
        )
        if rule.languages:
            query = query.where(col(Mention.language).in_(rule.languages))
        total += session.exec(query).one()
    if "messages" in rule.sources:
        query = select(func.count()).where(
            Message.direction == "in", Message.sent_at >= start, Message.sent_at < end
        )
        if rule.languages:
            query = query.where(col(Message.sentiment_language).in_(rule.languages))
        total += session.exec(query).one()
    return int(total)


def spike_limit(history: list[int], k: float) -> tuple[float, float, float]:
    """(median, MAD, limit) of a robust baseline."""
    median = statistics.median(history) if history else 0.0
    mad = statistics.median([abs(h - median) for h in history]) if history else 0.0
    return median, mad, median + k * MAD_SCALE * max(mad, 1.0)


def evaluate(session: Session, rule: AlertRuleSettings, now: datetime) -> list[Alert]:
    """Evaluate one rule at ``now``; returns the alerts it fired or resolved."""
    window = _window(rule)
    cooldown = timedelta(seconds=parse_duration(rule.cooldown))
    changed: list[Alert] = []

    def apply(key: str, firing: bool, title: str, details: dict[str, Any]) -> None:
        if firing:
            alert = raise_alert(
                session, rule.kind, key, title, details, now, cooldown=cooldown, rule=rule.name
            )
        else:
            alert = resolve_alert(session, rule.kind, key, now, details)
        if alert is not None:
            changed.append(alert)

    scope = {"sources": rule.sources, "languages": rule.languages, "window": rule.window}
    if rule.kind == "negative_share":
        seen = items(session, rule, now - window, now)
        negative = sum(1 for i in seen if i.compound is not None and i.compound <= CLEARLY_NEGATIVE)
        share = negative / len(seen) if seen else 0.0
        firing = len(seen) >= min_volume(rule) and share >= rule.threshold
        title = f"{rule.name}: {share:.0%} negative ({negative} of {len(seen)} in {rule.window})"
        details = {**scope, "total": len(seen), "negative": negative, "share": round(share, 4)}
        apply(rule.name, firing, title, details)
    elif rule.kind == "volume_spike":
        current = count(session, rule, now - window, now)
        history = [
            count(session, rule, now - timedelta(weeks=w) - window, now - timedelta(weeks=w))
            for w in range(1, rule.baseline_weeks + 1)
        ]
        median, mad, limit = spike_limit(history, rule.k)
        firing = current >= min_volume(rule) and current > limit
        title = f"{rule.name}: {current} items in {rule.window}, usually {median:g}"
        details = {
            **scope,
            "count": current,
            "history": history,
            "median": median,
            "mad": mad,
            "limit": round(limit, 3),
        }
        apply(rule.name, firing, title, details)
    else:
        seen = items(session, rule, now - window, now)
        for keyword in rule.keywords:
            pattern = re.compile(rf"(?<!\w){re.escape(keyword)}(?!\w)", re.IGNORECASE)
            hits = [i for i in seen if pattern.search(i.text or "")]
            firing = len(hits) >= min_volume(rule)
            title = f"{rule.name}: '{keyword}' in {len(hits)} items in {rule.window}"
            details = {
                **scope,
                "keyword": keyword,
                "count": len(hits),
                "examples": [h.text[:200] for h in hits[:3]],
            }
            apply(f"{rule.name}:{keyword}", firing, title, details)
    return changed


def evaluate_all(session: Session, rules: list[AlertRuleSettings], now: datetime) -> list[Alert]:
    changed: list[Alert] = []
    for rule in rules:
        changed += evaluate(session, rule, now)
    return changed
