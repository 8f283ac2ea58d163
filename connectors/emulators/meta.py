"""A local Graph API for Messenger's Send API and WhatsApp's Cloud API ``/messages``.

``POST /{version}/{node}/messages`` answers as Meta documents (Messenger
``{"recipient_id", "message_id"}``; WhatsApp ``{"messaging_product", "contacts",
"messages": [{"id": "wamid…"}]}``) or with Graph error bodies
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``. It also plays
Meta's side of the webhook: :meth:`GraphEmulator.deliver` POSTs a payload signed with
``X-Hub-Signature-256`` exactly as Meta signs it, and, with ``auto_receipts``, answers every
send with the echo/delivery/read (Messenger) or sent/delivered/read statuses (WhatsApp)
the platform would send. WhatsApp's media: ``GET /{version}/{media-id}`` answers the file's
URL, which serves the file to the same bearer token (what :meth:`GraphEmulator.add_media`
holds). A Messenger customer's file is a CDN link (:meth:`GraphEmulator.add_file`), open to
anyone until it expires. Control routes live under ``/_emulator/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import mimetypes
import secrets
import threading
import time
from typing import Any, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators.faults import Fault, FaultPlan

Platform = Literal["messenger", "whatsapp"]
API_VERSION = "v21.0"
ENDPOINT = "messages"
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
WHATSAPP_TYPES = (
    "text",
    "interactive",
    "template",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
)
FAULT_MESSAGES = {
    4: "(#4) Application request limit reached",
    10: "(#10) This message is sent outside of allowed window.",
    100: "(#100) Invalid parameter",
    130429: "Rate limit hit",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    190: "Error validating access token: Session has expired.",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80007: "(#80007) There have been too many messages sent to this WhatsApp Business Account.",
}


class GraphEmulator:
    """One Messenger page or one WhatsApp phone number on an emulated Graph API."""

    def __init__(
        self,
        platform: Platform,
        node_id: str,
        token: str,
        app_secret: str,
        webhook_url: str | None = None,
        *,
        business_id: str = "102290129340398",
        auto_receipts: bool = False,
    ) -> None:
        self.platform = platform
        self.node_id = node_id
        self.token = token
        self.app_secret = app_secret
        self.webhook_url = webhook_url
        self.business_id = business_id
        self.auto_receipts = auto_receipts
        self.sent: list[dict[str, Any]] = []
        self.webhook_statuses: list[int] = []
        self.next_ids: list[str] = []  # ids the next sends return (tests replay races with them)
        self.profiles: dict[str, dict[str, str]] = {}  # Messenger PSID -> User Profile fields
        self.media: dict[str, tuple[str, bytes]] = {}  # WhatsApp media id -> (MIME type, file)
        self.files: dict[str, tuple[str, bytes]] = {}  # Messenger CDN path -> (MIME type, file)
        self.expired: set[str] = set()  # CDN paths whose signed link has expired
        self.faults = FaultPlan()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.app = self._build_app()

    @staticmethod
    def graph_url(server_url: str) -> str:
        """The ``graph_base_url`` to configure for an emulator served at ``server_url``."""
        return f"{server_url}/{API_VERSION}"

    def add_media(self, content: bytes, mime_type: str = "image/jpeg") -> str:
        """Keep a file a WhatsApp customer sent; returns its media id."""
        media_id = str(secrets.randbelow(9 * 10**15) + 10**15)
        with self._lock:
            self.media[media_id] = (mime_type, content)
        return media_id

    def add_file(self, content: bytes, mime_type: str = "image/png") -> str:
        """Keep a file a Messenger customer sent; returns its path (with the query a CDN
        link carries) on this emulator's server."""
        extension = mimetypes.guess_extension(mime_type) or ""
        path = f"/v/t1.15752-9/{secrets.randbelow(10**15)}_n{extension}"
        with self._lock:
            self.files[path] = (mime_type, content)
        expires = format(int(time.time()) + 3 * 86400, "X")
        return f"{path}?_nc_cat=1&oh=00_{secrets.token_urlsafe(16)}&oe={expires}"

    # Meta's side of the webhook ---------------------------------------------------

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    async def deliver(self, payload: dict[str, Any]) -> int:
        """POST a webhook payload to the daemon signed as Meta signs; returns the HTTP status."""
        if self.webhook_url is None:
            raise RuntimeError("no webhook_url to deliver to")
        body = json.dumps(payload).encode()
        headers = {
            "content-type": "application/json",
            "user-agent": "facebookexternalua",
            "X-Hub-Signature-256": self.sign(body),
        }
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(self.webhook_url, content=body, headers=headers)
        with self._lock:
            self.webhook_statuses.append(response.status_code)
        return response.status_code

    def add_fault(
        self,
        status: int,
        code: int | None = None,
        *,
        subcode: int | None = None,
        count: int = 1,
        message: str | None = None,
        retry_after: int | None = None,
        endpoint: str = ENDPOINT,
    ) -> None:
        """The next ``count`` sends (or, with ``endpoint="media"``, WhatsApp media lookups)
        answer ``status`` with a Graph error body."""
        if code is None:
            code = 4 if status == 429 else 1 if status >= 500 else 100
        error: dict[str, Any] = {
            "message": message or FAULT_MESSAGES.get(code, "An unknown error has occurred."),
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "A" + secrets.token_hex(10),
        }
        if subcode is not None:
            error["error_subcode"] = subcode
        if self.platform == "whatsapp" and code >= 130000:
            error["error_data"] = {"messaging_product": "whatsapp", "details": error["message"]}
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.faults.add(
            endpoint, Fault(status=status, count=count, body={"error": error}, headers=headers)
        )

    # the Graph API ----------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title=f"Graph API emulator ({self.platform})")

        @app.post("/_emulator/faults")
        async def add_fault(request: Request) -> dict[str, Any]:
            spec = await request.json()
            self.add_fault(
                spec["status"],
                spec.get("code"),
                subcode=spec.get("subcode"),
                count=spec.get("count", 1),
                message=spec.get("message"),
                retry_after=spec.get("retry_after"),
            )
            return {"ok": True}

        @app.get("/_emulator/sent")
        async def sent() -> list[dict[str, Any]]:
            return self.sent

        @app.post("/_emulator/webhook")
        async def inject(request: Request) -> dict[str, Any]:
            return {"ok": True, "webhook_status": await self.deliver(await request.json())}

        @app.get("/v/{rest:path}")
        async def cdn_file(rest: str) -> Response:
            """A CDN link's file, for anyone, until it expires (then 403, as fbcdn answers)."""
            path = f"/v/{rest}"
            found = self.files.get(path)
            if path in self.expired:
                return Response(b"URL signature expired", status_code=403)
            if found is None:
                return Response(b"Not Found", status_code=404)
            return Response(found[1], media_type=found[0])

        @app.get("/whatsapp_business/attachments/")
        async def media_file(request: Request) -> Response:
            """A media URL's file (on lookaside.fbsbx.com at Meta), for the token only."""
            if not _authorised(request, self.token):
                return _graph_error(
                    401, 190, "Invalid OAuth access token - Cannot parse access token"
                )
            found = self.media.get(request.query_params.get("mid", ""))
            if found is None:
                return _graph_error(404, 100, "(#100) The media file was not found")
            return Response(found[1], media_type=found[0])

        @app.get("/{version}/{node}")
        async def node(version: str, node: str, request: Request) -> JSONResponse:
            """Messenger's User Profile API (``GET /{psid}?fields=first_name,last_name``) and
            WhatsApp's media URL lookup (``GET /{media-id}``)."""
            if not _authorised(request, self.token):
                return _graph_error(
                    401, 190, "Invalid OAuth access token - Cannot parse access token"
                )
            if self.platform == "whatsapp" and node in self.media:
                fault = self.faults.take("media")
                if fault is not None:
                    return JSONResponse(fault.body, status_code=fault.status)
                return self._media_url(node, str(request.base_url))
            profile = self.profiles.get(node)
            if self.platform != "messenger" or profile is None:
                return _graph_error(
                    400, 100, f"Unsupported get request. Object with ID '{node}' does not exist"
                )
            fields = request.query_params.get("fields", "first_name,last_name").split(",")
            return JSONResponse({**{f: profile[f] for f in fields if f in profile}, "id": node})

        @app.post("/{version}/{node}/media")
        async def upload_media(version: str, node: str, request: Request) -> JSONResponse:
            """WhatsApp's media upload (multipart: ``messaging_product``, ``type``, ``file``)."""
            if not _authorised(request, self.token):
                return _graph_error(
                    401, 190, "Invalid OAuth access token - Cannot parse access token"
                )
            if self.platform != "whatsapp" or node != self.node_id:
                return _graph_error(
                    400, 100, f"Unsupported post request. Object with ID '{node}' does not exist"
                )
            form = await request.form()
            file = form.get("file")
            if form.get("messaging_product") != "whatsapp" or isinstance(file, str | None):
                return _graph_error(400, 100, "(#100) The parameter file is required.")
            mime_type = str(form.get("type") or file.content_type or "")
            return JSONResponse({"id": self.add_media(await file.read(), mime_type)})

        @app.post("/{version}/{node}/messages")
        async def messages(version: str, node: str, request: Request) -> JSONResponse:
            if not _authorised(request, self.token):
                return _graph_error(
                    401, 190, "Invalid OAuth access token - Cannot parse access token"
                )
            fault = self.faults.take(ENDPOINT)
            if fault is not None:
                return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
            if node not in (self.node_id, "me") or (node == "me" and self.platform != "messenger"):
                return _graph_error(
                    400, 100, f"Unsupported post request. Object with ID '{node}' does not exist"
                )
            try:
                if request.headers.get("content-type", "").startswith("multipart/form-data"):
                    body = await _multipart_send(request)
                else:
                    body = json.loads(await request.body())
            except ValueError:
                return _graph_error(400, 100, "(#100) The request body is not JSON")
            if self.platform == "messenger":
                return self._messenger_send(body)
            return self._whatsapp_send(body)

        return app

    def _messenger_send(self, body: dict[str, Any]) -> JSONResponse:
        problem = _messenger_problem(body)
        if problem is not None:
            return _graph_error(400, 100, f"(#100) {problem}")
        psid = str(body["recipient"]["id"])
        mid = self._next_id() or mp.new_mid()
        self._record(body, mid)
        if self.auto_receipts:
            now_ms = int(time.time() * 1000)
            message = body["message"]
            self._later(
                mp.messenger_webhook(
                    self.node_id,
                    mp.echo(
                        self.node_id,
                        psid,
                        now_ms,
                        message.get("text", ""),
                        mid,
                        metadata=message.get("metadata"),
                    ),
                    mp.delivery(psid, self.node_id, now_ms + 1, [mid], now_ms),
                    mp.read(psid, self.node_id, now_ms + 2, now_ms + 1),
                    time_ms=now_ms + 2,
                )
            )
        return JSONResponse({"recipient_id": psid, "message_id": mid})

    def _whatsapp_send(self, body: dict[str, Any]) -> JSONResponse:
        problem = _whatsapp_problem(body)
        if problem is not None:
            return _graph_error(400, 100, f"(#100) {problem}")
        to = str(body["to"]).lstrip("+")
        wamid = self._next_id() or mp.new_wamid()
        self._record(body, wamid)
        if self.auto_receipts:
            now = int(time.time())
            statuses = [mp.wa_status(wamid, s, now, to) for s in ("sent", "delivered", "read")]
            self._later(
                mp.whatsapp_webhook(self.business_id, mp.wa_value(self.node_id, statuses=statuses))
            )
        message: dict[str, Any] = {"id": wamid}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": str(body["to"]), "wa_id": to}],
                "messages": [message],
            }
        )

    def _media_url(self, media_id: str, base_url: str) -> JSONResponse:
        mime_type, content = self.media[media_id]
        query = f"mid={media_id}&ext={int(time.time())}&hash=ATt{secrets.token_urlsafe(12)}"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{base_url}whatsapp_business/attachments/?{query}",
                "mime_type": mime_type,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": media_id,
            }
        )

    def _next_id(self) -> str | None:
        with self._lock:
            return self.next_ids.pop(0) if self.next_ids else None

    def _record(self, body: dict[str, Any], message_id: str) -> None:
        with self._lock:
            self.sent.append({"body": body, "message_id": message_id})

    def _later(self, payload: dict[str, Any]) -> None:
        """Deliver receipts after the send's answer, as Meta does."""
        if self.webhook_url is None:
            return

        async def send() -> None:
            await asyncio.sleep(0.2)
            with contextlib.suppress(httpx.HTTPError):  # the daemon may have stopped
                await self.deliver(payload)

        task = asyncio.get_running_loop().create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    given = given or request.query_params.get("access_token", "")
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


async def _multipart_send(request: Request) -> dict[str, Any]:
    """A Send API call with its file uploaded (``filedata``): JSON-valued fields decoded, the
    file described as ``{"filename", "content_type", "size"}``."""
    body: dict[str, Any] = {}
    for key, value in (await request.form()).items():
        if isinstance(value, str):
            body[key] = json.loads(value) if key in ("recipient", "message") else value
        else:
            content = await value.read()
            body[key] = {
                "filename": value.filename,
                "content_type": value.content_type,
                "size": len(content),
            }
    return body


def _messenger_problem(body: dict[str, Any]) -> str | None:
    recipient = body.get("recipient")
    if not isinstance(recipient, dict) or not recipient.get("id"):
        return "param recipient[id] must be non-empty"
    messaging_type = body.get("messaging_type")
    if messaging_type not in MESSAGING_TYPES:
        return "param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG"
    if messaging_type == "MESSAGE_TAG" and not body.get("tag"):
        return "param tag is required with messaging_type MESSAGE_TAG"
    message = body.get("message")
    if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
        return "param message must contain text or attachment"
    if len(message.get("text") or "") > 2000:
        return "param message[text] must be UTF-8 encoded and have at most 2000 characters"
    attachment = message.get("attachment")
    if isinstance(attachment, dict):
        payload = attachment.get("payload") or {}
        if not (payload.get("url") or payload.get("attachment_id") or body.get("filedata")):
            return "param message[attachment][payload] needs a url, an attachment_id or filedata"
    replies = message.get("quick_replies") or []
    if len(replies) > 13:
        return "param message[quick_replies] must have at most 13 elements"
    if any(len(r.get("title", "")) > 20 for r in replies):
        return "param title must be at most 20 characters"
    return None


def _whatsapp_problem(body: dict[str, Any]) -> str | None:
    if body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required."
    if not body.get("to"):
        return "The parameter to is required."
    kind = body.get("type", "text")
    if kind not in WHATSAPP_TYPES:
        return f"Param type must be one of {', '.join(WHATSAPP_TYPES)}"
    if kind == "text":
        text = (body.get("text") or {}).get("body") or ""
        if not text or len(text) > 4096:
            return "Param text['body'] must be between 1 and 4096 characters"
    if kind == "interactive":
        interactive = body.get("interactive") or {}
        action = interactive.get("action") or {}
        if len((interactive.get("body") or {}).get("text") or "") > 1024:
            return "Param interactive['body']['text'] must be at most 1024 characters"
        if interactive.get("type") == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                return "Param interactive['action']['buttons'] must have 1 to 3 elements"
            if any(len(b["reply"]["title"]) > 20 for b in buttons):
                return "Param title must be at most 20 characters"
        elif interactive.get("type") == "list":
            rows = [r for s in action.get("sections") or [] for r in s.get("rows") or []]
            if not 1 <= len(rows) <= 10 or not action.get("button"):
                return "Param interactive['action'] needs a button and 1 to 10 rows"
        else:
            return "Param interactive['type'] is invalid"
    if kind in ("image", "video", "audio", "document", "sticker"):
        media = body.get(kind) or {}
        if not media.get("id") and not media.get("link"):
            return f"Param {kind}['id'] or {kind}['link'] is required"
        if len(media.get("caption") or "") > 1024:
            return f"Param {kind}['caption'] must be at most 1024 characters"
    if kind == "template":
        template = body.get("template") or {}
        if not template.get("name") or not (template.get("language") or {}).get("code"):
            return "Param template['name'] and template['language']['code'] are required"
    return None


def _graph_error(status: int, code: int, message: str) -> JSONResponse:
    error = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "A" + secrets.token_hex(10),
    }
    return JSONResponse({"error": error}, status_code=status)
