"""The outbox of notices waiting to be delivered, and what became of each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntKey, UTCDateTime, utcnow


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    #: ``request_submitted``, ``question_asked``, ``question_answered``, ``request_decided``, ...
    event: Mapped[str] = mapped_column(String(40))
    #: ``webhook`` or ``email``
    channel: Mapped[str] = mapped_column(String(10))
    #: e-mail addresses for ``email``; empty for the webhook
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    #: a link into the portal, if the notice is about one object
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
