"""The ceiling for our server stack: a bare ASGI endpoint that checks the webhook secret or
signature and answers 200, served by uvicorn with the same settings as ``sportello run``.

``python bench/bare_app.py --kind telegram --secret S --host 127.0.0.1 --port P``
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def make_app(kind: str, secret: str) -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    key = secret.encode()

    def verified(headers: dict[bytes, bytes], body: bytes) -> bool:
        if kind == "telegram":
            given = headers.get(b"x-telegram-bot-api-secret-token", b"")
            return hmac.compare_digest(given, key)
        expected = b"sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest().encode()
        return hmac.compare_digest(headers.get(b"x-hub-signature-256", b""), expected)

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        if scope["method"] == "GET":
            status, answer = 200, b'{"status":"ok"}'
        elif verified(headers, b"".join(chunks)):
            status, answer = 200, b'{"ok":true}'
        else:
            status, answer = 403, b'{"detail":"missing or invalid signature"}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [  # as the daemon's JSONResponse answers
                    (b"content-length", str(len(answer)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=("telegram", "whatsapp"), required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(  # as ``sportello run`` does
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = uvicorn.Config(  # the same settings as sportello.cli.serve
        make_app(args.kind, args.secret),
        host=args.host,
        port=args.port,
        log_level="info",
        timeout_graceful_shutdown=5,
        proxy_headers=True,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
