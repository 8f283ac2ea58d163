"""X's v2 media upload, for the X emulator: what an agent's file goes through before a DM
or a post can carry it.

``POST /2/media/upload`` takes a picture in one request; ``initialize``, ``append`` and
``finalize`` under ``/2/media/upload/...`` take a GIF or a video in chunks, and
``GET /2/media/upload?command=STATUS`` tells how X's processing of it is going. Bodies are
JSON with the file base64-encoded, as X documents them. As X does, the emulator checks
that the bytes are the type they claim to be, the per-category size limits, that the
chunks add up, and that a DM carries only media uploaded for DMs (``dm_*``) and a post
only media for posts (``tweet_*``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from sportello.connectors.emulators.x_problems import invalid, invalid_media

KIND_LIMITS = {"image": 5 * 2**20, "gif": 15 * 2**20, "video": 512 * 2**20}
# The v2 media object's type for each kind, and the prefix of the media keys X gives them.
MEDIA_TYPE = {"image": "photo", "gif": "animated_gif", "video": "video"}
MEDIA_KEY_PREFIX = {"photo": "3", "video": "7", "animated_gif": "16"}
MAX_SEGMENT = 999


@dataclass
class Upload:
    media_id: str
    category: str  # tweet_image, dm_video, ...
    media_type: str
    total_bytes: int
    segments: dict[int, bytes] = field(default_factory=dict)
    content: bytes | None = None  # set once finalized (or uploaded in one request)
    checks_left: int = 0  # STATUS calls until processing has succeeded
    failed: str | None = None

    @property
    def kind(self) -> str:
        return self.category.split("_", 1)[1]

    @property
    def state(self) -> str:
        if self.content is None:
            return "uploading"
        if self.failed is not None:
            return "failed"
        return "in_progress" if self.checks_left else "succeeded"

    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.media_id,
            "media_key": f"{MEDIA_KEY_PREFIX[MEDIA_TYPE[self.kind]]}_{self.media_id}",
            "expires_after_secs": 86_400,
            "size": len(self.content or b""),
        }
        if self.kind != "image":
            processing: dict[str, Any] = {"state": self.state}
            if self.state == "in_progress":
                processing |= {"check_after_secs": 1, "progress_percent": 50}
            if self.failed:
                processing["error"] = {
                    "code": 1,
                    "name": "InvalidMedia",
                    "message": self.failed,
                }
            data["processing_info"] = processing
        return data


class MediaUploads:
    """The uploads of one emulated account; each handler returns ``(status, body)``."""

    def __init__(self, next_id: Any, processing_checks: int = 1) -> None:
        self.next_id = next_id
        self.processing_checks = processing_checks  # STATUS calls until a video is ready
        self.uploads: dict[str, Upload] = {}

    def one_shot(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        category, media_type = body.get("media_category"), body.get("media_type")
        if category not in ("tweet_image", "dm_image"):
            return 400, invalid("media_category", "one request takes tweet_image or dm_image")
        content = _decoded(body.get("media"))
        if content is None:
            return 400, invalid("media", "media must be base64-encoded bytes")
        sniffed = sniff(content)
        if sniffed is None or sniffed[0] != "image" or media_type not in (None, sniffed[1]):
            return 400, invalid_media("the file is not the picture it claims to be")
        if len(content) > KIND_LIMITS["image"]:
            return 400, invalid_media("File size exceeds 5242880 bytes.")
        upload = Upload(self.next_id(), category, sniffed[1], len(content), content=content)
        self.uploads[upload.media_id] = upload
        return 200, {"data": upload.info()}

    def initialize(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        category, media_type = str(body.get("media_category")), body.get("media_type")
        total = body.get("total_bytes")
        kind = category.split("_", 1)[-1]
        if category.split("_", 1)[0] not in ("tweet", "dm") or kind not in KIND_LIMITS:
            return 400, invalid("media_category", f"unknown media category {category}")
        if not isinstance(media_type, str) or not isinstance(total, int) or total <= 0:
            return 400, invalid("total_bytes", "media_type and total_bytes are required")
        if total > KIND_LIMITS[kind]:
            return 400, invalid_media(f"File size exceeds {KIND_LIMITS[kind]} bytes.")
        upload = Upload(self.next_id(), category, media_type, total)
        self.uploads[upload.media_id] = upload
        return 200, {"data": {k: v for k, v in upload.info().items() if k != "size"}}

    def append(self, media_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        upload = self.uploads.get(media_id)
        if upload is None or upload.content is not None:
            return 400, invalid("id", f"no upload {media_id} is open")
        index, content = body.get("segment_index"), _decoded(body.get("media"))
        if not isinstance(index, int) or not 0 <= index <= MAX_SEGMENT or content is None:
            return 400, invalid("segment_index", "segment_index 0-999 and media are required")
        upload.segments[index] = content
        return 200, {"data": {"expires_at": 86_400}}

    def finalize(self, media_id: str) -> tuple[int, dict[str, Any]]:
        upload = self.uploads.get(media_id)
        if upload is None or upload.content is not None:
            return 400, invalid("id", f"no upload {media_id} is open")
        indexes = sorted(upload.segments)
        if indexes != list(range(len(indexes))):
            return 400, invalid("segment_index", "segments are missing")
        content = b"".join(upload.segments[i] for i in indexes)
        if len(content) != upload.total_bytes:
            return 400, invalid_media(
                f"uploaded {len(content)} bytes of the {upload.total_bytes} announced"
            )
        upload.content, upload.segments = content, {}
        sniffed = sniff(content)
        if sniffed is None or sniffed[0] != upload.kind or sniffed[1] != upload.media_type:
            upload.failed = "Invalid or Unsupported media, Reason: UnsupportedMedia."
        upload.checks_left = self.processing_checks
        return 200, {"data": upload.info()}

    def status(self, media_id: str) -> tuple[int, dict[str, Any]]:
        upload = self.uploads.get(media_id)
        if upload is None or upload.content is None:
            return 400, invalid("media_id", f"no media {media_id} was finalized")
        upload.checks_left = max(0, upload.checks_left - 1)
        return 200, {"data": upload.info()}

    def usable(self, media_id: str, *, dm: bool) -> Upload | str:
        """The finished upload ``media_id`` for a DM or a post, or why it cannot be used."""
        upload = self.uploads.get(str(media_id))
        if upload is None or upload.state != "succeeded":
            return f"media {media_id} is not uploaded and processed"
        if upload.category.startswith("dm_") != dm:
            wanted = "dm_*" if dm else "tweet_*"
            return f"media {media_id} was uploaded as {upload.category}, not {wanted}"
        return upload


def sniff(content: bytes) -> tuple[str, str] | None:
    """The kind and type the bytes are, by their signature."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image", "image/webp"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "gif", "image/gif"
    if content[4:8] == b"ftyp":
        return "video", "video/quicktime" if content[8:10] == b"qt" else "video/mp4"
    return None


def _decoded(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
