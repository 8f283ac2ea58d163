"""Triage rules: tags, priority and an assignee for a conversation, from what its customer wrote.

An agent who reads "rimborso" tags the conversation *refund* and raises it; a rule does it the
moment the message arrives, so the inbox sorts it at once. Every rule whose conditions a new
customer message meets applies, in order, until one marked ``stop`` matches: tags are added,
the priority only ever goes up,
the first rule with an assignee gives the conversation to that agent if nobody has it, and
the first with a team gives it to that team if it has none, and the first with an answer
sends it, in the customer's language, once per conversation until it is resolved (never in
a group or a public thread). A rule that changes something records a ``rule`` event on the
conversation (and an ``assigned`` one when it gives it away), so its history says why.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, event, inspect
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from sportello.config.settings import TriageRuleSettings
from sportello.inbox import outbox, settings_store
from sportello.inbox.automation_tables import RuleAnswer
from sportello.inbox.away import reopening
from sportello.inbox.batches import chunked
from sportello.inbox.clock import Clock
from sportello.inbox.conversations import record
from sportello.inbox.ingest import Ingested
from sportello.inbox.models import Conversation, ConversationTag, Message
from sportello.inbox.replies import pick_template, recipient, render
from sportello.inbox.upsert import claim_row
from sportello.inbox.users import Team, User

log = logging.getLogger(__name__)

ACTIVE = ("open", "pending")


# The blocks of combining diacritical marks, which NFKD splits off the letters they accent.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def folded(text: str) -> str:
    """``text`` in lower case without accents: "Più" and "piu" read the same."""
    if text.isascii():
        return text.lower()
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))


@lru_cache(maxsize=256)
def keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for any of ``keywords``: whole words or phrases (spaces match any run of
    spaces), ``word*`` for every word starting so."""
    parts = []
    for keyword in keywords:
        prefix = keyword.endswith("*")
        words = folded(keyword.rstrip("*")).split()
        body = r"\s+".join(map(re.escape, words))
        parts.append(rf"(?<!\w){body}" + (r"\w*" if prefix else r"(?!\w)"))
    return re.compile("|".join(parts))


def matches(rule: TriageRuleSettings, message: Message, text: str | None = None) -> bool:
    """Whether ``message`` meets every condition of ``rule``; ``text`` is its text
    :func:`folded`, when the caller has it already."""
    if rule.channels and message.channel not in rule.channels:
        return False
    if rule.languages and message.sentiment_language not in rule.languages:
        return False
    if rule.sentiment is not None and message.sentiment_label != rule.sentiment:
        return False
    if rule.keywords:
        text = folded(message.text or "") if text is None else text
        return keyword_pattern(tuple(rule.keywords)).search(text) is not None
    return True


@dataclass
class Outcome:
    """What the matching rules would change on one conversation."""

    rules: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    priority: int | None = None
    assignee: str | None = None
    assigned_by: str | None = None
    team: str | None = None
    teamed_by: str | None = None
    answer: dict[str, str] = field(default_factory=dict)
    answered_by: str | None = None


def decide(rules: Sequence[TriageRuleSettings], message: Message) -> Outcome:
    outcome = Outcome()
    text = folded(message.text or "")
    for rule in rules:
        if not matches(rule, message, text):
            continue
        outcome.rules.append(rule.name)
        outcome.tags += [tag for tag in rule.add_tags if tag not in outcome.tags]
        if rule.priority is not None:
            outcome.priority = max(outcome.priority or 0, rule.priority)
        if rule.assign and outcome.assignee is None:
            outcome.assignee, outcome.assigned_by = rule.assign, rule.name
        if rule.team and outcome.team is None:
            outcome.team, outcome.teamed_by = rule.team, rule.name
        if rule.answer and outcome.answered_by is None:
            outcome.answer, outcome.answered_by = dict(rule.answer), rule.name
        if rule.stop:
            break
    return outcome


class TriageRules:
    """Pipeline hook: the triage rules on every new customer message of an active
    conversation (a survey's answer leaves its conversation resolved: no rule sees it).

    It runs before the SLA clock, so that a priority a rule raises picks the SLA policy."""

    def __init__(self, clock: Clock, default_language: str = "it") -> None:
        self.clock = clock
        self.default_language = default_language

    def __call__(self, session: Session, ingested: Ingested) -> None:
        fresh = [
            (m, c)
            for m, c in ingested.new_messages
            if m.direction == "in" and m.author == "customer" and c.status in ACTIVE
        ]
        if not fresh:
            return
        rules = settings_store.triage_rules(session)
        if not rules:
            return
        for message, conversation in fresh:
            outcome = decide(rules, message)
            if outcome.rules:
                now = self.clock.now()
                answered = self.answer(session, message, conversation, outcome, now)
                assignee = apply(session, conversation, outcome, now, answered)
                if assignee is not None:
                    assert conversation.id is not None
                    ingested.assigned.append((conversation.id, assignee))

    def answer(
        self,
        session: Session,
        message: Message,
        conversation: Conversation,
        outcome: Outcome,
        now: datetime,
    ) -> str | None:
        """Queue the outcome's answer, unless its rule answered in this conversation since it
        was last resolved; returns the language it went out in."""
        if outcome.answered_by is None or conversation.is_group or conversation.public:
            return None
        reader = recipient(
            session, message.customer_id, message.identity_id, message.sentiment_language
        )
        chosen = pick_template(outcome.answer, reader.languages, self.default_language)
        if chosen is None:
            return None
        if not _claim_answer(session, conversation, outcome.answered_by, now):
            return None
        language, template = chosen
        calendar = settings_store.calendar(session)
        reopens = now if calendar.is_open(now) else calendar.next_open(now)
        text = render(template, name=reader.name, next_open=reopening(calendar, reopens, language))
        outbox.queue(session, conversation, text, now=now, author="bot", purpose="rule")
        return language


def apply(
    session: Session,
    conversation: Conversation,
    outcome: Outcome,
    now: datetime,
    answered: str | None = None,
) -> str | None:
    """Make ``outcome``'s changes that are changes (``answered``: the language its answer
    went out in, if it did); returns the new assignee, if any."""
    assert conversation.id is not None
    changed: dict[str, Any] = {"answered": answered} if answered is not None else {}
    if outcome.tags:
        have = _tags(session, conversation)
        added = [tag for tag in outcome.tags if tag not in have]
        for tag in added:
            session.add(ConversationTag(conversation_id=conversation.id, tag=tag))
        have.update(added)
        if added:
            changed["tags"] = added
    if outcome.priority is not None and outcome.priority > conversation.priority:
        conversation.priority = changed["priority"] = outcome.priority
    assignee = None
    if outcome.assignee is not None and conversation.assignee is None:
        if not _exists(session, User, outcome.assignee):
            log.warning("rule %s names no user %r", outcome.assigned_by, outcome.assignee)
        else:
            assignee = conversation.assignee = changed["assignee"] = outcome.assignee
            actor = f"rule:{outcome.assigned_by}"
            record(session, conversation, "assigned", now, actor, assignee=assignee)
    if outcome.team is not None and conversation.team is None:
        if not _exists(session, Team, outcome.team):
            log.warning("rule %s names no team %r", outcome.teamed_by, outcome.team)
        else:
            conversation.team = changed["team"] = outcome.team
            actor = f"rule:{outcome.teamed_by}"
            record(session, conversation, "team", now, actor, team=outcome.team, previous=None)
    if changed:
        record(session, conversation, "rule", now, "rules", rules=outcome.rules, **changed)
    return assignee


def _claim_answer(session: Session, conversation: Conversation, rule: str, now: datetime) -> bool:
    """Take ``rule``'s answer in ``conversation``: the first time, or the first since the
    conversation was last resolved."""
    values = {"conversation_id": conversation.id, "rule": rule, "sent_at": now}
    resolved = conversation.resolved_at
    stale = col(RuleAnswer.sent_at) < resolved if resolved is not None else None
    return claim_row(session, RuleAnswer, values, stale)


def forget_answers(session: Session, conversation_ids: Sequence[int]) -> None:
    """Drop the record of rules' answers in these conversations (for erasure)."""
    for chunk in chunked(conversation_ids):
        session.exec(delete(RuleAnswer).where(col(RuleAnswer.conversation_id).in_(chunk)))  # type: ignore[call-overload]


# The reads below run inside the journal worker's batch: without autoflush (a flush per
# matching message would write the batch's rows one delivery at a time: the worker took
# 1.5 times as long), and remembered for the batch, with the tags this hook added, until a
# rollback (of the batch, or of one delivery's savepoint) undoes what it added.
_MEMORY = ("conversation_tags", "names_known")


@event.listens_for(OrmSession, "after_soft_rollback")
def _forget(session: OrmSession, _previous: Any) -> None:
    for key in _MEMORY:
        session.info.pop(key, None)


_TAGS = ConversationTag.__table__  # type: ignore[attr-defined]
_TAGS_OF = sa_select(_TAGS.c.tag).where(_TAGS.c.conversation_id == bindparam("conversation_id"))


def _tags(session: Session, conversation: Conversation) -> set[str]:
    """The conversation's tags: none for one this batch opened and has not stored yet (its
    id reserved on PostgreSQL), else read with a Core statement on the session's connection
    (the ORM's query cost some 0.5 ms a message)."""
    known: dict[int, set[str]] = session.info.setdefault("conversation_tags", {})
    assert conversation.id is not None
    if conversation.id not in known:
        if inspect(conversation).pending:
            known[conversation.id] = set()
        else:
            rows = session.connection().execute(_TAGS_OF, {"conversation_id": conversation.id})
            known[conversation.id] = set(rows.scalars())
    return known[conversation.id]


def _exists(session: Session, model: type[User] | type[Team], name: str) -> bool:
    """Whether a user (a team) of that name exists, asked once per batch."""
    known: dict[tuple[str, str], bool] = session.info.setdefault("names_known", {})
    key = (model.__name__, name)
    if key not in known:
        with session.no_autoflush:
            found = session.exec(select(model.id).where(model.name == name)).first()
        known[key] = found is not None
    return known[key]
