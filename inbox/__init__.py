"""The domain: tables, storage, ingestion, identity, triage, outbox and metrics."""
