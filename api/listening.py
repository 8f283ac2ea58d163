"""``/api/v1/mentions``: brand mentions with sentiment, trend, share of voice, corrections."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from sportello.api.deps import Caller, DaemonDep, SessionDep, get_or_404
from sportello.api.inputs import Instant, RowId
from sportello.api.pagination import MAX_LIMIT, BeforeTime, decode_cursor, encode_cursor
from sportello.api.schemas import ConversationOut, MessageOut, Page, SentimentOut
from sportello.api.views import conversations_out, message_out
from sportello.inbox.clock import ensure_utc
from sportello.inbox.models import Message
from sportello.listening.models import Mention
from sportello.listening.promote import NotPromotable, promote
from sportello.listening.relabel import relabel_mention, relabel_message
from sportello.sentiment.label import Label

router = APIRouter(prefix="/api/v1", tags=["listening"])

Bucket = Literal["hour", "day"]
MAX_BUCKETS = 24 * 92


class MentionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    topic: str
    query: str | None = None
    author_id: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    title: str | None = None
    text: str
    link: str | None = None
    language: str | None = None
    published_at: datetime
    fetched_at: datetime
    sentiment: SentimentOut | None = None
    conversation_id: int | None = None


class SentimentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label
    compound: float | None = Field(default=None, ge=-1, le=1)


def mention_out(mention: Mention) -> MentionOut:
    out = MentionOut.model_validate(mention)
    if mention.sentiment_compound is not None and mention.sentiment_label is not None:
        out.sentiment = SentimentOut(
            compound=mention.sentiment_compound,
            label=mention.sentiment_label,  # type: ignore[arg-type]
            language=mention.language,
            corrected=mention.sentiment_corrected,
        )
    return out


def _filtered(
    query: Any,
    source: str | None,
    language: str | None,
    label: str | None,
    topic: str | None,
    start: datetime | None,
    end: datetime | None,
    q: str | None,
) -> Any:
    for column, value in (
        (Mention.source, source),
        (Mention.language, language),
        (Mention.sentiment_label, label),
        (Mention.topic, topic),
    ):
        if value is not None:
            query = query.where(column == value)
    if start is not None:
        query = query.where(Mention.published_at >= ensure_utc(start))
    if end is not None:
        query = query.where(Mention.published_at < ensure_utc(end))
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(
                col(Mention.text).ilike(pattern),
                col(Mention.author_handle).ilike(pattern),
                col(Mention.title).ilike(pattern),
            )
        )
    return query


@router.get("/mentions")
def list_mentions(
    session: SessionDep,
    _: Caller,
    source: Literal["x", "feed"] | None = None,
    language: str | None = None,
    label: Label | None = None,
    topic: str | None = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    q: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[MentionOut]:
    """Mentions matching every filter given, newest first."""
    query = _filtered(select(Mention), source, language, label, topic, from_, to, q)
    position = decode_cursor(cursor, BeforeTime)
    if position is not None:
        at = position.t
        query = query.where(
            or_(
                col(Mention.published_at) < at,
                and_(col(Mention.published_at) == at, col(Mention.id) < position.id),
            )
        )
    query = query.order_by(col(Mention.published_at).desc(), col(Mention.id).desc())
    rows = list(session.exec(query.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(BeforeTime.of(rows[-1].published_at, rows[-1].id))
    return Page(items=[mention_out(m) for m in rows], next_cursor=next_cursor)


def _range(
    daemon: Any, start: datetime | None, end: datetime | None, bucket: Bucket, default: timedelta
) -> tuple[datetime, datetime]:
    end = ensure_utc(end) if end is not None else daemon.clock.now()
    start = ensure_utc(start) if start is not None else end - default
    if start >= end:
        raise HTTPException(422, "from must be before to")
    size = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    if (end - start) / size > MAX_BUCKETS:
        raise HTTPException(
            422, f"at most {MAX_BUCKETS} buckets; use bucket=day or a shorter range"
        )
    return _floor(start, bucket), end


def _floor(at: datetime, bucket: Bucket) -> datetime:
    at = at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


def _starts(start: datetime, end: datetime, bucket: Bucket) -> list[datetime]:
    size = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    starts, at = [], start
    while at < end:
        starts.append(at)
        at += size
    return starts


def _rows(session: Session, query: Any) -> list[Any]:
    return list(session.exec(query))


@router.get("/mentions/trend")
def mention_trend(
    session: SessionDep,
    daemon: DaemonDep,
    _: Caller,
    bucket: Bucket = "hour",
    source: Literal["x", "feed"] | None = None,
    language: str | None = None,
    topic: str | None = "brand",
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
) -> dict[str, Any]:
    """Mentions per bucket with their sentiment mix and mean compound (empty buckets too)."""
    default = timedelta(days=2) if bucket == "hour" else timedelta(days=30)
    start, end = _range(daemon, from_, to, bucket, default)
    query = _filtered(
        select(Mention.published_at, Mention.sentiment_label, Mention.sentiment_compound),
        source,
        language,
        None,
        topic,
        start,
        end,
        None,
    )
    counts: dict[datetime, Counter[str]] = defaultdict(Counter)
    sums: dict[datetime, float] = defaultdict(float)
    for at, label, compound in _rows(session, query):
        key = _floor(ensure_utc(at), bucket)
        counts[key]["count"] += 1
        counts[key][label or "unscored"] += 1
        if compound is not None:
            counts[key]["scored"] += 1
            sums[key] += compound
    items = []
    for at in _starts(start, end, bucket):
        c = counts.get(at, Counter())
        items.append(
            {
                "start": at.isoformat(),
                "count": c["count"],
                "positive": c["positive"],
                "neutral": c["neutral"],
                "negative": c["negative"],
                "avg_compound": round(sums[at] / c["scored"], 4) if c["scored"] else None,
            }
        )
    return {"bucket": bucket, "from": start.isoformat(), "to": end.isoformat(), "items": items}


@router.get("/mentions/share-of-voice")
def share_of_voice(
    session: SessionDep,
    daemon: DaemonDep,
    _: Caller,
    bucket: Bucket = "day",
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
) -> dict[str, Any]:
    """Mention counts per topic (the brand and each competitor) per bucket, and their shares."""
    start, end = _range(daemon, from_, to, bucket, timedelta(days=30))
    topics = ["brand", *daemon.settings.listening.competitor_queries]
    query = select(Mention.published_at, Mention.topic).where(
        Mention.published_at >= start, Mention.published_at < end
    )
    per_bucket: dict[datetime, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter({t: 0 for t in topics})
    for at, topic in _rows(session, query):
        per_bucket[_floor(ensure_utc(at), bucket)][topic] += 1
        totals[topic] += 1
    grand = sum(totals.values())
    return {
        "bucket": bucket,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "topics": list(totals),
        "totals": dict(totals),
        "share": {t: (round(n / grand, 4) if grand else None) for t, n in totals.items()},
        "items": [
            {"start": at.isoformat(), "counts": {t: per_bucket[at][t] for t in totals}}
            for at in _starts(start, end, bucket)
        ],
    }


def _mention(session: Session, mention_id: int) -> Mention:
    return get_or_404(session, Mention, mention_id, "mention")


@router.get("/mentions/{mention_id}")
def get_mention(mention_id: RowId, session: SessionDep, _: Caller) -> MentionOut:
    return mention_out(_mention(session, mention_id))


@router.patch("/mentions/{mention_id}/sentiment")
def correct_mention(
    mention_id: RowId, body: SentimentPatch, session: SessionDep, _: Caller
) -> MentionOut:
    """A human's label (and optional compound) replaces the computed sentiment for good."""
    mention = _mention(session, mention_id)
    try:
        relabel_mention(session, mention, body.label, body.compound)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return mention_out(mention)


@router.patch("/messages/{message_id}/sentiment")
def correct_message(
    message_id: RowId, body: SentimentPatch, session: SessionDep, _: Caller
) -> MessageOut:
    message = get_or_404(session, Message, message_id, "message")
    try:
        relabel_message(session, message, body.label, body.compound)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return message_out(message)


@router.post("/mentions/{mention_id}/promote")
def promote_mention(
    mention_id: RowId, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> ConversationOut:
    """Open (or find) the conversation of an X mention; 409 for a mention nobody can answer."""
    mention = _mention(session, mention_id)
    try:
        conversation = promote(
            session,
            mention,
            now=daemon.clock.now(),
            scorer=daemon.worker.scorer,
            actor=caller,
        )
    except NotPromotable as exc:
        raise HTTPException(409, str(exc)) from None
    session.flush()
    return conversations_out(session, [conversation])[0]
