"""``make run``'s tool requests: a few in each state of the review, made through the same
services as the portal, by the demo people, so the portal is never empty on first look."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.checklist import save_review
from catalog.conversation import ask
from catalog.decisions import decide
from catalog.models import ToolRequest
from catalog.requests import submit
from connectors.registry import SPECS_DIR, spec_files
from gateway.identity.actors import Actor
from gateway.identity.models import User
from gateway.identity.roles import Role

SOURCE = "demo"

BREVO = {
    "vendor_name": "Brevo",
    "website": "https://www.brevo.com",
    "category": "email",
    "connector": "brevo",
    "purposes": ["marketing.communications.email"],
    "data_categories": ["user.contact.email", "user.name"],
    "departments": ["growth"],
    "justification": "Transactional and welcome e-mails for the new shop, with SMS later.",
    "expected_volume": "40,000 contacts, 200,000 e-mails a month",
    "urgency": "high",
}
HOTJAR = {
    "vendor_name": "Hotjar",
    "website": "https://www.hotjar.com",
    "category": "analytics",
    "purposes": ["analytics.reporting"],
    "data_categories": ["user.behavior.browsing_history", "user.device.cookie_id"],
    "departments": ["growth"],
    "justification": "Heatmaps of the checkout to find where people give up.",
    "urgency": "normal",
}
SENDGRID = {
    "vendor_name": "SendGrid",
    "website": "https://sendgrid.com",
    "category": "email",
    "connector": "sendgrid",
    "purposes": ["marketing.communications.email"],
    "data_categories": ["user.contact.email"],
    "departments": ["growth"],
    "justification": "Order confirmations from the web shop.",
    "urgency": "critical",
}
LEAD_LIST = {
    "vendor_name": "LeadListr",
    "website": "https://leadlistr.example",
    "category": "ads",
    "purposes": ["marketing.advertising"],
    "data_categories": ["user.contact.email", "user.name"],
    "departments": ["growth"],
    "justification": "Buy lists of prospects to e-mail.",
    "urgency": "low",
}
COMPLETE_CHECKLIST = {
    "dpa_signed": "2026-10-01",
    "processing_country": "US",
    "transfer_basis": "dpf",
    "certifications": [{"name": "soc2", "valid_until": "2027-09-30"}],
    "subprocessors": ["Amazon Web Services", "Google Cloud"],
    "retention_terms": "Contacts kept while the account lives; logs 30 days.",
    "deletion_terms": "Deleted within 30 days of the contract's end.",
    "sso": True,
    "mfa": True,
    "security_contact": "security@sendgrid.example",
}


def seed_tool_requests(session: Session, sandbox_url: str) -> None:
    """Four requests of the demo marketer, if there are none yet: Brevo waiting for IT,
    Hotjar with a question from IT, SendGrid approved with conditions (at the sandbox,
    waiting for its credentials), LeadListr rejected."""
    if session.scalar(select(ToolRequest.id).limit(1)) is not None:
        return
    marketer, reviewer = _actor(session, Role.MARKETER), _actor(session, Role.IT_REVIEWER)
    connectors = spec_files((SPECS_DIR,))
    filed = {
        name: submit(session, marketer, SOURCE, given, connectors)
        for name, given in (
            ("brevo", BREVO),
            ("hotjar", HOTJAR),
            ("sendgrid", SENDGRID),
            ("leadlistr", LEAD_LIST),
        )
    }
    ask(
        session,
        reviewer,
        SOURCE,
        filed["hotjar"],
        "Hotjar records sessions: can it mask what people type in the checkout form?",
    )
    save_review(session, reviewer, SOURCE, filed["sendgrid"], COMPLETE_CHECKLIST)
    decide(session, reviewer, SOURCE, filed["sendgrid"], _approval(sandbox_url))
    decide(
        session,
        reviewer,
        SOURCE,
        filed["leadlistr"],
        {"outcome": "reject", "comment": "Bought lists have no consent: we cannot use them."},
    )


def _approval(sandbox_url: str) -> dict:
    return {
        "outcome": "approve_with_conditions",
        "comment": "Approved for order e-mails only, for a year.",
        "grants": [
            {
                "department": "growth",
                "purposes": ["marketing.communications.email"],
                "data_categories": ["user.contact.email"],
                "mode": "strict",
                "expires": (date.today() + timedelta(days=365)).isoformat(),
            }
        ],
        "review_due": (date.today() + timedelta(days=180)).isoformat(),
        "tool": {"base_url": f"{sandbox_url}/sendgrid", "allow_private_network": True},
    }


def _actor(session: Session, role: Role) -> Actor:
    user = session.scalar(select(User).where(User.role == role).order_by(User.id).limit(1))
    return Actor.for_user(user.id, user.email, user.role, user.department_slugs)
