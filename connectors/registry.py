"""Find connectors through the ``sportello.connectors`` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

from sportello.config.settings import Settings
from sportello.connectors.base import Connector


def connector_classes() -> dict[str, type[Connector]]:
    return {ep.name: ep.load() for ep in entry_points(group="sportello.connectors")}


def enabled_connectors(settings: Settings) -> dict[str, Connector]:
    """Every connector whose credentials are configured, by channel name."""
    found: dict[str, Connector] = {}
    for name, cls in sorted(connector_classes().items()):
        connector = cls.from_settings(settings)
        if connector is not None:
            found[name] = connector
    return found
