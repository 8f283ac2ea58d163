"""A tweepy ``Client`` aimed at ``channels.x.api_base_url``, and X's rate-limit headers.

tweepy builds every URL on the fixed host ``https://api.twitter.com``. Instead of
patching tweepy, :func:`build_client` mounts a requests transport adapter on the
client's session that sends those requests to the configured base URL (the real
API, or a local emulator). tweepy's own request, auth and error code stays in the path.
With a base URL other than X's, the DM media host ``https://ton.twitter.com`` is sent
there too (the emulator serves both).

Reusable by anything that talks to X (the inbox connector, brand-mention search).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from sportello.config.settings import XSettings

TWEEPY_HOST = "https://api.twitter.com"
TON_HOST = "https://ton.twitter.com"
TIMEOUT_S = 20.0


class RebaseAdapter(HTTPAdapter):
    """Sends requests made for ``host`` to ``base_url`` instead."""

    def __init__(self, base_url: str, host: str = TWEEPY_HOST, timeout: float = TIMEOUT_S) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.host = host
        self.timeout = timeout

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = request.url or ""
        if url.startswith(self.host):
            request.url = self.base_url + url[len(self.host) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_client(settings: XSettings) -> tweepy.Client:
    """A tweepy Client for these settings that answers with raw ``requests.Response``s.

    Raw responses keep the body bytes (journaled as they came) and the rate-limit headers.
    """
    client = tweepy.Client(
        bearer_token=_secret(settings.bearer_token),
        consumer_key=_secret(settings.consumer_key),
        consumer_secret=_secret(settings.consumer_secret),
        access_token=_secret(settings.access_token),
        access_token_secret=_secret(settings.access_token_secret),
        return_type=requests.Response,
        wait_on_rate_limit=False,
    )
    client.session.mount(TWEEPY_HOST, RebaseAdapter(settings.api_base_url))
    if settings.api_base_url.rstrip("/") != TWEEPY_HOST:
        client.session.mount(TON_HOST, RebaseAdapter(settings.api_base_url, TON_HOST))
    return client


def user_auth(client: tweepy.Client) -> AuthBase:
    """OAuth 1.0a user context for a request tweepy does not make (a DM's picture)."""
    handler = tweepy.OAuth1UserHandler(
        client.consumer_key, client.consumer_secret, client.access_token, client.access_token_secret
    )
    return handler.apply_auth()  # type: ignore[no-any-return]


def has_user_auth(settings: XSettings) -> bool:
    """Whether OAuth 1.0a user context is configured (needed for DMs and posting)."""
    return all(
        value is not None
        for value in (
            settings.consumer_key,
            settings.consumer_secret,
            settings.access_token,
            settings.access_token_secret,
        )
    )


@dataclass(frozen=True)
class RateLimit:
    """One endpoint's window as X reports it in ``x-rate-limit-*`` headers."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None

    @classmethod
    def from_headers(cls, headers: Any) -> RateLimit:
        def number(name: str) -> int | None:
            value = headers.get(name)
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        reset = number("x-rate-limit-reset")
        return cls(
            limit=number("x-rate-limit-limit"),
            remaining=number("x-rate-limit-remaining"),
            reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
        )

    def seconds_to_reset(self, now: datetime, default: float = 60.0) -> float:
        if self.reset_at is None:
            return default
        return max(1.0, (self.reset_at - now).total_seconds() + 1.0)
