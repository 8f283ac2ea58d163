"""OAuth 1.0a user context, checked as X checks it, for the X emulator.

Every call made as the account (posting, DMs, media upload, and a DM's picture on
``ton.twitter.com``) carries an HMAC-SHA1 signature over the method and the URL the client
signed: the real host's, before the client's transport sent it to the emulator.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature, utils


def signed_by(
    header: str,
    url: str,
    *,
    method: str = "GET",
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
) -> bool:
    """Whether ``header`` (``Authorization: OAuth ...``) signs a ``method`` request of ``url``
    with these keys (a JSON or multipart body is not part of the signature)."""
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
    request = OAuthRequest(url, method)
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    request.params = [(k, v) for k, v in fields if k not in ("oauth_signature", "realm")] + query
    request.signature = given["oauth_signature"]
    return bool(signature.verify_hmac_sha1(request, consumer_secret, token_secret))
