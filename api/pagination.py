"""Opaque cursors for list endpoints: base64 of a small JSON position.

Each list reads its cursor back as one of the positions below, so a cursor that was
tampered with, truncated or made up is a ``400 invalid cursor``, never a failure inside a
query.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sportello.api.inputs import RowId
from sportello.inbox.clock import within_range

MAX_LIMIT = 200


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Offset(Position):
    """The next page starts this many rows in."""

    offset: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0


class Before(Position):
    """Newest first: the next page holds the rows with a smaller id."""

    id: RowId

    @classmethod
    def of(cls, row_id: int | None) -> Before:
        """The position after a stored row (the ORM types its id as optional)."""
        assert row_id is not None
        return cls(id=row_id)


class BeforeTime(Position):
    """Newest first by time: the rows before ``t``, or at ``t`` with a smaller id."""

    t: datetime
    id: RowId

    @field_validator("t")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return within_range(value)

    @classmethod
    def of(cls, t: datetime, row_id: int | None) -> BeforeTime:
        """The position after a stored row at ``t``."""
        assert row_id is not None
        return cls(t=t, id=row_id)


PositionT = TypeVar("PositionT", bound=Position)


def encode_cursor(position: Position) -> str:
    raw = json.dumps(position.model_dump(mode="json"), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: type[PositionT]) -> PositionT | None:
    """The position ``cursor`` holds (None for the first page); 400 unless it is a ``shape``."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return shape.model_validate(json.loads(base64.urlsafe_b64decode(padded)))
    except (ValueError, TypeError, ValidationError):
        raise HTTPException(400, "invalid cursor") from None


def offset_of(cursor: str | None) -> int:
    """Where the page ``cursor`` points to starts, in rows (0 for the first page)."""
    position = decode_cursor(cursor, Offset)
    return position.offset if position is not None else 0
