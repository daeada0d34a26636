"""The dashboard and Teams tab: server-rendered pages on the handlers' own operations and permissions."""
