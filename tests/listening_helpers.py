"""Shared set-up of the listening tests: emulators, settings, a collector on a database."""

from __future__ import annotations

from typing import Any

from conftest import make_settings

from sportello.config.settings import Settings
from sportello.connectors.emulators.feeds import ALERTS_PATH, RSS_PATH
from sportello.connectors.emulators.x_search import XUser

X_BEARER = "x-search-bearer"
OWN = XUser("1500000000000000001", "sportello_it", "Sportello")
ANNA = XUser("2200000000000000001", "anna_b", "Anna Bruni")
TOM = XUser("2200000000000000002", "tomw", "Tom Walker")


def listening_settings(
    database_url: str,
    x_url: str | None = None,
    feed_url: str | None = None,
    **overrides: Any,
) -> Settings:
    channels: dict[str, Any] = overrides.pop("channels", {})
    listening: dict[str, Any] = {
        "queries": ["sportello OR @sportello_it"],
        "competitor_queries": {"Acme": "acmeshop"},
        "x_poll_interval": "1s",
        "feed_poll_interval": "1s",
        **overrides.pop("listening", {}),
    }
    if x_url is not None:
        channels["x"] = {"bearer_token": X_BEARER, "api_base_url": x_url, "user_id": OWN.id}
    if feed_url is not None:
        listening["feeds"] = [
            {"name": "google-alerts", "url": feed_url + ALERTS_PATH},
            {"name": "news", "url": feed_url + RSS_PATH},
        ]
    return make_settings(database_url, channels=channels, listening=listening, **overrides)
