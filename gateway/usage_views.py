"""What the CLI, the API and the portal do for a usage report or the housekeeping lists:
refresh the aggregates from the exchange log, commit (releasing the refresh's lock),
then read. One place, so the three views stay thin and alike."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from catalog.housekeeping import AppRef, Housekeeping, housekeeping
from catalog.usage import UsageQuery, UsageReport, usage_report
from gateway.audit.usage_refresh import refresh_usage
from gateway.oauth.models import Client


def fresh_usage_report(session: Session, query: UsageQuery) -> UsageReport:
    refresh_usage(session)
    session.commit()
    return usage_report(session, query)


def fresh_housekeeping(session: Session, today: date, days: int) -> Housekeeping:
    refresh_usage(session)
    session.commit()
    return housekeeping(session, active_apps(session), today, days)


def active_apps(session: Session) -> list[AppRef]:
    clients = session.scalars(
        select(Client).where(Client.active).options(joinedload(Client.department))
    )
    return [
        AppRef(client.client_id, client.name, client.department.slug, client.created_at)
        for client in clients
    ]


def app_names(session: Session) -> dict[str, str]:
    """Client id -> app name, for showing reports by app."""
    return dict(session.execute(select(Client.client_id, Client.name)).all())
