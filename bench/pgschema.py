"""Benchmark data on PostgreSQL lives in its own schema of the bench database, one per purpose.

The daemon reaches it through ``search_path`` in the URL, so ingestion runs can be reset
without touching the cached inbox datasets next to them.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text


def schema_url(base_url: str, schema: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{schema}"


def reset_schema(base_url: str, schema: str) -> str:
    """Drop and create ``schema``; returns a URL whose connections use it."""
    drop_schema(base_url, schema)
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return schema_url(base_url, schema)


def drop_schema(base_url: str, schema: str) -> None:
    """Drop ``schema`` and all it holds, if it exists."""
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def schema_comment(base_url: str, schema: str) -> str | None:
    """The comment on ``schema`` (where a dataset records what it holds), or None if absent."""
    engine = create_engine(base_url)
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                "WHERE nspname = :schema"
            ),
            {"schema": schema},
        ).first()
    engine.dispose()
    return None if found is None else found[0]


def set_schema_comment(base_url: str, schema: str, comment: str) -> None:
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        quoted = comment.replace("'", "''")
        connection.execute(text(f"COMMENT ON SCHEMA \"{schema}\" IS '{quoted}'"))
    engine.dispose()
