"""Sentiment scoring of inbound messages and brand mentions (English and Italian), offline."""

from .service import Sentiment, SentimentService

__all__ = ["Sentiment", "SentimentService"]
