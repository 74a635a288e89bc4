"""Roles of people and the permissions each grants; apps hold the same permissions as scopes.

A permission names one kind of action on one kind of object. A user's role grants a
fixed set; an app's OAuth scopes are permissions too, so an endpoint asks one question
(``actor.may("apps:write")``) whoever calls it.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    MARKETER = "marketer"
    IT_REVIEWER = "it_reviewer"
    ADMIN = "admin"
    AUDITOR = "auditor"


#: What each permission lets its holder do (also the scope's description in OpenAPI).
PERMISSIONS = {
    "catalog:read": "browse the catalog of tools and their grants",
    "requests:write": "request tools for one's departments and answer reviewers' questions",
    "reviews:write": "review tool requests, decide them, change tools, grants and their status",
    "credentials:write": "store and rotate vendor credentials (write-only)",
    "apps:write": "register apps of one's departments and manage their API keys",
    "users:admin": "create, change and deactivate users",
    "history:read": "read the history of changes",
    "audit:read": "the auditor's role; search, export and report on the exchange log",
    "consent:write": "record consent events",
    "consent:read": "read a person's consent states",
    "shadow_it:review": "see shadow-IT findings, mark them known or ignored, export them",
    "usage:read": "read usage reports and the housekeeping lists",
}

#: Departments do not limit these roles: they see and act across the company.
COMPANY_WIDE = frozenset({Role.IT_REVIEWER, Role.ADMIN, Role.AUDITOR})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.MARKETER: frozenset({"catalog:read", "requests:write", "apps:write"}),
    Role.IT_REVIEWER: frozenset(
        {
            "catalog:read",
            "requests:write",
            "reviews:write",
            "history:read",
            "apps:write",
            "shadow_it:review",
            "usage:read",
        }
    ),
    Role.ADMIN: frozenset(PERMISSIONS) - {"audit:read"},
    Role.AUDITOR: frozenset({"catalog:read", "history:read", "audit:read", "usage:read"}),
}
