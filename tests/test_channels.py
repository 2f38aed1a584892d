"""Delivery channels, end to end against real servers on 127.0.0.1.

E-mail goes through a real aiosmtpd server; Web Push is encrypted and signed by pywebpush and received by a
small HTTP server playing the push service, which decrypts it with the subscriber's key as the browser would.
No database and no app.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import logging
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt

from journal.channels import (
    DEFAULT_PUSH_SERVICE_HOSTS,
    DeliveryError,
    LogChannel,
    OutgoingMessage,
    PushEndpoints,
    SmtpChannel,
    WebPushChannel,
    vapid_keys,
    vapid_public_key,
)

MAIL_FROM = "Journal <no-reply@example.org>"
SUBJECT = "Your daily check-in"
TEXT = "Hello Zoë, you have a new check-in."
LINK = "https://journal.test/checkin"

REMINDER = OutgoingMessage(
    id=42,
    to="pat@patient.test",
    subject=SUBJECT,
    text=TEXT,
    url=LINK,
    message_key="reminder:7:2026-03-02:email",
)


def free_port() -> int:
    """A port nothing listens on (aiosmtpd's Controller cannot be given port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- E-mail ------------------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what arrives and refuses the recipients it is told to."""

    received: list = field(default_factory=list)
    refusals: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    logins: list[bytes] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope, bool(session.authenticated)))
        return "250 Message accepted for delivery"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        credentials = (auth_data.login, auth_data.password) if isinstance(auth_data, LoginPassword) else None
        ok = credentials == (b"journal", b"p@ss word")
        if ok:
            self.logins.append(auth_data.login)
        # handled=False: aiosmtpd then answers 535 itself (with True it would say nothing and the client waits)
        return AuthResult(success=ok, handled=False)

    def only_message(self) -> tuple[email.message.EmailMessage, object]:
        assert len(self.received) == 1, self.received
        envelope, _ = self.received[0]
        return email.message_from_bytes(envelope.content, policy=email.policy.default), envelope


def body(message: email.message.EmailMessage) -> str:
    """The text as a mail reader shows it (SMTP carries CRLF line ends)."""
    return message.get_content().replace("\r\n", "\n")


def start_smtp(mailbox: Mailbox, **smtp_parameters) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ready_timeout=10, **smtp_parameters)
    controller.start()
    return controller


@pytest.fixture
def mailbox():
    mailbox = Mailbox()
    controller = start_smtp(mailbox)
    mailbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield mailbox
    controller.stop()


@pytest.fixture
def mailbox_with_auth():
    mailbox = Mailbox()
    # AUTH over plain text is refused unless allowed: this server stands in for a relay on the same machine.
    controller = start_smtp(mailbox, authenticator=mailbox.authenticator, auth_require_tls=False)
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


def test_email_arrives_with_neutral_headers_and_the_link(mailbox):
    SmtpChannel(mailbox.url, MAIL_FROM, timeout=5).send(REMINDER)

    message, envelope = mailbox.only_message()
    assert envelope.mail_from == "no-reply@example.org"
    assert envelope.rcpt_tos == ["pat@patient.test"]
    assert message["From"] == MAIL_FROM
    assert message["To"] == "pat@patient.test"
    assert message["Subject"] == SUBJECT
    assert message["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", message["Message-ID"])
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert body(message) == f"{TEXT}\n\n{LINK}\n"


def test_email_message_id_is_the_same_for_a_resend_of_the_same_outbox_message(mailbox):
    channel = SmtpChannel(mailbox.url, MAIL_FROM, timeout=5)
    channel.send(REMINDER)
    channel.send(REMINDER)  # as after a crash between sending and recording it
    channel.send(replace(REMINDER, message_key="reminder:7:2026-03-03:email"))

    ids = [email.message_from_bytes(envelope.content)["Message-ID"] for envelope, _ in mailbox.received]
    assert ids[0] == ids[1]
    assert ids[2] != ids[0]


def test_email_link_already_in_the_text_is_not_repeated(mailbox):
    SmtpChannel(mailbox.url, MAIL_FROM, timeout=5).send(replace(REMINDER, text=f"Open {LINK} to check in."))

    message, _ = mailbox.only_message()
    assert body(message) == f"Open {LINK} to check in.\n"


def test_email_to_a_server_that_is_down_is_a_temporary_failure():
    channel = SmtpChannel(f"smtp://127.0.0.1:{free_port()}", MAIL_FROM, timeout=5)

    with pytest.raises(DeliveryError) as failure:
        channel.send(REMINDER)
    assert failure.value.permanent is False


def test_email_recipient_refused_with_550_is_a_permanent_failure(mailbox):
    mailbox.refusals["pat@patient.test"] = "550 5.1.1 No such user"

    with pytest.raises(DeliveryError) as failure:
        SmtpChannel(mailbox.url, MAIL_FROM, timeout=5).send(REMINDER)
    assert failure.value.permanent is True
    assert "550" in str(failure.value)
    assert mailbox.received == []


def test_email_recipient_refused_with_450_is_a_temporary_failure(mailbox):
    mailbox.refusals["pat@patient.test"] = "450 4.2.1 Mailbox busy, try later"

    with pytest.raises(DeliveryError) as failure:
        SmtpChannel(mailbox.url, MAIL_FROM, timeout=5).send(REMINDER)
    assert failure.value.permanent is False


def test_email_to_an_address_with_a_line_break_is_refused_before_connecting():
    channel = SmtpChannel(f"smtp://127.0.0.1:{free_port()}", MAIL_FROM, timeout=5)

    with pytest.raises(DeliveryError) as failure:
        channel.send(replace(REMINDER, to="pat@patient.test\r\nBcc: eve@elsewhere.test"))
    assert failure.value.permanent is True


def test_email_logs_in_with_percent_decoded_credentials_from_the_url(mailbox_with_auth):
    url = f"smtp://journal:p%40ss%20word@127.0.0.1:{mailbox_with_auth.port}"

    SmtpChannel(url, MAIL_FROM, timeout=5).send(REMINDER)

    assert mailbox_with_auth.logins == [b"journal"]
    assert [authenticated for _, authenticated in mailbox_with_auth.received] == [True]


def test_email_with_a_wrong_password_is_a_temporary_failure(mailbox_with_auth):
    url = f"smtp://journal:wrong@127.0.0.1:{mailbox_with_auth.port}"

    with pytest.raises(DeliveryError) as failure:
        SmtpChannel(url, MAIL_FROM, timeout=5).send(REMINDER)
    # Our configuration is wrong, not the message: once it is fixed the message can still go.
    assert failure.value.permanent is False
    assert "535" in str(failure.value)
    assert mailbox_with_auth.received == []


@pytest.mark.parametrize(
    ("url", "scheme", "port", "username", "password"),
    [
        ("smtp://mail.clinic.test", "smtp", 25, None, None),
        ("smtp+starttls://a%2Bb%40x:p%3Aw@mail.clinic.test", "smtp+starttls", 587, "a+b@x", "p:w"),
        ("smtps://u:p@mail.clinic.test:2465", "smtps", 2465, "u", "p"),
    ],
)
def test_smtp_url_gives_scheme_default_port_and_decoded_credentials(url, scheme, port, username, password):
    channel = SmtpChannel(url, MAIL_FROM)
    assert (channel.scheme, channel.host, channel.port) == (scheme, "mail.clinic.test", port)
    assert (channel.username, channel.password) == (username, password)


@pytest.mark.parametrize("url", ["http://mail.clinic.test", "smtp://", "mail.clinic.test:25"])
def test_smtp_url_that_is_not_smtp_is_refused_at_start_up(url):
    with pytest.raises(ValueError):
        SmtpChannel(url, MAIL_FROM)


# --- Web Push ----------------------------------------------------------------------------------------------

VAPID_SUBJECT = "mailto:ops@clinic.test"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Browser:
    """A subscriber as a browser makes one: a P-256 key pair and a 16-byte auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, endpoint: str) -> str:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return json.dumps({"endpoint": endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)}})

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")


@dataclass
class PushRequest:
    path: str
    headers: Message  # case-insensitive, as HTTP headers are (pywebpush sends them in lower case)
    body: bytes


class PushService(ThreadingHTTPServer):
    """Plays a browser vendor's push service: keeps each request and answers with ``status`` (and a
    ``location``, if set, for a redirect)."""

    daemon_threads = True
    status = 201
    location: str | None = None

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PushHandler)
        self.requests: queue.Queue[PushRequest] = queue.Queue()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_request(self) -> PushRequest:
        return self.requests.get(timeout=5)


class _PushHandler(BaseHTTPRequestHandler):
    server: PushService

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.put(PushRequest(self.path, self.headers, body))
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args) -> None:  # keep test output quiet
        pass


@contextmanager
def running_push_service() -> Iterator[PushService]:
    service = PushService()
    thread = threading.Thread(target=service.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.shutdown()
        service.server_close()
        thread.join(timeout=5)


@pytest.fixture
def push_service():
    with running_push_service() as service:
        yield service


@pytest.fixture(scope="module")
def vapid() -> tuple[str, str]:
    return vapid_keys()


# The stand-in push service speaks plain HTTP on 127.0.0.1; real ones are all https on public addresses, which
# is all the channel reaches by default. Tests allow it explicitly, and only it.
LOCAL_PUSH_SERVICE = PushEndpoints(
    hosts=(*DEFAULT_PUSH_SERVICE_HOSTS, "127.0.0.1"), private_allowed=("127.0.0.1",), require_https=False
)


@pytest.fixture
def push_channel(vapid) -> WebPushChannel:
    return WebPushChannel(vapid[0], VAPID_SUBJECT, timeout=5, endpoints=LOCAL_PUSH_SERVICE)


def push_reminder(browser: Browser, endpoint: str) -> OutgoingMessage:
    return replace(REMINDER, to=browser.subscription(endpoint), text="You have a new check-in", message_key="r:7:push")


def test_push_payload_decrypts_at_the_push_service_to_the_neutral_text(push_service, push_channel):
    browser = Browser()

    push_channel.send(push_reminder(browser, f"{push_service.origin}/push/abc"))

    request = push_service.next_request()
    assert request.path == "/push/abc"
    assert json.loads(browser.decrypt(request.body)) == {
        "title": "Journal",
        "body": "You have a new check-in",
        "url": LINK,
    }


def test_push_payload_carries_the_title_in_the_recipients_language_when_the_outbox_gives_one(
    push_service, push_channel
):
    browser = Browser()
    message = replace(push_reminder(browser, f"{push_service.origin}/push/abc"), title="Diario")

    push_channel.send(message)

    assert json.loads(browser.decrypt(push_service.next_request().body))["title"] == "Diario"


def test_push_request_is_signed_with_vapid_for_the_push_service_origin(push_service, push_channel, vapid):
    push_channel.send(push_reminder(Browser(), f"{push_service.origin}/push/abc"))

    request = push_service.next_request()
    scheme, _, params = request.headers["Authorization"].partition(" ")
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    assert scheme == "vapid"
    assert values["k"] == vapid[1] == push_channel.application_server_key
    claims = vapid_jwt.decode(values["t"], values["k"])  # verifies the ES256 signature with k
    assert claims["aud"] == push_service.origin
    assert claims["sub"] == VAPID_SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_push_request_carries_ttl_urgency_and_aes128gcm_encoding(push_service, push_channel):
    push_channel.send(push_reminder(Browser(), f"{push_service.origin}/push/abc"))

    headers = push_service.next_request().headers
    assert headers["TTL"] == str(12 * 3600)
    assert headers["Urgency"] == "normal"
    assert headers["Content-Encoding"] == "aes128gcm"


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (410, True), (429, False), (500, False)])
def test_push_service_answer_decides_whether_a_retry_can_help(push_service, push_channel, status, permanent):
    push_service.status = status

    with pytest.raises(DeliveryError) as failure:
        push_channel.send(push_reminder(Browser(), f"{push_service.origin}/push/gone"))
    assert failure.value.permanent is permanent
    assert str(status) in str(failure.value)


def test_push_service_that_is_down_is_a_temporary_failure_named_without_the_device_path(push_channel):
    with pytest.raises(DeliveryError) as failure:
        push_channel.send(push_reminder(Browser(), f"http://127.0.0.1:{free_port()}/push/device-secret"))
    assert failure.value.permanent is False
    assert "device-secret" not in str(failure.value)


def test_push_to_a_plain_http_endpoint_is_refused_without_sending(push_service, vapid):
    channel = WebPushChannel(vapid[0], VAPID_SUBJECT, timeout=5)

    with pytest.raises(DeliveryError) as failure:
        channel.send(push_reminder(Browser(), f"{push_service.origin}/push/abc"))
    assert failure.value.permanent is True
    assert push_service.requests.empty()


def test_push_to_an_unlisted_host_is_refused_for_good_without_connecting(push_service, vapid):
    # 127.0.0.1 as http is allowed here, but the host is not among the push services.
    endpoints = PushEndpoints(private_allowed=("127.0.0.1",), require_https=False)
    channel = WebPushChannel(vapid[0], VAPID_SUBJECT, timeout=5, endpoints=endpoints)

    with pytest.raises(DeliveryError) as failure:
        channel.send(push_reminder(Browser(), f"{push_service.origin}/push/device-secret"))
    assert failure.value.permanent is True
    assert "127.0.0.1 is not a known push service" in str(failure.value)
    assert "device-secret" not in str(failure.value)
    assert push_service.requests.empty()


def test_push_to_a_listed_host_on_a_private_address_is_refused_for_good_without_connecting(push_service, vapid):
    # The host is a push service, but nothing lets the channel reach a loopback address.
    endpoints = PushEndpoints(hosts=("127.0.0.1",), require_https=False)
    channel = WebPushChannel(vapid[0], VAPID_SUBJECT, timeout=5, endpoints=endpoints)

    with pytest.raises(DeliveryError) as failure:
        channel.send(push_reminder(Browser(), f"{push_service.origin}/push/abc"))
    assert failure.value.permanent is True
    assert "non-public address (127.0.0.1)" in str(failure.value)
    assert push_service.requests.empty()


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.5"], ["142.250.74.106", "169.254.169.254"], ["::1"], ["::ffff:192.168.1.9"], ["100.64.0.1"]],
)
def test_a_push_service_name_that_now_resolves_to_a_non_public_address_is_refused(push_dns, vapid, addresses):
    push_dns["fcm.googleapis.com"] = addresses
    channel = WebPushChannel(vapid[0], VAPID_SUBJECT, timeout=5)

    with pytest.raises(DeliveryError) as failure:
        channel.send(push_reminder(Browser(), "https://fcm.googleapis.com/fcm/send/device-secret"))
    assert failure.value.permanent is True
    assert "fcm.googleapis.com resolves to a non-public address" in str(failure.value)


def test_a_push_service_name_that_does_not_resolve_now_is_tried_again_later(push_dns, vapid):
    del push_dns["fcm.googleapis.com"]
    channel = WebPushChannel(vapid[0], VAPID_SUBJECT, timeout=5)

    with pytest.raises(DeliveryError) as failure:
        channel.send(push_reminder(Browser(), "https://fcm.googleapis.com/fcm/send/device-secret"))
    assert failure.value.permanent is False
    assert "device-secret" not in str(failure.value)


def test_a_push_service_redirect_is_not_followed(push_service, push_channel):
    with running_push_service() as elsewhere:
        push_service.status = 307
        push_service.location = f"{elsewhere.origin}/internal"

        with pytest.raises(DeliveryError) as failure:
            push_channel.send(push_reminder(Browser(), f"{push_service.origin}/push/abc"))
        assert "307" in str(failure.value)
        assert push_service.next_request().path == "/push/abc"
        assert elsewhere.requests.empty()


@pytest.mark.parametrize(
    "subscription",
    [
        "not json",
        '["https://fcm.googleapis.com/abc"]',
        '{"endpoint": "https://fcm.googleapis.com/abc"}',
        '{"endpoint": "https://fcm.googleapis.com/abc", "keys": {"p256dh": "AAAA"}}',
        '{"endpoint": "https://fcm.googleapis.com/abc", "keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}',
    ],
)
def test_push_to_a_malformed_subscription_is_a_permanent_failure(push_channel, subscription):
    with pytest.raises(DeliveryError) as failure:
        push_channel.send(replace(REMINDER, to=subscription))
    assert failure.value.permanent is True


def test_vapid_keys_give_a_private_key_string_and_the_browsers_application_server_key(vapid):
    private, public = vapid

    assert len(base64.urlsafe_b64decode(private + "=" * (-len(private) % 4))) == 32
    point = base64.urlsafe_b64decode(public + "=" * (-len(public) % 4))
    assert len(point) == 65 and point[0] == 4  # uncompressed P-256 point, as pushManager.subscribe wants
    assert vapid_public_key(private) == public
    assert vapid_keys()[0] != private


def test_web_push_channel_refuses_a_bad_key_or_subject_at_start_up(vapid):
    with pytest.raises(ValueError, match="VAPID private key"):
        WebPushChannel("-----BEGIN PRIVATE KEY-----", VAPID_SUBJECT)
    with pytest.raises(ValueError, match="subject"):
        WebPushChannel(vapid[0], "ops@clinic.test")


# --- Log channel -------------------------------------------------------------------------------------------


def test_log_channel_logs_one_line_with_id_recipient_and_subject_but_no_text(caplog):
    caplog.set_level(logging.INFO, logger="journal.outbox")

    LogChannel().send(REMINDER)

    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert "42" in line and "pat@patient.test" in line and SUBJECT in line
    assert TEXT not in line and LINK not in line


def test_log_channel_names_only_the_push_service_of_a_subscription(caplog):
    caplog.set_level(logging.INFO, logger="journal.outbox")
    browser = Browser()

    LogChannel().send(push_reminder(browser, "https://fcm.googleapis.com/fcm/send/secret-id"))

    line = caplog.records[0].getMessage()
    assert "https://fcm.googleapis.com" in line
    assert "secret-id" not in line and b64url(browser.auth_secret) not in line
