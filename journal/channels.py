"""Delivery channels for the outbox: SMTP e-mail, Web Push, text messages (Twilio) and log channels for
development.

Every channel has one contract: ``send(message)`` returns once the message is handed over, and raises
``DeliveryError`` otherwise, saying whether a retry could ever succeed. It returns None, or for a text message
the provider's id for it (which its delivery-status callbacks name). Channels know nothing of Flask or the
database; the outbox builds them from configuration and records what happened.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
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

    ``to`` is an e-mail address, for Web Push the browser's PushSubscription as JSON
    (``{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}``), for a text message an E.164 number.
    ``subject`` and ``text`` must carry no health information (DESIGN.md, "Security and privacy").
    ``message_key`` is the outbox's deduplication key. ``title`` is a Web Push notification's title in the
    recipient's language (the channel's own when empty).
    """

    id: int
    to: str
    subject: str
    text: str
    url: str
    message_key: str
    title: str = ""


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


# The browsers' push services. An endpoint comes from a browser, and a forged one must not turn the web app or
# the scheduler into a client of any other address (an internal service, the cloud's metadata address).
DEFAULT_PUSH_SERVICE_HOSTS: tuple[str, ...] = (
    "fcm.googleapis.com",  # Chrome and the browsers built on Chromium (Brave, Opera, Samsung Internet)
    "updates.push.services.mozilla.com",  # Firefox (Mozilla autopush)
    "web.push.apple.com",  # Safari on macOS and iOS
    "*.push.apple.com",
    "*.notify.windows.com",  # Edge on Windows (WNS)
)


class PushEndpointRefused(ValueError):
    """A push endpoint the journal will not send to; the message says why, naming the host only (the rest of
    an endpoint identifies the device and is a secret capability)."""


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to. Tests replace this function: they never resolve a real name."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def _reachable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A public unicast address: not loopback, private, link-local, multicast, reserved, shared (CGNAT) or
    unspecified. An IPv6 address that carries an IPv4 one (::ffff:10.0.0.5) is judged by that."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class PushEndpoints:
    """Which push endpoints the journal sends to: https on one of ``hosts`` (``*.example.com`` matches any name
    under example.com), resolving only to public addresses. ``private_allowed`` lists addresses or networks
    that may be reached all the same (a push service run on the clinic's own network; tests' 127.0.0.1).
    ``resolve`` is ``resolve_addresses`` unless given. Checked when a subscription is saved and again before
    every send, since what a name resolves to can change in between."""

    hosts: tuple[str, ...] = DEFAULT_PUSH_SERVICE_HOSTS
    private_allowed: tuple[str, ...] = ()
    require_https: bool = True
    resolve: Callable[[str, int], list[str]] | None = None

    @classmethod
    def from_config(cls, config: Mapping) -> PushEndpoints:
        return cls(
            hosts=_names(config.get("PUSH_SERVICE_HOSTS", DEFAULT_PUSH_SERVICE_HOSTS)),
            private_allowed=_names(config.get("PUSH_PRIVATE_ADDRESSES_ALLOWED", ())),
            require_https=bool(config.get("PUSH_REQUIRE_HTTPS", True)),
        )

    def refusal(self, endpoint: str) -> str | None:
        """Why ``endpoint`` is refused by its scheme or host alone, or None."""
        try:
            parts = urlsplit(endpoint)
            host = (parts.hostname or "").rstrip(".").lower()
            _port = parts.port  # a port that is not a number raises here, not in the resolver
        except ValueError:
            return "push endpoint is not a URL"
        if parts.scheme != "https" and (self.require_https or parts.scheme != "http"):
            return "push endpoint must be an https URL"
        if not host or not any(_host_matches(host, pattern) for pattern in self.hosts):
            return f"push endpoint host {host or '(none)'} is not a known push service"
        return None

    def address_refusal(self, endpoint: str) -> str | None:
        """Why ``endpoint`` is refused by what its host resolves to, or None. Raises OSError when the name
        cannot be resolved now (which may pass)."""
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        resolve = self.resolve or resolve_addresses
        allowed = [ipaddress.ip_network(item, strict=False) for item in self.private_allowed]
        addresses = resolve(host, port)
        if not addresses:
            raise OSError(f"{host} has no address")
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not public
            if not _reachable(address) and not any(address in network for network in allowed):
                return f"push endpoint host {host} resolves to a non-public address ({address})"
        return None


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    # From the environment as JSON (a list) or as a comma-separated string.
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip().lower() for item in items if item.strip())


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


class _NoRedirects(requests.Session):
    """A push service answers a push with 201; a redirect would send the scheduler to an address nobody
    checked, so it is not followed (and counts as a failed attempt)."""

    def post(self, url, **kwargs):
        kwargs["allow_redirects"] = False
        return super().post(url, **kwargs)


class WebPushChannel:
    """Sends an encrypted (aes128gcm) Web Push message, signed with VAPID, to a browser's push service.

    ``private_key`` is the base64url string from ``vapid_keys()``; ``subject`` is a ``mailto:`` or ``https:``
    contact the push service can use. ``endpoints`` says which push services it may reach (by default the
    browsers' own, over https, on public addresses); an endpoint outside them is a permanent failure before
    any connection is made.
    """

    title = "Journal"

    def __init__(
        self,
        private_key: str,
        subject: str,
        *,
        ttl: int = 12 * 3600,
        timeout: float = 20.0,
        endpoints: PushEndpoints | None = None,
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
        self.endpoints = endpoints or PushEndpoints()

    @property
    def application_server_key(self) -> str:
        """The public key browsers subscribe with (``pushManager.subscribe({applicationServerKey})``)."""
        return _application_server_key(self._vapid)

    def send(self, message: OutgoingMessage) -> None:
        subscription = self._subscription(message.to)
        self._check_endpoint(subscription["endpoint"])
        payload = json.dumps({"title": message.title or self.title, "body": message.text, "url": message.url})
        try:
            with _NoRedirects() as session:
                webpush(
                    subscription,
                    data=payload,
                    vapid_private_key=self._vapid,
                    vapid_claims={"sub": self.subject},  # a fresh dict: webpush() writes aud and exp into it
                    content_encoding="aes128gcm",
                    ttl=self.ttl,
                    headers={"Urgency": "normal"},
                    timeout=self.timeout,
                    requests_session=session,
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
        if not isinstance(endpoint, str) or not parts.netloc:
            raise DeliveryError("push endpoint must be an https URL", permanent=True)
        return subscription

    def _check_endpoint(self, endpoint: str) -> None:
        """Refuse, before any connection, an endpoint outside the allowed push services: permanently for its
        host or address, for now when its name does not resolve (the next attempt checks again)."""
        if problem := self.endpoints.refusal(endpoint):
            raise DeliveryError(problem, permanent=True)
        try:
            problem = self.endpoints.address_refusal(endpoint)
        except OSError as error:
            host = urlsplit(endpoint).hostname
            raise DeliveryError(f"push service {host} not resolved: {type(error).__name__}") from error
        if problem:
            raise DeliveryError(problem, permanent=True)


# --- Text messages -----------------------------------------------------------------------------------------


class TwilioChannel:
    """Sends a text message through Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

    ``sender`` is the number texts come from (E.164) or a Messaging Service SID (``MG...``), which then picks
    the number. ``api_base`` is Twilio's (tests point it at a local stand-in). ``status_callback`` is the URL
    Twilio reports delivery to (``/sms/status``). ``send`` returns Twilio's id for the message.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        *,
        api_base: str = "https://api.twilio.com",
        status_callback: str | None = None,
        timeout: float = 20.0,
    ) -> None:
        if not account_sid or not auth_token or not sender:
            raise ValueError("Twilio needs an account SID, an auth token and a sender number or MG... service SID")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.status_callback = status_callback
        self.timeout = timeout

    def form(self, message: OutgoingMessage) -> dict[str, str]:
        form = {"To": message.to, "Body": message.text}
        form["MessagingServiceSid" if self.sender.startswith("MG") else "From"] = self.sender
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        return form

    def send(self, message: OutgoingMessage) -> str:
        try:
            response = requests.post(
                self.url,
                data=self.form(message),
                auth=(self.account_sid, self.auth_token),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:  # timeouts, refused connections, TLS: try again later
            raise DeliveryError(f"Twilio unreachable: {type(error).__name__}", permanent=False) from error
        status = response.status_code
        if 200 <= status < 300:
            sid = _json(response).get("sid")
            if not isinstance(sid, str) or not sid:
                # Accepted, so it may well go out: never report it failed (it would be sent again).
                log.warning("outbox message %s: Twilio answered %s without a message sid", message.id, status)
                return ""
            return sid
        # Only Twilio's error code: its message text can quote the number.
        code = _json(response).get("code")
        reason = f"Twilio answered {status}" + (f" (error {code})" if code else "")
        # A 4xx refuses this message (a number that cannot receive texts, one that replied STOP: 21610) and will
        # refuse it again, except 429 (too many requests) and 401 (our credentials: once they are fixed, the
        # message can still go, as for SMTP). A 5xx or a timeout is Twilio's trouble: retried with backoff.
        permanent = 400 <= status < 500 and status not in (401, 429)
        raise DeliveryError(reason, permanent=permanent)


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --- Development -------------------------------------------------------------------------------------------


class LogSmsChannel:
    """Logs one line per text message instead of sending it: for local development. Never the text, and only
    the last two digits of the number."""

    def send(self, message: OutgoingMessage) -> None:
        log.info("outbox text message %s to a number ending %s: %s", message.id, message.to[-2:], message.subject)


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
