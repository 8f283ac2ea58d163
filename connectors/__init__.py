"""Platform connectors behind one interface, found through the ``sportello.connectors`` entry points."""
