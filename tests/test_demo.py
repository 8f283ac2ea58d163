"""`sportello demo` (what `make run` starts) shows every feature working together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from conftest import server_client, wait_for

from sportello.connectors.emulators.server import free_port


def test_the_demo_shows_every_channel_one_customer_away_messages_and_alerts(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sportello.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--speed",
            "3",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    api = server_client(f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer demo"})

    def get(path: str, **params: Any) -> list[dict[str, Any]] | None:
        try:
            response = api.get(path, params={"limit": 100, **params})
        except httpx.HTTPError:
            return None
        return response.json()["items"] if response.status_code == 200 else None

    try:
        conversations = wait_for(
            lambda: (
                (found := get("/api/v1/conversations"))
                and {c["channel"] for c in found} == {"telegram", "whatsapp", "messenger", "x"}
                and found
            ),
            timeout=60,
            interval=0.5,
        )
        assert len(conversations) >= 8

        def giulia_is_one_customer() -> bool:
            customers = get("/api/v1/customers", q="Giulia") or []
            return any(
                {i["channel"] for i in c["identities"]} == {"telegram", "whatsapp"}
                for c in customers
            )

        wait_for(giulia_is_one_customer, timeout=45, interval=0.5)
        outbound = get("/api/v1/messages", direction="out")
        assert outbound is not None
        bot_messages = [m for m in outbound if m["author"] == "bot"]
        assert bot_messages, "an automatic answer was sent"
        assert wait_for(lambda: get("/api/v1/alerts"), timeout=30, interval=0.5)

        photos = [
            a
            for m in get("/api/v1/messages", channel="whatsapp", direction="in") or []
            for a in m["attachments"]
            if a["kind"] == "image"
        ]
        assert len(photos) == 1
        picture = api.get(photos[0]["content_url"])
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
        assert api.get("/login").status_code == 200

        searched = api.get("/api/v1/search", params={"q": "4411"}).json()["messages"]["items"]
        giulias = {m["conversation_id"] for m in searched if m["channel"] == "telegram"}

        def colleague_note() -> bool:
            notes = [get(f"/api/v1/conversations/{c}/notes") or [] for c in giulias]
            return any(n["text"].startswith("@demo ") for found in notes for n in found)

        wait_for(colleague_note, timeout=30, interval=0.5)  # "Mentioned: 1" for demo

        # Marta answered Marco's thanks, hers now; Paolo has Luca's X question
        def martas_reply() -> list[dict[str, Any]]:
            return [m for m in get("/api/v1/messages", direction="out") or [] if m["sent_by"]]

        (reply,) = wait_for(martas_reply, timeout=30, interval=0.5)
        assert reply["sent_by"] == "marta" and reply["channel"] == "telegram"
        report = api.get("/api/v1/reports/agents").json()
        rows = {row["agent"]: row for row in report["agents"]}
        assert list(rows) == ["demo", "marta", "paolo", None]
        assert rows["marta"]["replies_sent"] == 1 and rows["marta"]["conversations"] == 1
        assert rows["paolo"]["conversations"] == 1 and rows["paolo"]["replies_sent"] == 0
        team = [agent["name"] for agent in api.get("/api/v1/agents").json()]
        assert team == ["demo", "marta", "paolo"]
        macros = [m["name"] for m in api.get("/api/v1/macros").json()]
        assert macros == ["Al magazzino", "Grazie, risolta"]
        teams = {t["name"]: t["members"] for t in api.get("/api/v1/teams").json()}
        assert teams == {"assistenza": ["marta", "paolo"], "resi": ["paolo"]}
        # the triage rule tagged and raised the refund requests
        refunds = get("/api/v1/conversations", tag="refund") or []
        assert {(c["channel"], c["priority"], c["team"]) for c in refunds} == {
            ("telegram", 2, "resi")
        }
        assert len(refunds) == 2  # Giulia's and Emma's
        teamed = api.get("/api/v1/reports/teams").json()["teams"]
        by_team = {row["team"]: row for row in teamed}
        assert by_team["resi"]["conversations"] == 2 and by_team["assistenza"]["conversations"] == 0
    finally:
        api.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
