"""An agent's file, uploaded to X for a DM or a post (API v2 media upload).

tweepy 4.17 uploads only through v1.1's ``upload.twitter.com``, which X retired in 2025. The
v2 endpoints take the file base64-encoded in a JSON body, so the calls go through the
tweepy client's own ``request`` (its session, its OAuth 1.0a signing, its exceptions for
X's errors), as every other call to X does.

A picture (JPEG, PNG, WebP) goes in one request, ``POST /2/media/upload``. A GIF or a video
goes in X's chunked steps: ``POST /2/media/upload/initialize``, ``.../{id}/append`` per
chunk, ``.../{id}/finalize``, then ``GET /2/media/upload?command=STATUS`` while X processes
it: a video can be attached only once its processing has ``succeeded``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any, Literal

import tweepy

from sportello.connectors.base import OutboundFile, SendError

Kind = Literal["image", "gif", "video"]
PICTURE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
# X's limits per kind (developer.x.com, "Media best practices").
LIMITS: dict[Kind, int] = {"image": 5 * 2**20, "gif": 15 * 2**20, "video": 512 * 2**20}
SHOWN: dict[Kind, str] = {"image": "picture", "gif": "GIF", "video": "video"}
CHUNK_BYTES = 2 * 2**20  # raw bytes per append (base64 makes a third more)
PROCESSING_WAIT_S = 120.0  # the longest a video may take to process before the send fails


def kind_of(file: OutboundFile) -> Kind | None:
    if file.mime_type in PICTURE_TYPES:
        return "image"
    if file.mime_type == "image/gif":
        return "gif"
    if file.mime_type in VIDEO_TYPES:
        return "video"
    return None


def refusal(file: OutboundFile) -> str | None:
    """Why X cannot carry ``file`` (its type or its size), or ``None``."""
    kind = kind_of(file)
    if kind is None:
        return "X carries only pictures (JPEG, PNG, WebP, GIF) and MP4 or MOV videos"
    if len(file.content) > LIMITS[kind]:
        return f"X takes a {SHOWN[kind]} up to {LIMITS[kind] // 2**20} MB"
    return None


def upload(
    client: tweepy.Client,
    file: OutboundFile,
    *,
    dm: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Upload ``file`` for a DM (``dm``) or a post; returns its media id, ready to attach.

    Blocking: run it in a thread. X's HTTP errors raise tweepy's exceptions; a file X
    cannot process, or one still processing after ``PROCESSING_WAIT_S``, a ``SendError``.
    """
    kind = kind_of(file)
    if kind is None:
        raise SendError(refusal(file) or "", retryable=False)
    category = f"{'dm' if dm else 'tweet'}_{kind}"
    if kind == "image":
        data = _call(
            client,
            "POST",
            "/2/media/upload",
            json={
                "media": _b64(file.content),
                "media_category": category,
                "media_type": file.mime_type,
            },
        )
        return _media_id(data)
    started = _call(
        client,
        "POST",
        "/2/media/upload/initialize",
        json={
            "media_type": file.mime_type,
            "total_bytes": len(file.content),
            "media_category": category,
        },
    )
    media_id = _media_id(started)
    for index, start in enumerate(range(0, len(file.content), CHUNK_BYTES)):
        chunk = file.content[start : start + CHUNK_BYTES]
        client.request(  # its answer carries nothing needed
            "POST",
            f"/2/media/upload/{media_id}/append",
            json={"media": _b64(chunk), "segment_index": index},
            user_auth=True,
        )
    finished = _call(client, "POST", f"/2/media/upload/{media_id}/finalize")
    _wait_processed(client, media_id, finished.get("processing_info"), sleep)
    return media_id


def _wait_processed(
    client: tweepy.Client,
    media_id: str,
    processing: dict[str, Any] | None,
    sleep: Callable[[float], None],
) -> None:
    """Poll X's status of ``media_id`` until its processing has succeeded."""
    waited = 0.0
    while processing is not None and processing.get("state") != "succeeded":
        if processing.get("state") == "failed":
            error = processing.get("error") or {}
            detail = error.get("message") or error.get("name") or "no reason given"
            raise SendError(f"X could not process the file: {detail}", retryable=False)
        if waited >= PROCESSING_WAIT_S:
            raise SendError(
                f"X was still processing the file after {PROCESSING_WAIT_S:.0f} s",
                retryable=True,
            )
        pause = min(float(processing.get("check_after_secs") or 1), PROCESSING_WAIT_S - waited)
        sleep(pause)
        waited += pause
        status = _call(
            client,
            "GET",
            "/2/media/upload",
            params={"command": "STATUS", "media_id": media_id},
        )
        processing = status.get("processing_info")


def _call(
    client: tweepy.Client,
    method: str,
    route: str,
    *,
    json: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One signed call; its ``data`` object."""
    response = client.request(method, route, params=params, json=json, user_auth=True)
    try:
        data = response.json()["data"]
    except (ValueError, KeyError, TypeError):
        raise SendError(
            f"X answered {route} without data: {response.text[:200]}", retryable=False
        ) from None
    if not isinstance(data, dict):
        raise SendError(f"X answered {route} with {data!r}", retryable=False)
    return data


def _media_id(data: dict[str, Any]) -> str:
    media_id = data.get("id")
    if not media_id:
        raise SendError(f"X gave no media id: {data}", retryable=False)
    return str(media_id)


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")
