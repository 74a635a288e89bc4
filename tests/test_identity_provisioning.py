"""Users of single sign-on made from an identity provider's claims: which role wins, which
departments, and when a person is refused. (The whole flow, over HTTP against a real
provider, is in test_oidc_sign_in.py.)"""

from __future__ import annotations

import pytest

from gateway.config import OidcSettings
from gateway.db import db
from gateway.identity.provisioning import SignInRefused, user_for_claims
from tests.conftest import apply
from tests.people import make_user

SETTINGS = OidcSettings(
    "https://idp.example.com",
    "gatehouse",
    "secret",
    roles={"mkt": "marketer", "brand": "marketer", "it": "it_reviewer", "ops": "admin"},
    departments={"mkt": "growth", "brand": "brand", "ghost": "nowhere"},
)


@pytest.fixture
def session(app):
    apply(
        app,
        {"departments": [{"slug": "growth", "name": "Growth"}, {"slug": "brand", "name": "Brand"}]},
    )
    with app.app_context():
        yield db.session


def _claims(**claims):
    return {"sub": "u-1", "email": "Ada@Example.com", "email_verified": True, **claims}


def test_departments_come_from_every_mapped_group(session):
    user = user_for_claims(session, SETTINGS, _claims(groups=["mkt", "brand", "unknown"]))
    assert (user.email, user.role.value, user.department_slugs) == (
        "ada@example.com",
        "marketer",
        ["brand", "growth"],
    )


def test_the_strongest_role_of_the_groups_wins(session):
    user = user_for_claims(session, SETTINGS, _claims(groups=["mkt", "ops", "it"]))
    assert user.role.value == "admin"


def test_a_single_group_may_be_given_as_a_string_in_another_claim(session):
    settings = OidcSettings(**{**vars(SETTINGS), "groups_claim": "roles"})
    assert user_for_claims(session, settings, _claims(roles="it")).role.value == "it_reviewer"


def test_leaving_a_group_takes_its_role_and_department_away_at_the_next_sign_in(session):
    user_for_claims(session, SETTINGS, _claims(groups=["ops", "mkt"]))
    user = user_for_claims(session, SETTINGS, _claims(groups=["brand"]))
    assert (user.role.value, user.department_slugs) == ("marketer", ["brand"])


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (_claims(groups=[]), "no group that gives access"),
        (_claims(), "no group that gives access"),
        (_claims(groups=["sales"]), "no group that gives access"),
        (_claims(email=None, groups=["mkt"]), "verified e-mail address"),
        (_claims(email_verified=False, groups=["mkt"]), "verified e-mail address"),
        (_claims(groups=["mkt", "ghost"]), "set up wrongly for your groups"),
    ],
)
def test_refusals_say_why(session, claims, message):
    with pytest.raises(SignInRefused) as refusal:
        user_for_claims(session, SETTINGS, claims)
    assert message in str(refusal.value)


def test_an_account_linked_to_another_identity_is_not_taken_over(app, session):
    user_for_claims(session, SETTINGS, _claims(groups=["mkt"]))
    session.commit()
    with pytest.raises(SignInRefused, match="linked to another identity"):
        user_for_claims(session, SETTINGS, _claims(sub="someone-else", groups=["mkt"]))


def test_a_local_account_is_linked_by_its_email(app, session):
    user_id = make_user(app, "ada@example.com", "auditor", password="a local password")
    user = user_for_claims(session, SETTINGS, _claims(groups=["it"]))
    assert (user.id, user.oidc_subject, user.role.value) == (user_id, "u-1", "it_reviewer")
