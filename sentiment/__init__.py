"""Sentiment scoring (English and Italian), language detection and mention alert rules."""
