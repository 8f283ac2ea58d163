"""``GET /api/v1/messages/{id}/attachments/{index}``: an attachment's file, from the platform.

Telegram and WhatsApp keep a customer's photo or document under an id that only the bot's
token opens, so the inbox asks the daemon, which asks the platform there and then. A copy
kept with the message is served instead where there is one: a file an agent sent, or a
WhatsApp or Messenger customer's file copied before it expires (``inbox/kept_media.py``).
The browser shows inline only the image, audio and video types of :data:`INLINE_TYPES`;
anything else is a download, and nothing served here runs as a page (``nosniff`` and a
sandboxing policy), whatever a customer sent.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Response

from sportello.api.deps import Caller, DaemonDep, SessionDep, get_or_404
from sportello.api.inputs import RowId
from sportello.connectors.base import Media, MediaError
from sportello.inbox.models import Message, MessageFile

if TYPE_CHECKING:
    from sportello.daemon import Daemon

router = APIRouter(prefix="/api/v1", tags=["messages"])

INLINE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/webm",
        "audio/ogg",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/amr",
    }
)
# The browser may keep a file an hour: an agent going back and forth in a conversation
# does not ask the platform again each time.
CACHE_CONTROL = "private, max-age=3600"


def content_url(message_id: int, index: int) -> str:
    return f"/api/v1/messages/{message_id}/attachments/{index}"


@dataclass(frozen=True)
class StoredAttachment:
    message_id: int
    index: int
    channel: str
    attachment: dict[str, Any]
    kept: Media | None  # the copy kept with the message, if there is one


def stored_attachment(message_id: RowId, index: RowId, session: SessionDep) -> StoredAttachment:
    message = get_or_404(session, Message, message_id, "message")
    if not 0 <= index < len(message.attachments):
        raise HTTPException(404, f"message {message_id} has no attachment {index}")
    attachment = message.attachments[index]
    kept = None
    if "file_id" in attachment:
        row = session.get(MessageFile, attachment["file_id"])
        if row is None or row.message_id != message_id:
            raise HTTPException(404, f"the file of message {message_id} is gone")
        kept = Media(row.content, row.mime_type)
    return StoredAttachment(message_id, index, message.channel, attachment, kept)


@router.get(
    "/messages/{message_id}/attachments/{index}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the file"},
        404: {"description": "no such attachment, no file to fetch, or the platform lost it"},
        502: {"description": "the platform refused (its reason in detail)"},
        503: {"description": "the platform is unreachable or rate-limited: try again later"},
    },
)
async def attachment_file(
    found: Annotated[StoredAttachment, Depends(stored_attachment)], daemon: DaemonDep, _: Caller
) -> Response:
    media = found.kept or await _fetched(found, daemon)
    mime_type = media.mime_type.split(";")[0].strip().lower()
    inline = mime_type in INLINE_TYPES
    return Response(
        media.content,
        media_type=mime_type if inline else "application/octet-stream",
        headers={
            "Content-Disposition": _disposition(found, mime_type, inline),
            "Cache-Control": CACHE_CONTROL,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


async def _fetched(found: StoredAttachment, daemon: Daemon) -> Media:
    connector = daemon.connectors.get(found.channel)
    if connector is None or not connector.fetches(found.attachment):
        raise HTTPException(404, "this attachment has no file the platform can give")
    try:
        async with daemon.media_fetches:
            return await connector.media(found.attachment)
    except MediaError as exc:
        if exc.gone:
            raise HTTPException(404, exc.reason) from exc
        if exc.retryable:
            raise HTTPException(503, exc.reason, headers={"Retry-After": "30"}) from exc
        raise HTTPException(502, exc.reason) from exc


def _disposition(found: StoredAttachment, mime_type: str, inline: bool) -> str:
    """The customer's file name where the platform gave one, else ``image-12-0.jpg``."""
    name = found.attachment.get("name")
    if not isinstance(name, str) or not name.strip():
        extension = mimetypes.guess_extension(mime_type) or ""
        name = f"{found.attachment.get('kind', 'file')}-{found.message_id}-{found.index}{extension}"
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in name)
    how = "inline" if inline else "attachment"
    return f"{how}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
