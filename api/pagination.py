"""Opaque cursors for list endpoints: base64 of a small JSON position."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import HTTPException

MAX_LIMIT = 200


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        raise HTTPException(400, "invalid cursor") from None
    if not isinstance(value, dict):
        raise HTTPException(400, "invalid cursor")
    return value
