"""Rebuilding the stored timelines that changed (``timeline_tables``): the periodic job.

A rebuild reads each stale conversation's generation first, then its history, and writes
only where the generation is still the one it read (one conditional ``UPDATE``): anything
committed in between bumped it and leaves the row stale for the next run. Rows being
written by another transaction are skipped, never waited for (``SKIP LOCKED``), so the job
cannot deadlock with the writers.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import case, delete, insert, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col, select

from sportello.inbox.batches import in_batches
from sportello.inbox.metrics.history import walk_histories
from sportello.inbox.metrics.timeline import Timeline
from sportello.inbox.metrics.timeline_tables import (
    STALE,
    ConversationTimeline,
    TimelineCase,
    TimelinePause,
    TimelineWait,
)

# A batch's writes hold SQLite's one writer, and a webhook's journal commit waits for them:
# 500 timelines held it for ~30 ms under load, 100 for a fifth of that.
BATCH = 100
ROW_TABLES = (TimelineCase, TimelineWait, TimelinePause)


def refresh(
    engine: Engine,
    *,
    limit: int = BATCH,
    write_lock: AbstractContextManager[Any] | None = None,
) -> int:
    """Rebuild up to ``limit`` stale timelines; how many were rebuilt."""
    with engine.connect() as connection:
        read = dict(
            connection.execute(
                select(ConversationTimeline.conversation_id, ConversationTimeline.generation)
                .where(STALE)
                .limit(limit)
            ).all()
        )
        if not read:
            return 0
        walked = {t.conversation_id: t for t in walk_histories(connection, list(read))}
    with write_lock or nullcontext(), engine.begin() as connection:
        # PostgreSQL: lock the rows nobody is writing; the others wait for the next run.
        free = connection.execute(
            select(ConversationTimeline.conversation_id)
            .where(col(ConversationTimeline.conversation_id).in_(list(read)))
            .with_for_update(skip_locked=True)
        ).scalars()
        claimed = _claim(connection, {cid: read[cid] for cid in free})
        if claimed:
            _replace(connection, claimed, walked)
    return len(claimed)


def _claim(connection: Connection, generations: dict[int, int]) -> list[int]:
    """Mark current the timelines whose generation is still the one read; their ids.

    One conditional ``UPDATE``: on SQLite it is also what opens the write transaction, so a
    change committed after the generations were read cannot slip in before it.
    """
    if not generations:
        return []
    timeline = ConversationTimeline
    return list(
        connection.execute(
            update(timeline)
            .where(
                col(timeline.conversation_id).in_(list(generations)),
                col(timeline.generation) == case(generations, value=timeline.conversation_id),
            )
            .values(built_generation=timeline.generation)
            .returning(col(timeline.conversation_id))
        ).scalars()
    )


def refresh_all(
    engine: Engine,
    *,
    budget_s: float = 10.0,
    write_lock: AbstractContextManager[Any] | None = None,
    pause: Callable[[], object] | None = None,
) -> int:
    """Rebuild stale timelines batch after batch, for at most about ``budget_s``.

    ``pause`` runs before each batch. The daemon waits there for a quiet moment in the webhooks:
    the stored timelines are a cache (the report walks what is stale), and rebuilding them
    is Python work that would take the interpreter and SQLite's writer from the webhooks.
    """
    return in_batches(
        lambda: refresh(engine, write_lock=write_lock), BATCH, budget_s=budget_s, pause=pause
    )


def _replace(connection: Connection, claimed: list[int], walked: dict[int, Timeline]) -> None:
    for table in ROW_TABLES:
        connection.execute(delete(table).where(col(table.conversation_id).in_(claimed)))
    cases: list[dict[str, Any]] = []
    waits: list[dict[str, Any]] = []
    pauses: list[dict[str, Any]] = []
    for cid in claimed:
        timeline = walked.get(cid)
        if timeline is None:  # no history (yet, or any more)
            continue
        waits += [
            {
                "conversation_id": cid,
                "ordinal": n,
                "start_at": w.start,
                "end_at": w.end,
                "cut_at": w.cut,
                "settled_at": min((t for t in (w.end, w.cut) if t is not None), default=None),
            }
            for n, w in enumerate(timeline.waits)
        ]
        cases += [
            {
                "conversation_id": cid,
                "ordinal": n,
                "start_at": c.start,
                "end_at": c.end,
                "first_wait_at": None if c.first_wait is None else c.first_wait.start,
                "first_answer_at": None if c.first_wait is None else c.first_wait.end,
                "first_reply_at": c.first_reply_at,
                "human_replies": c.human_replies,
                "reopened_at": c.reopened_at,
            }
            for n, c in enumerate(timeline.cases)
        ]
        pauses += [
            {"conversation_id": cid, "ordinal": n, "start_at": start, "end_at": end}
            for n, (start, end) in enumerate(timeline.pauses)
        ]
    for table, rows in ((TimelineCase, cases), (TimelineWait, waits), (TimelinePause, pauses)):
        if rows:
            connection.execute(insert(table), rows)
