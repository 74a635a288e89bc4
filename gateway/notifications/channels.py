"""Sending one notice: to a Slack-compatible incoming webhook, or by SMTP mail.

Each sender raises :class:`DeliveryFailed` with a reason fit for the notice's
``last_error`` (never a secret: no webhook URL, no SMTP password), and the caller tries
again later. The webhook is reached as vendors are: no redirects followed, no private or
metadata address unless configured (``GATEHOUSE_NOTIFY_ALLOW_PRIVATE_NETWORK``).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import requests

from gateway.config import NotificationSettings
from gateway.notifications.models import Notice
from gateway.vendor_connections import AddressRefused, VettedAdapter

_SMTP_PORTS = {"smtp": 25, "smtps": 465}


class DeliveryFailed(Exception):
    """The notice was not delivered; the message says why, without secrets."""


def deliver(notice: Notice, settings: NotificationSettings) -> None:
    if notice.channel == "webhook":
        post_to_webhook(notice, settings)
    elif notice.channel == "email":
        send_mail(notice, settings)
    else:
        raise DeliveryFailed(f"no channel {notice.channel!r}")


def post_to_webhook(notice: Notice, settings: NotificationSettings) -> None:
    if not settings.webhook_url:
        raise DeliveryFailed("GATEHOUSE_NOTIFY_WEBHOOK_URL is not set")
    with requests.Session() as http:
        adapter = VettedAdapter(settings.allow_private_network)
        http.mount("http://", adapter)
        http.mount("https://", adapter)
        try:
            answer = http.post(
                settings.webhook_url,
                json={"text": slack_text(notice)},
                timeout=settings.timeout,
                allow_redirects=False,
            )
        except AddressRefused as exc:
            raise DeliveryFailed(f"the webhook's address is refused ({exc.reason})") from exc
        except requests.RequestException as exc:
            raise DeliveryFailed(f"the webhook cannot be reached ({type(exc).__name__})") from exc
    if not 200 <= answer.status_code < 300:
        raise DeliveryFailed(f"the webhook answered {answer.status_code}")


def slack_text(notice: Notice) -> str:
    """The notice in Slack's mrkdwn: its three control characters escaped, then a link."""
    escaped = notice.subject.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"{escaped}\n<{notice.link}|Open in Gatehouse>" if notice.link else escaped


def send_mail(notice: Notice, settings: NotificationSettings) -> None:
    if not settings.smtp_url or not settings.mail_from:
        raise DeliveryFailed("GATEHOUSE_SMTP_URL or GATEHOUSE_MAIL_FROM is not set")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(notice.recipients)
    message["Subject"] = f"[Gatehouse] {notice.subject}"
    message.set_content(notice.text)
    try:
        with _smtp_connection(settings) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"the SMTP server refused or failed ({type(exc).__name__})") from exc


def _smtp_connection(settings: NotificationSettings) -> smtplib.SMTP:
    url = urlsplit(settings.smtp_url)
    port = url.port or _SMTP_PORTS[url.scheme]
    if url.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(
            url.hostname, port, timeout=settings.timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(url.hostname, port, timeout=settings.timeout)
    try:
        if url.scheme == "smtp":
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp
