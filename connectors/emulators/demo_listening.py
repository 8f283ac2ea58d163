"""Brand listening in ``sportello demo``: a local Google Alerts feed with a negative burst."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sportello.connectors.emulators.feeds import ALERTS_PATH, RSS_PATH, FeedEmulator
from sportello.connectors.emulators.server import BackgroundServer

CALM = [
    (
        "Sportello apre una nuova sede a Torino",
        "Sportello inaugura uno sportello clienti in centro",
    ),
    (
        "Sportello premiato per il servizio clienti",
        "Un riconoscimento per l'assistenza di Sportello",
    ),
]
BURST = [
    ("Sportello, clienti furiosi: rimborsi bloccati", "Servizio pessimo, una vergogna"),
    ("Disservizio Sportello, ordini spariti", "Clienti arrabbiati: è una truffa, mai più"),
    ("Sportello nella bufera", "Assistenza inesistente e ritardi vergognosi"),
    ("Sportello, pagamenti doppi", "Addebiti doppi, rimborsi negati: pessimo servizio"),
    ("Sportello sotto accusa", "Proteste dei clienti: servizio orribile"),
    ("Ancora problemi per Sportello", "Ordini persi e nessuna risposta, che schifo"),
    ("Sportello, esposto dei consumatori", "Pratiche scorrette, una vergogna"),
]


class ListeningDemo:
    """Starts the feed server; :meth:`settings` wires it, :meth:`burst` plays the crisis."""

    def __init__(self) -> None:
        self.emulator = FeedEmulator()
        self.server: BackgroundServer | None = None

    def start(self) -> None:
        now = datetime.now(UTC)
        for n, (title, summary) in enumerate(CALM):
            self.emulator.add_news(
                title,
                f"https://news.example.it/sportello/{n}",
                summary,
                now - timedelta(hours=n + 3),
            )
        self.server = BackgroundServer(self.emulator.app).start()

    def settings(self, telegram_enabled: bool) -> dict[str, Any]:
        """``listening`` and ``alerts`` settings for the demo daemon."""
        assert self.server is not None
        sinks = [{"name": "ops-chat", "kind": "telegram", "chat_id": "-1009990001"}]
        return {
            "listening": {
                "feeds": [
                    {"name": "google-alerts", "url": self.server.url + ALERTS_PATH},
                    {"name": "google-news", "url": self.server.url + RSS_PATH},
                ],
                "feed_poll_interval": "5s",
            },
            "alerts": {
                "rules": [
                    {
                        "name": "negative-share",
                        "kind": "negative_share",
                        "sources": ["x", "feed"],
                        "window": "1h",
                        "threshold": 0.5,
                        "min_volume": 5,
                    },
                    {"name": "mention-spike", "kind": "volume_spike", "sources": ["feed"]},
                    {"name": "scam", "kind": "keyword", "keywords": ["truffa", "scam"]},
                ],
                "sinks": sinks if telegram_enabled else [],
                "evaluate_interval": "5s",
                "deliver_interval": "5s",
            },
        }

    def burst(self) -> None:
        now = datetime.now(UTC)
        for n, (title, summary) in enumerate(BURST):
            self.emulator.add_alert(
                title, f"https://www.example.it/cronaca/sportello-{n}", summary, now
            )

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
