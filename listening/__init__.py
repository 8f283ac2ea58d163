"""Brand listening: mentions from X search, feeds and public tweets; sentiment; alerts."""
