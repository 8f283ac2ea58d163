"""X API v2's error bodies (RFC 7807 problems), as the X emulator answers them."""

from __future__ import annotations

from typing import Any


def problem(status: int) -> dict[str, Any]:
    titles = {
        401: "Unauthorized",
        403: "Forbidden",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    title = titles.get(status, "Error")
    return {"title": title, "detail": title, "type": "about:blank", "status": status}


def too_long() -> dict[str, Any]:
    """X's answer to a post over 280 as it counts (twitter-text's weighted length)."""
    return {
        "title": "Invalid Request",
        "detail": "Your Tweet text is too long. For more information on how Twitter determines "
        "text length see https://github.com/twitter/twitter-text.",
        "type": "about:blank",
        "status": 400,
    }


def invalid(parameter: str, message: str) -> dict[str, Any]:
    return {
        "errors": [{"parameters": {parameter: []}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def invalid_media(message: str) -> dict[str, Any]:
    """X's answer to a file it will not take (its type, its size, its chunks)."""
    return {
        "errors": [{"message": message}],
        "title": "Invalid Request",
        "detail": message,
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
