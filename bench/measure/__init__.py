"""One module per measurement; each returns a JSON-ready dict of what it measured."""
