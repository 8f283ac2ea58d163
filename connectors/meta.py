"""What Messenger and WhatsApp share: webhook signatures, the subscription handshake,
the Graph API client with its error codes, and the 24-hour customer-service window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from sportello.connectors.base import (
    MAX_MEDIA_BYTES,
    Connector,
    HandshakeReply,
    MediaError,
    ParseError,
    SendError,
    WindowClosedError,
    too_large,
)
from sportello.connectors.tls import tls_context

SIGNATURE_HEADER = "x-hub-signature-256"
WINDOW = timedelta(hours=24)

# Graph error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling,
# WhatsApp Cloud API error codes): throttling is worth retrying later.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131048, 131056})
TEMPORARY_CODES = frozenset({1, 2, 131000, 131016})
WINDOW_CODES = frozenset({131047})
# Messenger: code 10 / 2018278 "message sent outside of allowed window"
WINDOW_SUBCODES = frozenset({2018278})
TOKEN_EXPIRED = 190


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends with ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(app_secret: str | None, headers: Mapping[str, str], body: bytes) -> bool:
    given = headers.get(SIGNATURE_HEADER)
    if not app_secret or not given:
        return False
    return hmac.compare_digest(given.strip().lower().encode(), signature(app_secret, body).encode())


def handshake(verify_token: str | None, query: Mapping[str, str]) -> HandshakeReply:
    """Answer Meta's subscription check: the challenge when the token matches, else 403."""
    token = query.get("hub.verify_token")
    if (
        query.get("hub.mode") == "subscribe"
        and verify_token
        and token is not None
        and hmac.compare_digest(token.encode(), verify_token.encode())
    ):
        return HandshakeReply(200, query.get("hub.challenge", ""))
    return HandshakeReply(403, "verification failed")


def fit(label: str, limit: int) -> str:
    """A button label cut to the platform's limit, with an ellipsis when it is cut."""
    label = label.strip()
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def from_millis(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def from_seconds(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def window_open(last_customer_message_at: datetime | None, now: datetime) -> bool:
    """Whether the 24-hour customer-service window is open at ``now``."""
    return last_customer_message_at is not None and now - last_customer_message_at < WINDOW


def since_text(last_customer_message_at: datetime | None, now: datetime) -> str:
    if last_customer_message_at is None:
        return "the customer has never written on this channel"
    hours = (now - last_customer_message_at).total_seconds() / 3600
    if hours >= 48:
        return f"the customer last wrote {hours / 24:.0f} days ago"
    return f"the customer last wrote {hours:.0f} hours ago"


class GraphClient:
    """POSTs to the Graph API with a bearer token; errors become :class:`SendError`."""

    def __init__(self, platform: str, base_url: str, token: str, timeout: float = 15.0) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._public_client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url + "/",
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self._timeout,
                verify=tls_context(),
            )
        return self._client

    async def get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return await self._call("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", path, json=body)

    async def upload(
        self, path: str, fields: dict[str, str], file: tuple[str, bytes, str], name: str = "file"
    ) -> dict[str, Any]:
        """A multipart POST of form ``fields`` and a ``file`` (name, content, MIME type)."""
        return await self._call("POST", path, data=fields, files={name: file})

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http().request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise SendError(f"{self.platform} timed out: {exc!r}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise SendError(f"{self.platform} unreachable: {exc!r}", retryable=True) from exc
        if response.status_code == 200:
            try:
                data = response.json()
            except ValueError as exc:
                raise SendError(
                    f"{self.platform} answered 200 without JSON", retryable=True
                ) from exc
            if isinstance(data, dict):
                return data
        raise graph_error(self.platform, response)

    async def fetch(self, url_or_path: str, *, signed: bool = True) -> tuple[bytes, str | None]:
        """The body and content type of a GET (a media file, or its lookup), at most
        :data:`MAX_MEDIA_BYTES`; failures become :class:`MediaError`.

        ``signed``: with the token (WhatsApp's media URLs want it). A Messenger file is a
        public, signed CDN link: the token stays home, and a link refused or gone has
        expired."""
        client = self._http() if signed else self._public()
        try:
            async with client.stream("GET", url_or_path) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise media_error(self.platform, response, expired=not signed)
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > MAX_MEDIA_BYTES:
                        raise too_large()
                return bytes(content), response.headers.get("content-type")
        except httpx.TimeoutException as exc:
            raise MediaError(f"{self.platform} timed out: {exc!r}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise MediaError(f"{self.platform} unreachable: {exc!r}", retryable=True) from exc

    def _public(self) -> httpx.AsyncClient:
        if self._public_client is None:
            self._public_client = httpx.AsyncClient(timeout=self._timeout, verify=tls_context())
        return self._public_client

    async def aclose(self) -> None:
        for client in (self._client, self._public_client):
            if client is not None:
                await client.aclose()
        self._client = self._public_client = None


def graph_error(platform: str, response: httpx.Response) -> SendError:
    """The :class:`SendError` for a Graph API error answer, with the platform's own reason."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    subcode = error.get("error_subcode")
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    text = error.get("message") or response.reason_phrase or "no reason given"
    if details:
        text = f"{text} ({details})"
    reason = f"{platform} error {code if code is not None else response.status_code}: {text}"
    retry_after = _retry_after(response)
    if response.status_code == 429 or code in RATE_LIMIT_CODES:
        return SendError(f"{platform} rate limit: {text}", retryable=True, retry_after=retry_after)
    if code in WINDOW_CODES or subcode in WINDOW_SUBCODES:
        return WindowClosedError(
            f"{platform} refused: the 24-hour customer-service window is closed ({text})"
        )
    if code == TOKEN_EXPIRED:
        return SendError(
            f"{platform} access token expired or invalid: {text}; renew the token", retryable=False
        )
    if response.status_code >= 500 or code in TEMPORARY_CODES or error.get("is_transient"):
        return SendError(reason, retryable=True, retry_after=retry_after)
    return SendError(reason, retryable=False)


def media_error(platform: str, response: httpx.Response, *, expired: bool = False) -> MediaError:
    """The :class:`MediaError` for an error answer to a media lookup or download: an id or
    link the platform does not know (400, 404) is gone, and so is a public CDN link that
    is refused (403, 410: its signature ``expired``)."""
    refused = graph_error(platform, response)
    status = response.status_code
    if expired and status in (403, 404, 410):
        return MediaError(f"{platform}'s link to the file has expired ({status})", gone=True)
    return MediaError(refused.reason, gone=status in (400, 404), retryable=refused.retryable)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class MetaConnector(Connector):
    """What Messenger and WhatsApp share: Meta's signature, handshake, webhook envelope and
    Graph API client."""

    webhook_object: str  # the ``object`` of this platform's webhook deliveries
    platform: str  # the platform's name in messages

    def __init__(
        self, app_secret: SecretStr | None, verify_token: SecretStr | None, graph: GraphClient
    ) -> None:
        self._app_secret = _secret(app_secret)
        self._verify_token = _secret(verify_token)
        self.graph = graph

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signature(self._app_secret, headers, body)

    def handshake(self, query: Mapping[str, str]) -> HandshakeReply:
        return handshake(self._verify_token, query)

    def entries(self, body: bytes) -> list[dict[str, Any]]:
        """The ``entry`` objects of a webhook delivery; :class:`ParseError` if it is not one."""
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ParseError(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("object") != self.webhook_object:
            raise ParseError(
                f'not a {self.platform} webhook: "object" is not "{self.webhook_object}"'
            )
        entries = data.get("entry")
        if not isinstance(entries, list):
            raise ParseError(f'not a {self.platform} webhook: no "entry" list')
        for entry in entries:
            if not isinstance(entry, dict):
                raise ParseError("an entry is not an object")
        return entries

    async def aclose(self) -> None:
        await self.graph.aclose()


def listed(container: dict[str, Any], key: str) -> list[Any]:
    """``container[key]``, a list of a webhook entry (absent or null: none); a
    :class:`ParseError` when it is anything else."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f'"{key}" is not a list: {value!r:.100}')
    return value
