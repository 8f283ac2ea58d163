"""What a batch of events needs from the database, read in one query per table.

The journal worker stores up to 50 deliveries in one transaction. Looking up each event's
stored message, identity and conversation one query at a time (each query flushing the
session first) was most of its work; :meth:`Lookups.read` reads them for the whole batch,
and ingestion tells it the rows the batch itself adds, so later events of the same batch
find them too.

It also reads which phone numbers and e-mail addresses of the batch's new people no identity
or customer had: a new customer's evidence search (two queries, each flushing the session)
was a third of storing a new customer's message, and for a new customer it finds nothing.
On PostgreSQL it reserves the ids of the batch's new rows (``inbox/numbered_rows.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnClause, String, bindparam, func, inspect, literal_column, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from sportello.connectors.base import Event, InboundMessage, MessageEdited, Person, StatusUpdate
from sportello.inbox.batches import chunked
from sportello.inbox.contact_points import normalise_email, normalise_phone
from sportello.inbox.models import Conversation, Customer, Identity, Message
from sportello.inbox.numbered_rows import ReservedIds

Key = tuple[str, str]  # (channel, the platform's id)
Row = TypeVar("Row", Message, Identity, Conversation)

ONE: ColumnClause[int] = literal_column("1")  # ``LIMIT 1`` written into the statement, not bound


@dataclass
class Lookups:
    """Stored messages, identities and conversations by (channel, platform id)."""

    messages: dict[Key, Message] = field(default_factory=dict)
    identities: dict[Key, Identity] = field(default_factory=dict)
    conversations: dict[Key, Conversation] = field(default_factory=dict)
    # Normalised phone numbers and e-mail addresses that no identity or customer had when
    # the batch was read, and that the batch has not stored since (see ``claim``).
    unclaimed: set[str] = field(default_factory=set)
    # Ids for the batch's new customers, identities and conversations (PostgreSQL).
    reserved: ReservedIds = field(default_factory=ReservedIds)
    # The batch's new identities that waited for the flush when added (PostgreSQL): the
    # look-alike search compares them too.
    waiting_identities: list[Identity] = field(default_factory=list)

    @classmethod
    def read(cls, session: Session, events: Iterable[Event]) -> Lookups:
        message_ids: dict[str, set[str]] = defaultdict(set)
        people: dict[str, set[str]] = defaultdict(set)
        threads: dict[str, set[str]] = defaultdict(set)
        persons: list[tuple[str, Person]] = []
        for event in events:
            if isinstance(event, InboundMessage):
                people[event.channel].add(event.customer.external_id)
                threads[event.channel].add(event.thread.external_id)
                persons.append((event.channel, event.customer))
            if isinstance(event, InboundMessage | MessageEdited | StatusUpdate):
                message_ids[event.channel].add(event.external_id)
        identities = _by_key(session, IDENTITIES, "external_id", people)
        newcomers = {
            (channel, p.external_id): p
            for channel, p in persons
            if (channel, p.external_id) not in identities
        }
        conversations = _by_key(session, CONVERSATIONS, "thread_external_id", threads)
        new_threads = sum(
            (channel, id_) not in conversations for channel, ids in threads.items() for id_ in ids
        )
        return cls(
            messages=_by_key(session, MESSAGES, "external_id", message_ids),
            identities=identities,
            conversations=conversations,
            unclaimed=_unclaimed(session, list(newcomers.values())),
            reserved=ReservedIds.reserve(
                session,
                customers=len(newcomers),
                identities=len(newcomers),
                conversations=new_threads,
            ),
        )

    def message(self, channel: str, external_id: str) -> Message | None:
        return self.messages.get((channel, external_id))

    def identity(self, channel: str, external_id: str) -> Identity | None:
        return self.identities.get((channel, external_id))

    def conversation(self, channel: str, thread_external_id: str) -> Conversation | None:
        return self.conversations.get((channel, thread_external_id))

    def add_message(self, message: Message) -> None:
        if message.external_id is not None:
            self.messages[(message.channel, message.external_id)] = message

    def add_identity(self, identity: Identity) -> None:
        self.identities[(identity.channel, identity.external_id)] = identity
        if inspect(identity).pending:
            self.waiting_identities.append(identity)

    def add_conversation(self, conversation: Conversation) -> None:
        self.conversations[(conversation.channel, conversation.thread_external_id)] = conversation

    def unclaimed_evidence(self, phone: str | None, email: str | None) -> bool:
        """Whether no identity or customer can have this phone number or e-mail address."""
        return all(value in self.unclaimed for value in (phone, email) if value is not None)

    def claim(self, *values: str | None) -> None:
        """The batch stores these phone numbers or e-mail addresses: look for them again."""
        self.unclaimed.difference_update(values)


def _lookups(model: type[Row], id_column: str) -> dict[str, SelectOfScalar[Row]]:
    """The rows of ``model`` with a channel and one of a list of ids, to run with ``params``,
    by dialect name.

    Built once: ``column.in_(a_list)`` built afresh for every batch left reference cycles (a
    bound parameter and its copy) that only the garbage collector frees.
    """
    return {"sqlite": _in_list(model, id_column), "postgresql": _probes(model, id_column)}


def _in_list(model: type[Row], id_column: str) -> SelectOfScalar[Row]:
    return select(model).where(
        col(model.channel) == bindparam("channel"),
        col(getattr(model, id_column)).in_(bindparam("ids", expanding=True)),
    )


def _probes(model: type[Row], id_column: str) -> SelectOfScalar[Row]:
    """One probe of the (channel, id) unique index per id, whatever the planner's statistics.

    With ``IN (...)`` PostgreSQL picks its plan by how many rows it thinks the channel has:
    where ``ANALYZE`` has not counted them yet (a young table, a channel added since the last
    one; autovacuum re-analyzes a table only after a tenth of it changed) it guesses a few,
    reads every row of the channel and filters the ids, and the worker's lookups grew with the
    table (5.5 ms a batch at 10,000 messages). A ``LATERAL`` subquery with ``LIMIT 1`` cannot be
    turned into a join, so each id is one index probe; one array parameter, not one per id.
    """
    wanted = _each("ids")
    found = (
        select(model)
        .where(
            col(model.channel) == bindparam("channel"),
            col(getattr(model, id_column)) == wanted.c.value,
        )
        .limit(ONE)
        .lateral("found")
    )
    return select(aliased(model, found)).select_from(wanted).join(found, true())


def _each(param: str) -> TableValuedAlias:
    """The strings of the array bound as ``param``, one row each (PostgreSQL)."""
    values = func.unnest(bindparam(param, type_=ARRAY(String))).table_valued("value")
    return values.render_derived(name="wanted")


MESSAGES = _lookups(Message, "external_id")
IDENTITIES = _lookups(Identity, "external_id")
CONVERSATIONS = _lookups(Conversation, "thread_external_id")


def _owners(*columns: Any) -> dict[str, list[SelectOfScalar[str]]]:
    """Which of a list of values each column holds, to run with ``params``, by dialect name
    (built once; on PostgreSQL one index probe per value, as for ``_probes``)."""
    wanted = _each("values")
    probes = [
        select(wanted.c.value)
        .select_from(wanted)
        .join(select(column).where(column == wanted.c.value).limit(ONE).lateral(), true())
        for column in columns
    ]
    in_lists = [
        select(column).where(column.in_(bindparam("values", expanding=True))) for column in columns
    ]
    return {"sqlite": in_lists, "postgresql": probes}


PHONE_OWNERS = _owners(col(Identity.phone), col(Customer.phone))
EMAIL_OWNERS = _owners(col(Identity.email), col(Customer.email))


def _unclaimed(session: Session, newcomers: list[Person]) -> set[str]:
    """The newcomers' phone numbers and e-mail addresses that no identity or customer has."""
    phones = {normalise_phone(person.phone) for person in newcomers}
    emails = {normalise_email(person.email) for person in newcomers}
    return _not_found(session, phones, PHONE_OWNERS) | _not_found(session, emails, EMAIL_OWNERS)


def _not_found(
    session: Session, values: set[str | None], owners: Mapping[str, list[SelectOfScalar[str]]]
) -> set[str]:
    missing = {value for value in values if value is not None}
    statements = owners[session.get_bind().dialect.name]
    ordered = sorted(missing)
    for chunk in chunked(ordered):
        for statement in statements:
            found: Iterable[str] = session.exec(statement, params={"values": chunk})
            missing.difference_update(found)
    return missing


def _by_key(
    session: Session,
    statements: Mapping[str, SelectOfScalar[Row]],
    id_column: str,
    wanted: Mapping[str, set[str]],
) -> dict[Key, Row]:
    """The rows found for each (channel, ``id_column``) among ``wanted``."""
    statement = statements[session.get_bind().dialect.name]
    found: dict[Key, Row] = {}
    for channel, ids in wanted.items():
        ordered = sorted(ids)
        for chunk in chunked(ordered):
            for row in session.exec(statement, params={"channel": channel, "ids": chunk}):
                found[(channel, getattr(row, id_column))] = row
    return found
