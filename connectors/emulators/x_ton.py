"""X's DM media host, ``ton.twitter.com``, for the X emulator.

A picture in a direct message is not public: X serves it only to a GET signed with OAuth
1.0a user context (developer.x.com, "Retrieving media" of Direct Messages). The emulator
checks the HMAC-SHA1 signature as X would, over the URL the client signed (the real
host's, before the client's transport sent it to the emulator).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature, utils

TON = "https://ton.twitter.com"
DM_MEDIA_PATH = "/1.1/ton/data/dm/"


def signed_by(
    header: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
) -> bool:
    """Whether ``header`` (``Authorization: OAuth ...``) signs a GET of ``url`` with these keys."""
    if not header.startswith("OAuth "):
        return False
    try:  # values arrive percent-encoded (RFC 5849, 3.5.1)
        fields = [
            (utils.unescape(k), utils.unescape(v))
            for k, v in utils.parse_authorization_header(header)
        ]
    except ValueError:
        return False
    given = dict(fields)
    if given.get("oauth_consumer_key") != consumer_key or given.get("oauth_token") != token:
        return False
    if given.get("oauth_signature_method") != "HMAC-SHA1" or "oauth_signature" not in given:
        return False
    request = OAuthRequest(url, "GET")
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    request.params = [(k, v) for k, v in fields if k not in ("oauth_signature", "realm")] + query
    request.signature = given["oauth_signature"]
    return bool(signature.verify_hmac_sha1(request, consumer_secret, token_secret))
