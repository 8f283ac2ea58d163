"""Find connectors through the ``sportello.connectors`` entry points."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from sportello.config.settings import Settings
from sportello.connectors.base import Connector

log = logging.getLogger(__name__)
GROUP = "sportello.connectors"


def connector_classes() -> dict[str, type[Connector]]:
    """Every installed connector class; one that fails to import is reported and left out."""
    loaded = {entry.name: _load(entry) for entry in entry_points(group=GROUP)}
    return {name: cls for name, cls in loaded.items() if cls is not None}


@cache
def connector_class(name: str) -> type[Connector] | None:
    """The connector class of channel ``name`` (only its module is imported), if installed."""
    return next((_load(entry) for entry in entry_points(group=GROUP, name=name)), None)


def _load(entry: EntryPoint) -> type[Connector] | None:
    try:
        loaded: type[Connector] = entry.load()
    except (ImportError, AttributeError) as exc:
        log.warning("connector %s cannot be loaded: %s", entry.name, exc)
        return None
    return loaded


def enabled_connectors(settings: Settings) -> dict[str, Connector]:
    """Every connector whose credentials are configured, by channel name."""
    found: dict[str, Connector] = {}
    for name, cls in sorted(connector_classes().items()):
        connector = cls.from_settings(settings)
        if connector is not None:
            found[name] = connector
    return found
