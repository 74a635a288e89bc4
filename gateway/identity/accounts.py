"""Local accounts: finding a user by e-mail and checking a password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.identity.models import User
from gateway.identity.passwords import verify_password


def normalised_email(email: str) -> str:
    return email.strip().lower()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (which of the two was
    wrong is not said)."""
    user = session.scalar(select(User).where(User.email == normalised_email(email)))
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.active:
        return None
    user.last_sign_in_at = utcnow()
    return user
