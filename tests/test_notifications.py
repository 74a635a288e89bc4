"""Notices of catalog events, delivered to local receivers: an incoming-webhook server on
loopback and an SMTP server (aiosmtpd). The events are announced by the tests themselves,
as a service would announce them on its session."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from catalog.events import CatalogEvent, announce
from catalog.models import Department
from gateway.app import create_app
from gateway.config import NotificationSettings
from gateway.db import db
from gateway.notifications import deliverer_of
from gateway.notifications.delivery import deliver_due, retry_delay
from gateway.notifications.models import Notice
from tests.conftest import close
from tests.people import make_user
from tests.ports import free_port

PUBLIC_URL = "https://gatehouse.example"
SECRET = "sk_live_never_in_a_notice"


class WebhookReceiver(ThreadingHTTPServer):
    """An incoming webhook on loopback: records each body, answers the next planned status."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/services/T0/B0"


class _WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        receiver = self.server
        time.sleep(receiver.delay)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        if status == 200:
            receiver.bodies.append(json.loads(body))
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


class MailRecorder:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], object]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


@pytest.fixture
def mailbox() -> Iterator[MailRecorder]:
    recorder = MailRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    recorder.url = f"smtp://127.0.0.1:{controller.port}"
    yield recorder
    controller.stop()


def notifying_app(config, webhook_url=None, smtp_url=None, allow_private_network=True):
    settings = NotificationSettings(
        webhook_url=webhook_url,
        smtp_url=smtp_url,
        mail_from="gatehouse@example.test",
        timeout=5,
        allow_private_network=allow_private_network,
    )
    return create_app(config.with_overrides(notifications=settings, public_url=PUBLIC_URL))


@pytest.fixture
def make_app(config) -> Iterator:
    apps = []

    def make(**channels):
        app = notifying_app(config, **channels)
        apps.append(app)
        return app

    yield make
    for app in apps:
        deliverer_of(app).stop()
        close(app)


def commit_event(app, event: CatalogEvent) -> float:
    """Announces ``event`` and commits, as a service and its view would; returns the
    seconds the commit took."""
    with app.app_context():
        announce(db.session, event)
        started = time.monotonic()
        db.session.commit()
        return time.monotonic() - started


def notices(app) -> list[Notice]:
    with app.app_context():
        return list(db.session.scalars(select(Notice).order_by(Notice.id)))


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


SUBMITTED = CatalogEvent(
    name="request_submitted",
    summary="Growth asked for <b>Brevo</b> & more",
    subject=("tool_request", "7"),
    recipients=("requester@example.test",),
    details={"api_key": SECRET},
)


def test_a_committed_event_reaches_the_webhook_and_the_reviewers(make_app, webhook, mailbox):
    app = make_app(webhook_url=webhook.url, smtp_url=mailbox.url)
    make_user(app, "reviewer@example.test", "it_reviewer")
    make_user(app, "admin@example.test", "admin")
    make_user(app, "marketer@example.test", "marketer", ("growth",))
    make_user(app, "auditor@example.test", "auditor")

    commit_event(app, SUBMITTED)

    wait_for(lambda: webhook.bodies and mailbox.messages)
    link = f"{PUBLIC_URL}/portal/requests/7"
    escaped = "Growth asked for &lt;b&gt;Brevo&lt;/b&gt; &amp; more"
    assert webhook.bodies == [{"text": f"{escaped}\n<{link}|Open in Gatehouse>"}]
    [(recipients, mail)] = mailbox.messages
    assert sorted(recipients) == [
        "admin@example.test",
        "requester@example.test",
        "reviewer@example.test",
    ]
    assert mail["Subject"] == "[Gatehouse] Growth asked for <b>Brevo</b> & more"
    assert mail["From"] == "gatehouse@example.test"
    assert link in mail.get_payload()
    wait_for(lambda: all(notice.sent_at for notice in notices(app)))
    assert {(notice.channel, notice.attempts) for notice in notices(app)} == {
        ("webhook", 1),
        ("email", 1),
    }


def test_secrets_in_an_event_never_reach_a_notice(make_app, webhook, mailbox):
    app = make_app(webhook_url=webhook.url, smtp_url=mailbox.url)
    commit_event(app, SUBMITTED)
    wait_for(lambda: webhook.bodies and mailbox.messages)
    for notice in notices(app):
        stored = json.dumps([notice.subject, notice.text, notice.link, notice.recipients])
        assert SECRET not in stored
    assert SECRET not in json.dumps(webhook.bodies)
    assert SECRET not in mailbox.messages[0][1].as_string()


def test_nothing_is_sent_for_a_change_rolled_back(make_app, webhook):
    app = make_app(webhook_url=webhook.url)
    with app.app_context():
        db.session.add(Department(slug="growth", name="Growth"))
        announce(db.session, SUBMITTED)
        db.session.flush()
        db.session.rollback()
        db.session.commit()  # a later commit of the same session carries no stale event
        assert db.session.scalar(select(Department)) is None
    assert notices(app) == []
    time.sleep(0.3)
    assert webhook.bodies == []


def test_a_slow_webhook_never_holds_up_the_commit(make_app, webhook):
    webhook.delay = 2.0
    app = make_app(webhook_url=webhook.url)
    assert commit_event(app, SUBMITTED) < 1.0
    wait_for(lambda: webhook.bodies)


def test_a_failed_delivery_is_recorded_and_tried_again_when_due(make_app, webhook, cli, cli_env):
    webhook.statuses = [500]
    app = make_app(webhook_url=webhook.url)
    question = CatalogEvent("test_question", "A question", ("tool_request", "3"))
    commit_event(app, question)

    wait_for(lambda: notices(app)[0].attempts == 1)
    [notice] = notices(app)
    assert notice.sent_at is None
    assert notice.last_error == "the webhook answered 500"
    waited = notice.next_attempt_at - notice.created_at
    assert retry_delay(1) <= waited < retry_delay(1) * 2
    assert retry_delay(2) == 2 * retry_delay(1)
    time.sleep(0.3)
    assert webhook.bodies == [], "not tried again before it is due"

    with app.app_context():
        settings = app.extensions["gatehouse.config"].notifications
        report = deliver_due(db.of(app).sessions, settings, now=notice.next_attempt_at)
    assert (report.sent, report.failed) == (1, 0)
    assert [body["text"].split("\n")[0] for body in webhook.bodies] == ["A question"]
    [notice] = notices(app)
    assert (notice.attempts, notice.last_error) == (2, None)
    assert notice.sent_at is not None


def test_the_notices_command_delivers_what_is_due(make_app, webhook, cli, cli_env):
    webhook.statuses = [503]
    app = make_app(webhook_url=webhook.url)
    commit_event(app, CatalogEvent("test_decided", "Brevo approved", ("tool", "brevo")))
    wait_for(lambda: notices(app)[0].attempts == 1)
    deliverer_of(app).stop()  # else it may deliver the retry before the command does
    with app.app_context():  # its retry falls due
        db.session.get(Notice, notices(app)[0].id).next_attempt_at = notices(app)[0].created_at
        db.session.commit()
    cli_env.update(
        GATEHOUSE_NOTIFY_WEBHOOK_URL=webhook.url, GATEHOUSE_NOTIFY_ALLOW_PRIVATE_NETWORK="1"
    )

    result = cli("notices", "deliver", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"sent": 1, "failed": 0}
    assert (
        webhook.bodies[0]["text"]
        == f"Brevo approved\n<{PUBLIC_URL}/portal/tools/brevo|Open in Gatehouse>"
    )


def test_a_webhook_on_loopback_is_refused_unless_allowed(make_app, webhook):
    app = make_app(webhook_url=webhook.url, allow_private_network=False)
    commit_event(app, SUBMITTED)
    wait_for(lambda: notices(app)[0].attempts == 1)
    assert notices(app)[0].last_error == "the webhook's address is refused (loopback)"
    assert webhook.bodies == []


def test_no_channel_configured_writes_no_notice(make_app):
    app = make_app()
    commit_event(app, SUBMITTED)
    assert notices(app) == []


def test_mail_goes_only_to_whom_the_event_concerns(make_app, mailbox):
    app = make_app(smtp_url=mailbox.url)
    make_user(app, "reviewer@example.test", "it_reviewer")
    commit_event(
        app,
        CatalogEvent(
            "question_asked",
            "A question on Brevo",
            ("tool_request", "1"),
            recipients=("requester@example.test",),
        ),
    )
    commit_event(app, CatalogEvent("tool_status_changed", "Brevo suspended", ("tool", "brevo")))
    wait_for(lambda: mailbox.messages)
    time.sleep(0.3)
    assert [recipients for recipients, _ in mailbox.messages] == [["requester@example.test"]]
    assert [notice.event for notice in notices(app)] == ["question_asked"]
