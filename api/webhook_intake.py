"""``POST /webhooks/{channel}``: verify, journal the raw body, answer; plain ASGI.

Deliveries are the daemon's hot path, and they need nothing FastAPI offers: no parameters to
validate, no dependencies, no response model. Served as a route, FastAPI's routing,
dependency solving and response classes took three times the interpreter time of the work
itself (py-spy under load, docs/benchmarks.md), time the journal worker then waits for; as a
middleware they still passed through FastAPI's own layers (error handling, telemetry, body
limit), each wrapping every message sent. The application hands them here before any of that
(:class:`sportello.api.app.SportelloApp`). Parsing happens after the answer, in the journal
worker.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from sportello.api.webhooks import enabled_connector

if TYPE_CHECKING:
    from sportello.daemon import Daemon

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PREFIX = "/webhooks/"
MAX_BODY = 1024 * 1024
ACCEPTED = b'{"ok":true}'


class Refused(Exception):
    """A delivery answered with an error status; nothing was stored."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ClientGone(Exception):
    """The platform hung up before the whole body arrived: there is no one to answer."""


class WebhookIntake:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def __call__(self, channel: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one delivery to ``channel`` (see :func:`delivery_channel`)."""
        with self.daemon.intake.receiving():  # the journal worker steps aside meanwhile
            try:
                await self._journal(channel, scope, receive)
            except Refused as refused:
                answer = json.dumps({"detail": refused.detail}).encode()
                await _respond(send, refused.status, answer)
                return
            except ClientGone:
                return
        await _respond(send, 200, ACCEPTED)

    async def _journal(self, channel: str, scope: Scope, receive: Receive) -> None:
        """Store the delivery durably, or raise ``Refused`` saying why not."""
        daemon = self.daemon
        connector = enabled_connector(daemon, channel)
        if connector is None:
            raise Refused(404, f"channel {channel} is not enabled")
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        body = await _read_limited(headers, receive)
        if not connector.verify(headers, body):
            raise Refused(403, "missing or invalid signature")
        try:
            json.loads(body)
        except ValueError:
            raise Refused(400, "body is not JSON") from None
        try:
            await daemon.journal.append(
                channel=channel,
                body=body,
                headers=headers,
                received_at=daemon.clock.now(),
                platform_key=connector.dedup_key(body),
            )
        except Exception:  # nothing was stored: the platform retries later
            raise Refused(503, "the delivery could not be stored; try again") from None
        daemon.wake_worker()


def delivery_channel(scope: Scope) -> str | None:
    """The channel of a ``POST /webhooks/{channel}``, or None for any other request."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX):
        return None
    channel = path[len(PREFIX) :]
    return channel if channel and "/" not in channel else None


async def _read_limited(headers: dict[str, str], receive: Receive) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, "body over 1 MiB")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused(413, "body over 1 MiB")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
