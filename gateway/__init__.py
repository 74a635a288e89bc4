"""The Gatehouse gateway: app factory (``gateway.app``), proxy, OAuth server, audit log, CLI."""
