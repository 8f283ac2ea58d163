"""sportello: one inbox for every customer conversation."""

__version__ = "0.1.0"
