"""A local Telegram Bot API: answers the bot's calls and plays customers' updates.

Bot API calls: ``/bot<token>/<method>`` (getMe, sendMessage, sendPhoto, sendDocument,
sendVideo, sendVoice and sendAudio with their multipart uploads, getUpdates, getFile,
answerCallbackQuery, setWebhook, deleteWebhook, getWebhookInfo, sendChatAction), and the
file server's ``/file/bot<token>/<file_path>`` for what :meth:`TelegramEmulator.add_file`
holds. Control calls for tests and the demo live under ``/_emulator/``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import mimetypes
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sportello.connectors.emulators.faults import Fault, FaultPlan
from sportello.connectors.emulators.telegram_payloads import BOT_USER

MAX_DOWNLOAD = 20 * 1024 * 1024  # what getFile lets a bot download
MAX_CAPTION = 1024


class TelegramEmulator:
    def __init__(
        self, token: str, webhook_url: str | None = None, secret: str | None = None
    ) -> None:
        self.token = token
        self.webhook_url = webhook_url
        self.secret = secret
        self.sent: list[dict[str, Any]] = []
        self.answered_callbacks: list[dict[str, Any]] = []
        self.pending_updates: list[dict[str, Any]] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.file_delay_s = 0.0  # how long the file server takes to answer
        self.downloading = 0
        self.most_downloads_at_once = 0
        self.faults = FaultPlan()
        self._update_ids = itertools.count(100_000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._lock = threading.Lock()
        self.app = self._build_app()

    # customers' side --------------------------------------------------------------

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def next_message_id(self, chat_id: int) -> int:
        with self._lock:
            counter = self._message_ids.setdefault(chat_id, itertools.count(1))
            return next(counter)

    def add_file(self, content: bytes, suffix: str = ".jpg", file_id: str | None = None) -> str:
        """Keep a file a customer sent (a photo's largest size, a document...); returns its
        ``file_id``. Its ``file_path`` is what Telegram's look like: ``photos/file_N.jpg``."""
        file_id = file_id or "AgACAgQAAxkBAAI" + secrets.token_urlsafe(24)
        folder = "photos" if suffix in (".jpg", ".png") else "documents"
        with self._lock:
            self.files[file_id] = (f"{folder}/file_{len(self.files)}{suffix}", content)
        return file_id

    async def deliver(self, update: dict[str, Any]) -> int | None:
        """Send an update the way Telegram would: to the webhook, or queue it for getUpdates.

        Returns the webhook's HTTP status, or None when queued.
        """
        update.setdefault("update_id", self.next_update_id())
        if self.webhook_url is None:
            with self._lock:
                self.pending_updates.append(update)
            return None
        headers = {"content-type": "application/json"}
        if self.secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                self.webhook_url, content=json.dumps(update), headers=headers
            )
        return response.status_code

    # the Bot API ------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Telegram Bot API emulator")

        @app.post("/_emulator/faults")
        async def add_fault(request: Request) -> dict[str, Any]:
            spec = await request.json()
            self.add_fault(
                spec["method"], spec["status"], spec.get("count", 1), spec.get("retry_after")
            )
            return {"ok": True}

        @app.get("/_emulator/sent")
        async def sent() -> list[dict[str, Any]]:
            return self.sent

        @app.post("/_emulator/updates")
        async def inject(request: Request) -> dict[str, Any]:
            status = await self.deliver(await request.json())
            return {"ok": True, "webhook_status": status}

        @app.get("/file/bot{token}/{file_path:path}")
        async def file_server(token: str, file_path: str) -> Response:
            with self._lock:
                found = [c for path, c in self.files.values() if path == file_path]
            if token != self.token or not found:
                return _error(404, "Not Found")
            self.downloading += 1
            self.most_downloads_at_once = max(self.most_downloads_at_once, self.downloading)
            try:
                await asyncio.sleep(self.file_delay_s)
            finally:
                self.downloading -= 1
            media_type = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
            return Response(found[0], media_type=media_type)

        @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
            if token != self.token:
                return _error(401, "Unauthorized")
            fault = self.faults.take(method)
            if fault is not None:
                return JSONResponse(fault.body, status_code=fault.status)
            params = await _params(request)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                return _error(404, "Not Found: method not found")
            return await handler(params)

        return app

    def add_fault(
        self, method: str, status: int, count: int = 1, retry_after: int | None = None
    ) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status}
        if status == 429:
            body["description"] = f"Too Many Requests: retry after {retry_after or 1}"
            body["parameters"] = {"retry_after": retry_after or 1}
        elif status >= 500:
            body["description"] = "Internal Server Error"
        elif status == 403:
            body["description"] = "Forbidden: bot was blocked by the user"
        else:
            body["description"] = "Bad Request: chat not found"
        self.faults.add(method, Fault(status=status, count=count, body=body))

    async def _api_getMe(self, params: dict[str, Any]) -> JSONResponse:
        return _ok(
            {
                **BOT_USER,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _api_sendMessage(self, params: dict[str, Any]) -> JSONResponse:
        if "chat_id" not in params or not params.get("text"):
            return _error(400, "Bad Request: message text is empty")
        chat_id = int(params["chat_id"])
        if len(params["text"]) > 4096:
            return _error(400, "Bad Request: message is too long")
        message: dict[str, Any] = {
            "message_id": self.next_message_id(chat_id),
            "from": BOT_USER,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "date": int(time.time()),
            "text": params["text"],
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self.sent.append({**params, "chat_id": chat_id, "message_id": message["message_id"]})
        return _ok(message)

    async def _api_sendPhoto(self, params: dict[str, Any]) -> JSONResponse:
        return self._send_file(params, "photo")

    async def _api_sendDocument(self, params: dict[str, Any]) -> JSONResponse:
        return self._send_file(params, "document")

    async def _api_sendVideo(self, params: dict[str, Any]) -> JSONResponse:
        return self._send_file(params, "video")

    async def _api_sendVoice(self, params: dict[str, Any]) -> JSONResponse:
        return self._send_file(params, "voice")

    async def _api_sendAudio(self, params: dict[str, Any]) -> JSONResponse:
        return self._send_file(params, "audio")

    def _send_file(self, params: dict[str, Any], field: str) -> JSONResponse:
        """A file uploaded by the bot: kept (its file_id can be fetched back) and recorded."""
        upload = _upload(params, field)
        if "chat_id" not in params or upload is None:
            return _error(400, f"Bad Request: there is no {field} in the request")
        if len(params.get("caption") or "") > MAX_CAPTION:
            return _error(400, "Bad Request: message caption is too long")
        suffix = mimetypes.guess_extension(upload.content_type or "") or ".bin"
        file_id = self.add_file(upload.content, suffix)
        chat_id = int(params["chat_id"])
        described: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": "AQAD" + file_id[-10:],
            "file_size": len(upload.content),
        }
        message: dict[str, Any] = {
            "message_id": self.next_message_id(chat_id),
            "from": BOT_USER,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "date": int(time.time()),
        }
        if field == "photo":
            message["photo"] = [{**described, "width": 320, "height": 240}]
        elif field == "video":
            message["video"] = {**described, "width": 320, "height": 240, "duration": 1}
        elif field == "voice":
            message["voice"] = {**described, "duration": 1, "mime_type": upload.content_type}
        elif field == "audio":
            message["audio"] = {
                **described,
                "duration": 1,
                "file_name": upload.filename,
                "mime_type": upload.content_type,
            }
        else:
            message["document"] = {**described, "file_name": upload.filename}
        if params.get("caption"):
            message["caption"] = params["caption"]
        record = {k: v for k, v in params.items() if not isinstance(v, Upload)}
        record[field] = {"file_name": upload.filename, "size": len(upload.content)}
        self.sent.append({**record, "chat_id": chat_id, "message_id": message["message_id"]})
        return _ok(message)

    async def _api_getUpdates(self, params: dict[str, Any]) -> JSONResponse:
        if self.webhook_url is not None:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", 0))
        limit = int(params.get("limit", 100))
        with self._lock:
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
            batch = self.pending_updates[:limit]
        if not batch and float(params.get("timeout", 0)) > 0:
            await asyncio.sleep(min(float(params["timeout"]), 0.5))
        return _ok(batch)

    async def _api_getFile(self, params: dict[str, Any]) -> JSONResponse:
        with self._lock:
            found = self.files.get(str(params.get("file_id", "")))
        if found is None:
            return _error(400, "Bad Request: invalid file_id")
        file_path, content = found
        if len(content) > MAX_DOWNLOAD:
            return _error(400, "Bad Request: file is too big")
        return _ok(
            {
                "file_id": params["file_id"],
                "file_unique_id": "AQAD" + params["file_id"][-10:],
                "file_size": len(content),
                "file_path": file_path,
            }
        )

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> JSONResponse:
        self.answered_callbacks.append(params)
        return _ok(True)

    async def _api_sendChatAction(self, params: dict[str, Any]) -> JSONResponse:
        return _ok(True)

    async def _api_setWebhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook_url = params.get("url") or None
        self.secret = params.get("secret_token") or None
        return _ok(True)

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook_url = None
        return _ok(True)

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> JSONResponse:
        return _ok(
            {
                "url": self.webhook_url or "",
                "has_custom_certificate": False,
                "pending_update_count": len(self.pending_updates),
            }
        )


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str | None
    content: bytes


def _upload(params: dict[str, Any], name: str) -> Upload | None:
    """The file sent as ``name``: the part itself, or the part its ``attach://`` names."""
    value = params.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    return value if isinstance(value, Upload) else None


async def _params(request: Request) -> dict[str, Any]:
    """Bot API parameters from a query string, a form or a JSON body; JSON-typed values decoded."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        body = await request.body()
        if body:
            params.update(json.loads(body))
    elif "form" in content_type:
        form = await request.form()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            else:  # an uploaded file (multipart/form-data)
                params[key] = Upload(value.filename or "", value.content_type, await value.read())
    for key in ("reply_markup", "entities", "allowed_updates", "reply_parameters"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": status, "description": description}, status_code=status
    )
