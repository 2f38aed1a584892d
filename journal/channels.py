"""Delivery channels for the outbox: SMTP e-mail, Web Push and a log channel for development.

Every channel has one contract: ``send(message)`` returns None once the message is handed over, and raises
``DeliveryError`` otherwise, saying whether a retry could ever succeed. Channels know nothing of Flask or the
database; the outbox builds them from configuration and records what happened.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid, VapidException
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush

log = logging.getLogger("journal.outbox")


class DeliveryError(Exception):
    """A message was not delivered. ``permanent`` is True when retrying the same message can never help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingMessage:
    """One message as a channel sees it.

    ``to`` is an e-mail address, or for Web Push the browser's PushSubscription as JSON
    (``{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}``). ``subject`` and ``text`` must carry no
    health information (DESIGN.md, "Security and privacy"). ``message_key`` is the outbox's deduplication key.
    """

    id: int
    to: str
    subject: str
    text: str
    url: str
    message_key: str


# --- E-mail ------------------------------------------------------------------------------------------------

_SMTP_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class SmtpChannel:
    """Sends plain-text e-mail through an SMTP server, one connection per message.

    ``url`` is ``smtp://host:port`` (no encryption: for a relay on the same machine or network),
    ``smtp+starttls://user:pass@host:587`` or ``smtps://user:pass@host:465``; credentials are percent-decoded.
    ``mail_from`` is a From header such as ``Journal <no-reply@example.org>``.
    """

    def __init__(self, url: str, mail_from: str, *, timeout: float = 20.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _SMTP_DEFAULT_PORTS or not parts.hostname:
            raise ValueError("SMTP URL must look like smtp://host:port, smtp+starttls://... or smtps://...")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or _SMTP_DEFAULT_PORTS[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password or "") if parts.username else None
        _, address = parseaddr(mail_from)
        if "@" not in address:
            raise ValueError(f"mail_from needs an address with a domain: {mail_from!r}")
        self.mail_from = mail_from
        self.domain = address.rpartition("@")[2]
        self.timeout = timeout

    def message_id(self, message_key: str) -> str:
        """The same outbox key always gives the same Message-ID, so a re-send after a crash is recognisably
        the same message (and mail clients can thread or drop the duplicate)."""
        digest = hashlib.sha256(message_key.encode()).hexdigest()[:32]
        return f"<{digest}@{self.domain}>"

    def build(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.mail_from
        email["To"] = message.to
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = self.message_id(message.message_key)
        # RFC 3834: tells vacation responders and ticket systems not to answer.
        email["Auto-Submitted"] = "auto-generated"
        body = message.text if message.url in message.text else f"{message.text}\n\n{message.url}"
        email.set_content(body + "\n", charset="utf-8")
        return email

    def send(self, message: OutgoingMessage) -> None:
        try:
            email = self.build(message)
        except ValueError as error:  # e.g. a line break in an address: it will never become valid
            raise DeliveryError(f"cannot build the e-mail: {error}", permanent=True) from error
        try:
            smtp = self._connect()
            try:
                if self.scheme == "smtp+starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
            finally:
                _quit(smtp)
        except smtplib.SMTPRecipientsRefused as error:
            replies = list(error.recipients.values())
            permanent = all(code >= 500 for code, _ in replies)
            raise DeliveryError(f"recipient refused: {_replies(replies)}", permanent=permanent) from error
        except smtplib.SMTPDataError as error:
            # 5xx at DATA refuses this very content (size, policy); re-sending it cannot change the answer.
            reply = _replies([(error.smtp_code, error.smtp_error)])
            raise DeliveryError(f"message refused: {reply}", permanent=error.smtp_code >= 500) from error
        except OSError as error:  # smtplib.SMTPException is an OSError, as are timeouts and TLS errors
            # Connection, TLS, authentication and sender errors are about the server or our configuration,
            # not this message: once fixed, the message can still go.
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {error!r}", permanent=False) from error

    def _connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


def _quit(smtp: smtplib.SMTP) -> None:
    # Not `with smtplib.SMTP(...)`: its QUIT can raise after the message was accepted, and a message the
    # server accepted must never be reported as failed (it would be sent again).
    try:
        smtp.quit()
    except OSError:
        smtp.close()


def _replies(replies: list[tuple[int, bytes | str]]) -> str:
    return "; ".join(
        f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}" for code, text in replies
    )


# --- Web Push ----------------------------------------------------------------------------------------------


def vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key for ``JOURNAL_VAPID_PRIVATE_KEY``, application server key).

    The private key is the raw 32-byte P-256 scalar, base64url without padding (one line, fits an environment
    variable; ``py_vapid.Vapid.from_string`` reads it). The second string is the public key as the browser
    wants it for ``pushManager.subscribe({applicationServerKey})``; ``vapid_public_key`` derives it again.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64urlencode(key.private_numbers().private_value.to_bytes(32, "big"))
    return private, vapid_public_key(private)


def vapid_public_key(private_key: str) -> str:
    """The application server key (base64url, uncompressed P-256 point) for a VAPID private key string."""
    return _application_server_key(_load_vapid(private_key))


def _application_server_key(vapid: Vapid) -> str:
    point = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64urlencode(point)


def _load_vapid(private_key: str) -> Vapid:
    try:
        return Vapid.from_string(private_key.strip())
    except (ValueError, TypeError) as error:
        raise ValueError("VAPID private key must be the base64url string `flask --app wsgi vapid` prints") from error


class WebPushChannel:
    """Sends an encrypted (aes128gcm) Web Push message, signed with VAPID, to a browser's push service.

    ``private_key`` is the base64url string from ``vapid_keys()``; ``subject`` is a ``mailto:`` or ``https:``
    contact the push service can use. Endpoints must be https (every browser's push service is), unless
    ``require_https=False`` (tests): the endpoint comes from a browser, and a forged one must not turn the
    scheduler into a client for arbitrary plain-HTTP addresses.
    """

    title = "Journal"

    def __init__(
        self,
        private_key: str,
        subject: str,
        *,
        ttl: int = 12 * 3600,
        timeout: float = 20.0,
        require_https: bool = True,
    ) -> None:
        self._vapid = _load_vapid(private_key)
        try:
            # Fail at start-up, not on every send, when py_vapid would refuse the subject.
            self._vapid.sign({"sub": subject, "aud": "https://push.invalid"})
        except VapidException as error:
            raise ValueError(f"VAPID subject must be a mailto: or https: URL, not {subject!r}") from error
        self.subject = subject
        self.ttl = ttl
        self.timeout = timeout
        self.require_https = require_https

    @property
    def application_server_key(self) -> str:
        """The public key browsers subscribe with (``pushManager.subscribe({applicationServerKey})``)."""
        return _application_server_key(self._vapid)

    def send(self, message: OutgoingMessage) -> None:
        subscription = self._subscription(message.to)
        payload = json.dumps({"title": self.title, "body": message.text, "url": message.url})
        try:
            webpush(
                subscription,
                data=payload,
                vapid_private_key=self._vapid,
                vapid_claims={"sub": self.subject},  # a fresh dict: webpush() writes aud and exp into it
                content_encoding="aes128gcm",
                ttl=self.ttl,
                headers={"Urgency": "normal"},
                timeout=self.timeout,
            )
        except WebPushException as error:
            status = error.status_code
            if status is None:  # refused before sending: the stored subscription is malformed
                raise DeliveryError(f"bad push subscription: {error.message}", permanent=True) from error
            # 404/410: the browser unsubscribed or the subscription expired; it will never come back.
            raise DeliveryError(f"push service answered {status}", permanent=status in (404, 410)) from error
        except requests.RequestException as error:
            # Only the origin: the endpoint's path identifies the subscriber's device, and errors get logged.
            parts = urlsplit(subscription["endpoint"])
            reason = f"push service {parts.scheme}://{parts.netloc} unreachable: {type(error).__name__}"
            raise DeliveryError(reason, permanent=False) from error
        except (ValueError, TypeError) as error:  # keys that are not base64 or not a P-256 point
            raise DeliveryError(f"bad push subscription keys: {error}", permanent=True) from error

    def _subscription(self, to: str) -> dict:
        try:
            subscription = json.loads(to)
            endpoint = subscription["endpoint"]
            keys = subscription["keys"]
            parts = urlsplit(endpoint)
            valid = isinstance(keys, dict) and {"p256dh", "auth"} <= keys.keys()
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise DeliveryError("push subscription is not {endpoint, keys: {p256dh, auth}}", permanent=True) from error
        if not valid:
            raise DeliveryError("push subscription lacks keys p256dh and auth", permanent=True)
        if not parts.netloc or (parts.scheme != "https" and (self.require_https or parts.scheme != "http")):
            raise DeliveryError("push endpoint must be an https URL", permanent=True)
        return subscription


# --- Development -------------------------------------------------------------------------------------------


class LogChannel:
    """Logs one line per message instead of sending it: for local development.

    The line names the message, the recipient and the neutral subject; never the text, and for a push
    subscription only the push service's origin, since the rest of it is a secret capability.
    """

    def send(self, message: OutgoingMessage) -> None:
        log.info("outbox message %s to %s: %s", message.id, _recipient(message.to), message.subject)


def _recipient(to: str) -> str:
    if not to.lstrip().startswith("{"):
        return to
    try:
        parts = urlsplit(json.loads(to)["endpoint"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return "a malformed push subscription"
    return f"push subscription at {parts.scheme}://{parts.netloc}"
