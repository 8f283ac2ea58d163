"""Full-text search over messages and customers, on SQLite (FTS5) and PostgreSQL (GIN).

One Python API, two engines:

* SQLite: FTS5 external-content tables (``messages_fts``, ``identities_fts``,
  ``customers_fts``) kept in step by triggers, so every write path (ORM, bulk Core
  inserts, deletes on erasure) maintains them (migration 0003);
* PostgreSQL: GIN indexes on ``to_tsvector('simple', …)`` of the same columns: for
  messages a stored generated column, ``messages.text_fts`` (migration 0010), for
  customers and identities expressions that the queries below repeat verbatim so the
  planner uses the indexes.

Both sides split text on punctuation and spaces, fold case, keep accents, and match every
word of the query as a prefix (``ordin`` finds ``ordine``). Results are newest first
(messages, conversations) or most recently created first (customers), so the two engines
answer the same thing.

A common word matches a good part of the inbox, so messages and conversations are looked
for among the newest rows first (:data:`WINDOWS`) and the whole match set is read only
when those hold less than a page: a window is every row down to an edge in the result
order, so a page found inside it is the page.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Select,
    and_,
    exists,
    literal_column,
    or_,
    text,
    tuple_,
    union,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, select

from sportello.inbox.contact_points import normalise_phone
from sportello.inbox.models import Conversation, Customer, Identity, Message

MAX_TERMS = 8
# When at least FEW messages match, the newest rows are searched first: 50 per wanted
# result, then 800; fewer matches are read and sorted all at once.
FEW = 1000
WINDOWS = (50, 800)

# Index expressions (PostgreSQL); the migration creates GIN indexes on exactly these.
# messages.text_fts is a stored column (migration 0010): to_tsvector('simple',
# regexp_replace(text, '[[:punct:]]+', ' ', 'g')), so testing a row does not recompute it.
PG_MESSAGE_DOC = "messages.text_fts"
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


# Expression indexes for the look-alike search of sportello.inbox.linking (migration 0011).
LOOKALIKE_INDEXES = frozenset({"ix_identities_lower_name", "ix_identities_lower_handle"})


def is_search_object(name: str | None, type_: str, parent_names: Any = None) -> bool:
    """Whether a database object belongs to a search and not to the tables: full-text
    search, and the look-alike indexes.

    Alembic's ``include_name`` hook uses the negation so autogenerate leaves them alone.
    """
    return bool(name) and ("_fts" in str(name) or name in LOOKALIKE_INDEXES)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not is_search_object(name, type_, parent_names)


def _matches(
    session: Session,
    fts_table: str,
    pg_doc: str,
    words: list[str],
    *,
    from_id: int | None = None,
) -> ColumnElement[bool]:
    """A condition on the content table's ``id`` that holds for rows matching every word.

    ``from_id``: the query walks a narrow index range of rows whose ids are all at least
    this, and tests each; SQLite then reads only that tail of the match list, and is told
    not to drive the query from the list instead (it would, reading every match).
    PostgreSQL, given it, collects only the matches from there on: otherwise it may hash
    every match of a common word, a heap page each (at 1M messages, 25,000 rows and
    60-340 ms, for a window of a few thousand).
    """
    content, _ = SQLITE_FTS[fts_table]
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        matches = literal_column(pg_doc).op("@@")(func.to_tsquery("simple", tsquery))
        if from_id is None:
            return matches
        return and_(literal_column(f"{content}.id") >= from_id, matches)
    match = _fts5_query(words)
    where = f"{fts_table} MATCH :match"
    if from_id is None:
        rowids = text(f"SELECT rowid FROM {fts_table} WHERE {where}").bindparams(match=match)
        return literal_column(f"{content}.id").in_(rowids)
    rowids = text(f"SELECT rowid FROM {fts_table} WHERE {where} AND rowid >= :from_id")
    return literal_column(f"+{content}.id").in_(rowids.bindparams(match=match, from_id=from_id))


def _fts5_query(words: list[str]) -> str:
    """An FTS5 query matching every word as a prefix."""
    return " ".join(f'"{w}"*' for w in words)


def _few_matching_messages(session: Session, words: list[str]) -> list[int] | None:
    """SQLite: the ids of the matching messages when fewer than :data:`FEW` match, else
    None. FTS5 lists them cheaply; PostgreSQL would test rows one by one, so it is never
    asked (None)."""
    if session.get_bind().dialect.name == "postgresql":
        return None
    match = _fts5_query(words)
    hits = text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :match LIMIT :few")
    ids = list(session.connection().execute(hits, {"match": match, "few": FEW}).scalars())
    return ids if len(ids) < FEW else None


def _windows(session: Session) -> tuple[int, ...]:
    """Windows to try: a PostgreSQL window tests each of its rows, so past the first one
    reading the whole match set through the GIN index costs less."""
    return WINDOWS[:1] if session.get_bind().dialect.name == "postgresql" else WINDOWS


def _all_matching_messages(session: Session, words: list[str]) -> Any:
    """The ids of every matching message, as a subquery.

    On PostgreSQL a materialised CTE: a plain condition lets the planner, misjudging a rare
    prefix as common, walk every message newest first testing each (seconds, not ms).
    """
    condition = _matches(session, "messages_fts", PG_MESSAGE_DOC, words)
    if session.get_bind().dialect.name != "postgresql":
        return select(Message.id).where(condition)
    hits = select(Message.id).where(condition).cte("hits").prefix_with("MATERIALIZED")
    return select(hits.c.id)


def _message_window(
    session: Session, in_window: ColumnElement[bool], ids: Select[Any]
) -> tuple[ColumnElement[bool], int | None]:
    """A window of messages as a page's condition, and the first id that narrows SQLite's
    match list (None on PostgreSQL, which tests each row's stored document).

    SQLite walks the window's index range. PostgreSQL reads the window's rows by primary
    key: given the range, it intersected it with the GIN index's bitmap of every match
    (38,000 rows for a common word at 1M messages: 9-18 ms, against 3).
    """
    if session.get_bind().dialect.name == "postgresql":
        return col(Message.id).in_(ids), None
    return in_window, session.scalar(select(func.min(ids.subquery().c.id)))


def _first_rows(
    session: Session, keys: tuple[Any, Any], rows: int, *where: ColumnElement[bool]
) -> tuple[ColumnElement[bool], Select[Any]] | None:
    """The first ``rows`` rows by ``keys`` descending: a condition true for exactly them,
    and the query of their ids (the second key); None if there are fewer rows."""
    ordered = select(*keys).where(*where).order_by(keys[0].desc(), keys[1].desc())
    edge = session.exec(ordered.offset(rows - 1).limit(1)).first()
    if edge is None:
        return None
    ids = select(keys[1]).where(*where).order_by(keys[0].desc(), keys[1].desc()).limit(rows)
    return tuple_(*keys) >= tuple(edge), ids


def search_messages(
    session: Session, query: str, *, limit: int = 50, offset: int = 0
) -> list[Message]:
    """Messages containing every word of ``query`` (as prefixes), newest first.

    Fewer than :data:`FEW` matches are read directly; more are looked for in the newest
    messages first (see the module docstring), then in all of them.
    """
    words = terms(query)
    if not words:
        return []

    def page(*where: ColumnElement[bool]) -> list[Message]:
        statement = (
            select(Message)
            .where(*where)
            .order_by(col(Message.sent_at).desc(), col(Message.id).desc())
            .offset(offset)
            .limit(limit)
        )
        return list(session.exec(statement))

    few = _few_matching_messages(session, words)
    keys = (col(Message.sent_at), col(Message.id))
    for rows_per_result in _windows(session) if few is None else ():
        window = _first_rows(session, keys, (offset + limit) * rows_per_result)
        if window is None:
            break
        in_window, first_id = _message_window(session, *window)
        found = page(
            in_window, _matches(session, "messages_fts", PG_MESSAGE_DOC, words, from_id=first_id)
        )
        if len(found) == limit:
            return found
    if few is not None:
        return page(col(Message.id).in_(few)) if few else []
    return page(col(Message.id).in_(_all_matching_messages(session, words)))


def search_conversations(session: Session, query: str, *, limit: int = 50) -> list[Conversation]:
    """Conversations with a matching message or a matching customer, latest activity first.

    Searched like messages: the most recently active conversations first, then all.
    """
    words = terms(query)
    if not words:
        return []
    customers = _matching_customers(session, query, words)
    latest_first = (
        col(Conversation.last_message_at).desc().nulls_last(),
        col(Conversation.id).desc(),
    )
    keys = (col(Conversation.last_message_at), col(Conversation.id))
    active = col(Conversation.last_message_at).is_not(None)
    few = _few_matching_messages(session, words)
    for rows_per_result in _windows(session) if few is None else ():
        window = _first_rows(session, keys, limit * rows_per_result, active)
        if window is None:
            break
        in_window, ids = window
        # Both engines: a conversation's match may be any of its messages, and testing
        # each message of the window's conversations is what PostgreSQL would not plan.
        first_id = session.scalar(
            select(func.min(Message.id)).where(col(Message.conversation_id).in_(ids))
        )
        has_match = exists().where(
            col(Message.conversation_id) == col(Conversation.id),
            _matches(session, "messages_fts", PG_MESSAGE_DOC, words, from_id=first_id),
        )
        statement = (
            select(Conversation)
            .where(
                in_window,
                or_(has_match, col(Conversation.customer_id).in_(customers)),
            )
            .order_by(*latest_first)
            .limit(limit)
        )
        found = list(session.exec(statement))
        if len(found) == limit:
            return found
    in_messages = select(Message.conversation_id).where(
        col(Message.id).in_(few if few is not None else _all_matching_messages(session, words))
    )
    of_customers = select(Conversation.id).where(col(Conversation.customer_id).in_(customers))
    statement = (
        select(Conversation)
        .where(col(Conversation.id).in_(union(in_messages, of_customers)))
        .order_by(*latest_first)
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
        .where(
            col(Customer.id).in_(_matching_customers(session, query, words)),
            col(Customer.merged_into_id).is_(None),
        )
        .order_by(col(Customer.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement))


def _matching_customers(session: Session, query: str, words: list[str]) -> CompoundSelect:
    """The ids of matching customers: a union of index lookups.

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
    return union(*lookups)
