"""People who use the portal and the API: users, their roles, sign-in and sessions.

Users are separate from apps (OAuth clients): a user signs in with a password or the
company's identity provider and acts within a role; an app authenticates with a token or
an API key. Both become an :class:`~gateway.identity.actors.Actor`, which is what every
service is given and what the history records.
"""
