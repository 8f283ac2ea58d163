"""Automatic assignment: an open conversation nobody has taken goes to an available agent.

With the ``balanced`` rule the ``assign`` job, every few seconds, gives the open
conversations without an assignee, most urgent first (the inbox's order), each to the
available agent with the fewest open or pending conversations; on a tie, to the one who
got a conversation longest ago. Among the agents free to take it, those who speak the
customer's language (``users.languages``; the customer's own language when known, else the
one detected in their latest message) come first. An agent who handles only some channels
(``users.channels``; none set: all of them) gets only those channels' conversations, and a
conversation whose channel no free agent handles waits. A conversation given to a team
(``inbox/teams.py``) goes only to one of its members. Nobody gets more than
``max_open_per_agent``.

An agent is available while they say so in the inbox (``PUT /api/v1/me/availability``;
signing out ends it) and their inbox is open: its live stream (``GET /api/v1/events``)
marks them seen every 20 s, and one not seen for :data:`PRESENT_S` (a closed laptop) gets
nothing new. A conversation no agent can take now (none available, all at the cap) waits
for the next run.

One replica runs the job at a time (under its lease), so two runs cannot push an agent
past the cap; an agent who takes a conversation by hand meanwhile keeps it (the write
checks that it is still unassigned and open).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from sportello.config.settings import AssignmentSettings
from sportello.inbox.conversations import record
from sportello.inbox.models import Conversation, Customer, Message
from sportello.inbox.sla import ACTIVE
from sportello.inbox.teams import members_by_team
from sportello.inbox.triage import inbox_page
from sportello.inbox.users import User

ACTOR = "assignment"
BATCH = 200  # conversations one run looks at
PRESENT_S = 60.0  # an agent whose inbox was seen open this recently is present
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Assigned:
    conversation_id: int
    assignee: str


def assign_waiting(session: Session, now: datetime, rule: AssignmentSettings) -> list[Assigned]:
    """Give the open, unassigned conversations to available agents as ``rule`` says."""
    if rule.mode == "off":
        return []
    agents = present_agents(session, now)
    loads = open_loads(session, [agent.name for agent in agents])
    cap = rule.max_open_per_agent
    places = sum(max(0, cap - loads[a.name]) for a in agents) if cap else BATCH * len(agents)
    if not places:  # nobody present, or everybody at the cap: nothing to read
        return []
    waiting = select(Conversation).where(
        Conversation.status == "open", col(Conversation.assignee).is_(None)
    )

    def has_place(agent: User) -> bool:
        return not cap or loads[agent.name] < cap

    free_agents = [a for a in agents if has_place(a)]
    members = members_by_team(session)
    handled = _channels_handled(free_agents)
    if handled is not None:  # only what someone free may take: the rest would fill the page
        waiting = waiting.where(col(Conversation.channel).in_(handled))
    # With every agent handling every channel, the first conversations fill every place;
    # otherwise the ones some agent cannot take may come first, so the run reads on.
    restricted = bool(members) or any(a.channels for a in free_agents)
    assigned: list[Assigned] = []
    page = inbox_page(session, waiting, now, 0, BATCH if restricted else min(places, BATCH))
    languages = customer_languages(session, page)
    for conversation in page:
        free = [
            a
            for a in agents
            if has_place(a)
            and _handles(a, conversation.channel)
            and (conversation.team is None or a.name in members.get(conversation.team, ()))
        ]
        if not free:
            continue  # the agents of its channel (its team) are full: it waits for the next run
        language = languages.get(conversation.id)
        speakers = [a for a in free if language in (a.languages or ())]
        candidates = speakers or free  # nobody free speaks it: anyone free
        agent = min(candidates, key=lambda a: (loads[a.name], a.last_assigned_at or _NEVER, a.name))
        assert conversation.id is not None
        if not _take(session, conversation.id, agent.name):
            continue  # taken by hand, or closed, since it was read
        record(session, conversation, "assigned", now, ACTOR, assignee=agent.name)
        agent.last_assigned_at = now
        loads[agent.name] += 1
        assigned.append(Assigned(conversation.id, agent.name))
    session.flush()
    return assigned


def _handles(agent: User, channel: str) -> bool:
    return not agent.channels or channel in agent.channels


def _channels_handled(agents: Sequence[User]) -> set[str] | None:
    """The channels some of ``agents`` handle; None when one of them handles every channel."""
    if any(not agent.channels for agent in agents):
        return None
    return {channel for agent in agents for channel in agent.channels}


def customer_languages(
    session: Session, conversations: Sequence[Conversation]
) -> dict[int | None, str]:
    """The language of each conversation's customer, as two letters: the customer's own
    when known, else the one detected in their latest message."""
    customers = {c.customer_id for c in conversations}
    known = session.exec(
        select(Customer.id, Customer.language).where(
            col(Customer.id).in_(customers), col(Customer.language).is_not(None)
        )
    )
    by_customer = {id_: language for id_, language in known if language}
    detected = session.exec(
        select(Message.conversation_id, Message.sentiment_language)
        .where(
            col(Message.conversation_id).in_([c.id for c in conversations]),
            col(Message.direction) == "in",
            col(Message.sentiment_language).is_not(None),
        )
        .order_by(col(Message.id).desc())
    )
    latest: dict[int, str] = {}
    for conversation_id, language in detected:
        if language:
            latest.setdefault(conversation_id, language)
    found: dict[int | None, str] = {}
    for conversation in conversations:
        language = by_customer.get(conversation.customer_id) or latest.get(conversation.id or 0)
        if language:
            found[conversation.id] = language[:2].lower()
    return found


def present_agents(session: Session, now: datetime) -> list[User]:
    """The users taking conversations whose inbox was seen open within ``PRESENT_S``."""
    present = select(User).where(
        col(User.available), col(User.seen_at) >= now - timedelta(seconds=PRESENT_S)
    )
    return list(session.exec(present.order_by(col(User.name))))


def open_loads(session: Session, names: list[str]) -> dict[str, int]:
    """How many open or pending conversations each of ``names`` has."""
    counted = session.exec(
        select(Conversation.assignee, func.count())
        .where(col(Conversation.assignee).in_(names), col(Conversation.status).in_(ACTIVE))
        .group_by(col(Conversation.assignee))
    )
    loads = dict.fromkeys(names, 0)
    for name, count in counted:
        if name is not None:
            loads[name] = count
    return loads


def _take(session: Session, conversation_id: int, assignee: str) -> bool:
    """Assign the conversation if it is still open and unassigned; True if it was."""
    taken = session.connection().execute(
        update(Conversation)
        .where(
            col(Conversation.id) == conversation_id,
            col(Conversation.assignee).is_(None),
            col(Conversation.status) == "open",
        )
        .values(assignee=assignee)
    )
    return bool(taken.rowcount)
