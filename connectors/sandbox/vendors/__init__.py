"""One module per fake vendor, found by name: each has ``VENDOR``, ``CREDENTIALS`` (the
sandbox account's credentials, fake and public) and ``create_blueprint(credentials)``."""
