"""The Connector interface and the normalized events every platform is parsed into.

Platform payloads become these small frozen dataclasses at the connector boundary;
nothing past this module reads a platform's dict. Nothing here knows the database.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from sportello.config.settings import Settings

Channel = Literal["telegram", "whatsapp", "messenger", "x"]
CHANNELS: tuple[Channel, ...] = ("telegram", "whatsapp", "messenger", "x")
DeliveryState = Literal["queued", "sent", "delivered", "read", "failed"]


@dataclass(frozen=True)
class Person:
    """A platform user: who wrote, or (for the business's own echoes) who was written to."""

    external_id: str
    display_name: str | None = None
    handle: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str | None = None


AttachmentKind = Literal[
    "image", "video", "audio", "file", "sticker", "location", "contact", "link", "unsupported"
]
# The kinds of attachment that are a file on the platform (see :meth:`Connector.media`).
FILE_KINDS: frozenset[str] = frozenset({"image", "video", "audio", "file", "sticker"})
# The largest file the inbox fetches from a platform (Telegram's bots download up to 20 MB).
MAX_MEDIA_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    kind: AttachmentKind
    url: str | None = None
    mime_type: str | None = None
    platform_id: str | None = None
    name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Thread:
    """The platform's conversation a message belongs to (a chat, a DM thread, a tweet thread)."""

    external_id: str
    is_group: bool = False
    title: str | None = None
    public: bool = False


@dataclass(frozen=True)
class InboundMessage:
    """A message seen on a platform.

    ``direction="in"`` is a customer's message; ``"out"`` is the business's own message
    coming back from the platform (a page echo, our own tweet), in which case
    ``customer`` is the person it was addressed to.
    """

    channel: Channel
    external_id: str
    thread: Thread
    customer: Person
    sent_at: datetime
    text: str = ""
    kind: Literal["text", "media", "location", "contact", "sticker", "button", "unsupported"] = (
        "text"
    )
    direction: Literal["in", "out"] = "in"
    attachments: tuple[Attachment, ...] = ()
    reply_to_external_id: str | None = None
    button_payload: str | None = None
    shared_contacts: tuple[Person, ...] = ()

    def __post_init__(self) -> None:
        _require_text(self.external_id, "external_id", empty=False)
        _require_text(self.text, "text")
        _require_text(self.thread.external_id, "thread id", empty=False)
        _require_text(self.customer.external_id, "user id", empty=False)
        _require_time(self.sent_at)


@dataclass(frozen=True)
class MessageEdited:
    channel: Channel
    external_id: str
    text: str
    edited_at: datetime

    def __post_init__(self) -> None:
        _require_text(self.external_id, "external_id", empty=False)
        _require_text(self.text, "text")
        _require_time(self.edited_at)


@dataclass(frozen=True)
class StatusUpdate:
    """A platform's word on one of our outbound messages."""

    channel: Channel
    external_id: str
    status: Literal["sent", "delivered", "read", "failed"]
    at: datetime
    error: str | None = None
    recipient_id: str | None = None


@dataclass(frozen=True)
class StatusWatermark:
    """A platform's word on every outbound message of a thread sent up to ``up_to``.

    Messenger reports reads (and sometimes deliveries) as a watermark instead of per
    message: everything the business sent in the thread before it has that status.
    """

    channel: Channel
    thread_external_id: str
    status: Literal["delivered", "read"]
    up_to: datetime


@dataclass(frozen=True)
class Ignored:
    """Something deliberately not stored as a message (a reaction, typing, a notice)."""

    channel: Channel
    kind: str
    reason: str


def _require_text(value: object, what: str, *, empty: bool = True) -> None:
    """Parsers build events straight from platform data: a wrong type is a malformed payload."""
    if not isinstance(value, str) or (not empty and not value):
        raise TypeError(
            f"{what} must be a {'' if empty else 'non-empty '}string, not {value!r:.50}"
        )


def _require_time(value: object) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise TypeError(f"a message time must be an aware datetime, not {value!r:.50}")


Event = InboundMessage | MessageEdited | StatusUpdate | StatusWatermark | Ignored


@dataclass(frozen=True)
class RawDelivery:
    """One raw inbound delivery exactly as it was journaled."""

    channel: Channel
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    source: Literal["webhook", "poll"] = "webhook"
    received_at: datetime | None = None


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long text into chunks of at most ``limit`` characters, at line or word breaks."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    chunks.append(rest)
    return chunks


@dataclass(frozen=True)
class Media:
    """An attachment's file, as the platform gave it."""

    content: bytes
    mime_type: str


class MediaError(Exception):
    """The platform did not give an attachment's file.

    ``gone``: it no longer has it (WhatsApp keeps media 30 days), or never had it; otherwise
    ``retryable`` says whether asking again later may work (an outage, a rate limit).
    """

    def __init__(self, reason: str, *, gone: bool = False, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone
        self.retryable = retryable


def too_large() -> MediaError:
    return MediaError(
        f"the file is over {MAX_MEDIA_BYTES // 2**20} MiB, more than the inbox fetches; "
        "open it on the platform"
    )


def file_by_platform_id(attachment: Mapping[str, Any]) -> bool:
    """Whether a stored attachment is a file the platform keeps under an id of its own."""
    return attachment.get("kind") in FILE_KINDS and bool(attachment.get("platform_id"))


class ParseError(Exception):
    """The delivery cannot be understood; it is quarantined with this reason."""


# What reading a malformed payload raises: a missing key, a wrong type or value, or a
# timestamp out of range (``datetime.fromtimestamp`` raises OverflowError, or OSError past
# the system's time_t). Each connector turns these into a ParseError.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError)


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


KIND_OF_MEDIA_TYPE: dict[str, AttachmentKind] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
}


@dataclass(frozen=True)
class OutboundFile:
    """A file an agent sends: a picture, a document, a recording."""

    name: str
    mime_type: str
    content: bytes

    @property
    def kind(self) -> AttachmentKind:
        return KIND_OF_MEDIA_TYPE.get(self.mime_type.split("/")[0], "file")


# The longest text that goes with a file as its caption (Telegram and WhatsApp: 1,024); a
# longer one follows the file, as messages of its own.
MAX_CAPTION = 1024


@dataclass(frozen=True)
class OutboundMessage:
    """What the outbox asks a connector to send (``file``: with a file, ``text`` its
    caption)."""

    channel: Channel
    thread_external_id: str
    recipient_external_id: str
    text: str
    purpose: Literal["reply", "away", "rule", "survey", "follow_up", "alert"] = "reply"
    reply_to_external_id: str | None = None
    buttons: tuple[Button, ...] = ()
    last_customer_message_at: datetime | None = None
    public: bool = False
    file: OutboundFile | None = None


@dataclass(frozen=True)
class SendResult:
    external_ids: tuple[str, ...]
    sent_at: datetime


class SendError(Exception):
    """Sending failed. ``retryable`` says whether the outbox should try again."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class WindowClosedError(SendError):
    """The platform forbids a free-form message now (e.g. the 24-hour window is over)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


@dataclass(frozen=True)
class HandshakeReply:
    status: int
    body: str | dict[str, Any]


@dataclass(frozen=True)
class PollResult:
    """Raw deliveries fetched by a poller and the cursor to store once they are journaled."""

    bodies: Sequence[bytes]
    cursor: str | None
    wait_s: float | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Connector(abc.ABC):
    """One platform. Subclasses are registered as ``sportello.connectors`` entry points."""

    name: ClassVar[Channel]
    # The most text one message holds; a longer one goes out as several (:meth:`parts`).
    max_text_length: ClassVar[int] = 4096
    # Whether the platform deletes customers' files after a while (the inbox copies them).
    files_expire: ClassVar[bool] = False
    # Whether :meth:`profile` can name users whose messages carry no name.
    has_profiles: ClassVar[bool] = False
    # The daemon hands its clock over (``use_clock``) so sends are timed like everything else.
    now: Callable[[], datetime] = staticmethod(_utc_now)

    def use_clock(self, now: Callable[[], datetime]) -> None:
        self.now = now  # type: ignore[method-assign]

    def parts(self, message: OutboundMessage) -> list[str]:
        """The texts ``message`` goes out as: cut at line or word breaks where it is longer
        than one message holds."""
        return split_text(message.text, self.max_text_length)

    def can_send_file(
        self, file: OutboundFile, last_customer_message_at: datetime | None, now: datetime
    ) -> str | None:
        """Why ``file`` cannot be sent now (its size, or the platform's window: a template
        carries no file), or ``None`` when it can. Default: files are not sent here."""
        return f"{self.name} replies cannot carry files"

    def can_send_free_form(
        self, last_customer_message_at: datetime | None, now: datetime, purpose: str
    ) -> str | None:
        """Why a message with this ``purpose`` cannot be sent now, or ``None`` when it can.

        Platforms with a customer-service window (Messenger, WhatsApp) refuse free-form
        messages outside it unless a template or message tag applies. Default: always allowed.
        """
        return None

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Settings) -> Connector | None:
        """The connector for these settings, or ``None`` when its credentials are absent."""

    @abc.abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a webhook POST carries a valid signature or secret."""

    def handshake(self, query: Mapping[str, str]) -> HandshakeReply:
        """Answer a webhook GET (subscription challenge). Default: not supported."""
        return HandshakeReply(404, {"detail": "no handshake for this channel"})

    def dedup_key(self, body: bytes) -> str | None:
        """A platform id for the whole delivery (e.g. Telegram's update_id), if it has one."""
        return None

    @abc.abstractmethod
    def parse(self, delivery: RawDelivery) -> list[Event]:
        """Normalized events in the delivery; raise :class:`ParseError` if it is unusable."""

    @abc.abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Send one message; raise :class:`SendError` on failure."""

    async def profile(self, external_id: str) -> Person | None:
        """The platform's profile of a user whose messages carry no name (e.g. Messenger)."""
        return None

    @classmethod
    def fetches(cls, attachment: Mapping[str, Any]) -> bool:
        """Whether :meth:`media` can fetch the file of this stored attachment (its JSON).
        Default: no; the attachment's own https URL, if any, is the way to it."""
        return False

    async def media(self, attachment: Mapping[str, Any]) -> Media:
        """Fetch the file of a stored attachment from the platform, now; raise
        :class:`MediaError` when it cannot be had."""
        raise MediaError(f"{self.name} attachments are not fetched", gone=True)

    async def acknowledge(self, external_id: str) -> None:  # noqa: B027 (optional hook)
        """Tell the platform an inbound message is safely stored (e.g. stop a button's spinner)."""

    @property
    def polls(self) -> bool:
        """Whether the scheduler should call :meth:`poll` for this connector."""
        return False

    async def poll(self, cursor: str | None) -> PollResult:
        raise NotImplementedError(f"{self.name} does not poll")

    async def start(self) -> None:  # noqa: B027 (optional hook)
        """Open clients. Called once before the first send or poll."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook)
        """Close clients."""
