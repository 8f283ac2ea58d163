"""Settings: TOML file plus ``SPORTELLO_…`` environment overrides."""

from sportello.config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
