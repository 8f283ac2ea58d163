"""The pictures and videos of X posts and DMs, as attachments.

X appends one t.co link to the text of a post or DM that carries media, pointing at the
media themselves; it is taken out of the text, since the attachments stand for it.

API v2 names the media in ``attachments.media_keys`` and describes them in
``includes.media`` (``expansions=attachments.media_keys``); the link is the ``entities.urls``
item that has a ``media_key``. Account Activity (v1.1) carries them as media entities: a
tweet's ``extended_entities.media`` (or ``entities.media``), a DM's
``message_data.attachment.media``.

A picture in a DM is on ``ton.twitter.com``, which serves it only to a GET signed as the
account (OAuth 1.0a): no browser can open that link, so the daemon fetches it
(:func:`fetch_dm_picture`). A post's pictures are public ``pbs.twimg.com`` links.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping
from typing import Any

import requests
import tweepy
from requests.auth import AuthBase

from sportello.connectors.base import (
    MAX_MEDIA_BYTES,
    Attachment,
    AttachmentKind,
    Media,
    MediaError,
    too_large,
)
from sportello.connectors.x_api import TIMEOUT_S, TON_HOST

KINDS: dict[str, AttachmentKind] = {"photo": "image", "video": "video", "animated_gif": "video"}


def v2_media(
    attachments: Mapping[str, Any] | None,
    entities: Mapping[str, Any] | None,
    media: Mapping[str, tweepy.Media],
    text: str,
) -> tuple[str, tuple[Attachment, ...]]:
    """The text without its media link, and the attachments of a v2 tweet or DM event."""
    keys = (attachments or {}).get("media_keys") or []
    if not keys:
        return text, ()
    found = tuple(_v2_attachment(key, media.get(key)) for key in keys)
    links = [u["url"] for u in (entities or {}).get("urls", []) if u.get("media_key")]
    return _without(text, links), found


def v1_media(
    entities: Iterable[Mapping[str, Any]], text: str
) -> tuple[str, tuple[Attachment, ...]]:
    """The text without its media link, and the attachments of v1.1 media entities."""
    found = tuple(entities)
    attachments = tuple(
        Attachment(
            KINDS.get(str(m.get("type")), "unsupported"),
            url=m.get("media_url_https") or m.get("media_url"),
            platform_id=str(m.get("id_str") or m.get("id")),
            extra=_extra(m.get("ext_alt_text")),
        )
        for m in found
    )
    return _without(text, [m["url"] for m in found if m.get("url")]), attachments


def _v2_attachment(key: str, medium: tweepy.Media | None) -> Attachment:
    if medium is None:  # not expanded: still say there was one
        return Attachment("unsupported", platform_id=key)
    return Attachment(
        KINDS.get(medium.type, "unsupported"),
        url=medium.url or medium.preview_image_url,
        platform_id=key,
        extra=_extra(medium.alt_text),
    )


def _extra(alt_text: str | None) -> dict[str, str]:
    return {"alt_text": alt_text} if alt_text else {}


def _without(text: str, links: Iterable[str]) -> str:
    for link in links:
        text = text.replace(link, "")
    return text.strip()


def is_dm_picture(attachment: Mapping[str, Any]) -> bool:
    """Whether a stored attachment is a DM's picture, kept on ``ton.twitter.com``."""
    url = attachment.get("url")
    return (
        attachment.get("kind") == "image"
        and isinstance(url, str)
        and url.startswith(TON_HOST + "/")
    )


def fetch_dm_picture(session: requests.Session, auth: AuthBase, url: str) -> Media:
    """A DM's picture, by a GET signed with ``auth`` (blocking: run it in a thread)."""
    try:
        response = session.get(url, auth=auth, stream=True, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise MediaError(f"X unreachable: {exc!r}", retryable=True) from exc
    with response:
        status = response.status_code
        if status != 200:
            raise MediaError(
                f"X answered {status} {response.reason} for the DM's picture",
                gone=status == 404,
                retryable=status == 429 or status >= 500,
            )
        content = bytearray()
        for chunk in response.iter_content(64 * 1024):
            content += chunk
            if len(content) > MAX_MEDIA_BYTES:
                raise too_large()
        declared = response.headers.get("content-type")
    mime = declared or mimetypes.guess_type(url.split("?")[0])[0] or "application/octet-stream"
    return Media(bytes(content), mime)
