"""Platform connectors behind one interface, found through entry points."""
