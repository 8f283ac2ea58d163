"""Find connectors through the ``sportello.connectors`` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from sportello.config.settings import Settings
from sportello.connectors.base import Connector

log = logging.getLogger(__name__)


def connector_classes() -> dict[str, type[Connector]]:
    """Every installed connector class; one that fails to import is reported and left out."""
    found: dict[str, type[Connector]] = {}
    for entry in entry_points(group="sportello.connectors"):
        try:
            found[entry.name] = entry.load()
        except (ImportError, AttributeError) as exc:
            log.warning("connector %s cannot be loaded: %s", entry.name, exc)
    return found


def enabled_connectors(settings: Settings) -> dict[str, Connector]:
    """Every connector whose credentials are configured, by channel name."""
    found: dict[str, Connector] = {}
    for name, cls in sorted(connector_classes().items()):
        connector = cls.from_settings(settings)
        if connector is not None:
            found[name] = connector
    return found
