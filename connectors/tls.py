"""The one TLS context the daemon's outbound HTTP clients share.

httpx builds a context for each client it creates and loads certifi's bundle (or
``SSL_CERT_FILE``) into it: some 20 ms of CPU a client. The daemon creates clients for
connectors, feeds, alert and integration webhooks; they all verify with this one.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once (an SSLContext serves many clients)."""
    return httpx.create_ssl_context()
