"""What the catalog's services refuse, said in the domain's words.

The portal shows these next to a form; the API turns them into problem details
(``gateway.errors``); the CLI prints them. A service never speaks HTTP.
"""

from __future__ import annotations


class CatalogRefusal(Exception):
    """Base of what a service refuses; the message is written for the person acting."""

    #: the problem type slug and HTTP status the API answers with
    slug = "refused"
    status = 400

    def __init__(self, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: field-level problems: ``{"pointer": "/vendor_name", "message": "..."}``
        self.errors = errors or []


class Invalid(CatalogRefusal):
    """What was given cannot be accepted; ``errors`` says which field and why."""

    slug = "invalid-body"
    status = 422


class NotFound(CatalogRefusal):
    """No such object, or one the actor may not see (the two are not told apart)."""

    slug = "not-found"
    status = 404


class Forbidden(CatalogRefusal):
    """The actor may see the object but lacks the permission for this action."""

    slug = "forbidden"
    status = 403


class Conflict(CatalogRefusal):
    """The object's state does not allow this action now (a decided request, say)."""

    slug = "conflict"
    status = 409
