"""OAuth 2.0 for marketing apps: client credentials, JWT access tokens, revocation."""
