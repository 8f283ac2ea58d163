"""Full-text search over messages and customers, on SQLite (FTS5) and PostgreSQL (GIN).

One Python API, two engines:

* SQLite: FTS5 external-content tables (``messages_fts``, ``identities_fts``,
  ``customers_fts``) kept in step by triggers, so every write path (ORM, bulk Core
  inserts, deletes on erasure) maintains them;
* PostgreSQL: GIN indexes on ``to_tsvector('simple', …)`` expressions of the same columns;
  the queries below repeat those expressions verbatim so the planner uses the indexes.

Both sides split text on punctuation and spaces, fold case, keep accents, and match every
word of the query as a prefix (``ordin`` finds ``ordine``). Results are newest first
(messages, conversations) or most recently created first (customers), so the two engines
answer the same thing. The structures are created by the ``0002_inbox`` migration.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import literal_column, or_, text, union
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, select

from sportello.inbox.identity import normalise_phone
from sportello.inbox.models import Conversation, Customer, Identity, Message

MAX_TERMS = 8

# Index expressions (PostgreSQL); the migration creates GIN indexes on exactly these.
PG_MESSAGE_DOC = "to_tsvector('simple', regexp_replace(messages.text, '[[:punct:]]+', ' ', 'g'))"
PG_IDENTITY_DOC = (
    "to_tsvector('simple', regexp_replace(coalesce(identities.display_name, '') || ' ' || "
    "coalesce(identities.handle, '') || ' ' || coalesce(identities.email, ''), "
    "'[[:punct:]]+', ' ', 'g'))"
)
PG_CUSTOMER_DOC = (
    "to_tsvector('simple', regexp_replace(coalesce(customers.display_name, '') || ' ' || "
    "coalesce(customers.email, ''), '[[:punct:]]+', ' ', 'g'))"
)
# FTS5 tables (SQLite): name -> (content table, indexed columns).
SQLITE_FTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "messages_fts": ("messages", ("text",)),
    "identities_fts": ("identities", ("display_name", "handle", "email")),
    "customers_fts": ("customers", ("display_name", "email")),
}


def terms(query: str) -> list[str]:
    """The words of a search query, lower-cased, as both engines tokenise them."""
    return re.findall(r"[^\W_]+", query.lower())[:MAX_TERMS]


def is_search_object(name: str | None, type_: str, parent_names: Any = None) -> bool:
    """Whether a database object belongs to full-text search (not described by the tables).

    Alembic's ``include_name`` hook uses the negation so autogenerate leaves them alone.
    """
    return bool(name) and ("_fts" in str(name))


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not is_search_object(name, type_, parent_names)


def _matches(
    session: Session, fts_table: str, pg_doc: str, words: list[str]
) -> ColumnElement[bool]:
    """A condition on the content table's ``id`` that holds for rows matching every word."""
    content, _ = SQLITE_FTS[fts_table]
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        return literal_column(pg_doc).op("@@")(func.to_tsquery("simple", tsquery))
    match = " ".join(f'"{w}"*' for w in words)
    rowids = text(f"SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH :match").bindparams(
        match=match
    )
    return literal_column(f"{content}.id").in_(rowids)


def search_messages(
    session: Session, query: str, *, limit: int = 50, offset: int = 0
) -> list[Message]:
    """Messages containing every word of ``query`` (as prefixes), newest first."""
    words = terms(query)
    if not words:
        return []
    statement = (
        select(Message)
        .where(_matches(session, "messages_fts", PG_MESSAGE_DOC, words))
        .order_by(col(Message.sent_at).desc(), col(Message.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement))


def search_conversations(session: Session, query: str, *, limit: int = 50) -> list[Conversation]:
    """Conversations with a matching message or a matching customer, latest activity first."""
    words = terms(query)
    if not words:
        return []
    in_messages = select(Message.conversation_id).where(
        _matches(session, "messages_fts", PG_MESSAGE_DOC, words)
    )
    customers = select(Customer.id).where(_customer_condition(session, query, words))
    statement = (
        select(Conversation)
        .where(
            or_(
                col(Conversation.id).in_(in_messages),
                col(Conversation.customer_id).in_(customers),
            )
        )
        .order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def search_customers(
    session: Session, query: str, *, limit: int = 50, offset: int = 0
) -> list[Customer]:
    """Customers whose name, handle, e-mail, phone or platform id matches, newest first.

    Customers merged into another one are left out (their identities answer for the
    surviving customer).
    """
    words = terms(query)
    if not words:
        return []
    statement = (
        select(Customer)
        .where(_customer_condition(session, query, words), col(Customer.merged_into_id).is_(None))
        .order_by(col(Customer.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement))


def _customer_condition(session: Session, query: str, words: list[str]) -> ColumnElement[bool]:
    """``customers.id`` in a union of index lookups.

    One OR of these conditions made PostgreSQL compute the text expression of every
    customer (a sequential walk of the primary key) instead of using the GIN indexes.
    """
    identity_match = _matches(session, "identities_fts", PG_IDENTITY_DOC, words)
    lookups: list[Any] = [
        select(Customer.id).where(_matches(session, "customers_fts", PG_CUSTOMER_DOC, words)),
        select(Identity.customer_id).where(identity_match),
        select(Identity.customer_id).where(Identity.external_id == query.strip()),
    ]
    phone = normalise_phone(query) if re.fullmatch(r"[\d\s+().-]{6,}", query.strip()) else None
    if phone is not None:
        lookups.append(select(Customer.id).where(Customer.phone == phone))
        lookups.append(select(Identity.customer_id).where(Identity.phone == phone))
    return col(Customer.id).in_(union(*lookups))
