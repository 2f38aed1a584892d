"""The outbox: every outgoing message is a row first, then delivered by the scheduler exactly once.

Delivery claims each message with a conditional UPDATE (the Healthchecks pattern): of any number of
scheduler processes, exactly one sees its UPDATE change the row, and only that one sends. A claim that was
never finished (the process died) is taken over after ``LEASE``. Failures are retried with exponential
backoff; permanent refusals and exhausted retries end as ``failed``, which admins see.

A message to a patient goes in their language (``Patient.language``) as it is when the message is sent, not when
it was queued: the text is rendered at each attempt, so a patient who switches language gets the next message,
and any retry, in the new one. An invitation thus goes in the language given at enrolment (or as the care team
corrected it since), and a password reset in the account's stored language, never that of whoever asked for it
(who may not be the account's owner). Staff get English.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .channels import DeliveryError, OutgoingMessage
from .messages import SMS_REPLIES, alert_template, push_title, render, render_sms
from .models import Alert, Clinic, OutboxMessage, OutboxStatus, Patient, PushSubscription, SmsConsent, User
from .sealing import InvalidToken, seal, unseal

log = logging.getLogger("journal.outbox")

LEASE = timedelta(minutes=5)  # longer than any channel's own timeout, so a live claim is never taken over
MAX_ATTEMPTS = 8
BATCH = 200


def insert_ignoring_duplicates(session: Session, rows: list[dict], model=OutboxMessage) -> int:
    """Insert rows whose ``dedup_key`` is new; skip the others. Returns how many were inserted."""
    if not rows:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(model).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(model.id)
    return len(session.scalars(statement, rows).all())


def queue(session: Session, now: datetime, **values) -> None:
    """Queue one message (idempotent by its ``dedup_key``)."""
    insert_ignoring_duplicates(session, [{"next_attempt_at": now, "created_at": now, **values}])


def queue_alert_notifications(session: Session, now: datetime, alerts: Iterable[Alert], team: list[tuple]) -> None:
    """A content-free e-mail about each alert to each of its recipients in ``team`` ((patient id, clinician id,
    e-mail) rows: the care team, or the on-call clinician alone for a routed alert). The template says how
    urgent in neutral words, chosen by the alert's priority now (PRIV-R4)."""
    rows = []
    for alert in alerts:
        for patient_id, clinician_id, email in team:
            if patient_id == alert.patient_id:
                rows.append(
                    {
                        "dedup_key": f"alert:{alert.id}:{clinician_id}:email",
                        "recipient_id": clinician_id,
                        "channel": "email",
                        "address": email,
                        "template": alert_template(alert.severity),
                        "link_path": "/clinician/alerts",
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
    insert_ignoring_duplicates(session, rows)


# The purpose under which secret links are sealed (journal/sealing.py): only the outbox reads them back.
LINK_PURPOSE = "outbox-link"
# Messages whose link is itself a secret (a single-use token): the link is kept sealed until it is sent, and
# the row's ``link_path`` names only the page, e.g. "/invite".
SEALED_TEMPLATES = {"invitation": "/invite", "password_reset": "/password-reset"}


def queue_invitation(
    session: Session, now: datetime, user, invitation_id: int, invitation_path: str, expires_at: datetime | None = None
) -> None:
    """The e-mail carrying an invitation link; the link (``/invite/<token>``) is stored sealed, never in clear."""
    queue(
        session,
        now,
        dedup_key=f"invitation:{invitation_id}:email",
        recipient_id=user.id,
        channel="email",
        address=user.email,
        template="invitation",
        link_path=SEALED_TEMPLATES["invitation"],
        sealed_link=seal(invitation_path, LINK_PURPOSE),
        expires_at=expires_at,  # a link that no longer works is not worth sending
    )


def password_reset_rows(now: datetime, reset_path: str, expires_at: datetime, nonce: str) -> dict:
    """The values of a password-reset e-mail but for its recipient (see ``accounts.request_password_reset``,
    which inserts it only for an account that may have one). The link is sealed; ``nonce`` keeps its key unique."""
    return {
        "dedup_key": f"password-reset:{nonce}:email",
        "channel": "email",
        "template": "password_reset",
        "link_path": SEALED_TEMPLATES["password_reset"],
        "sealed_link": seal(reset_path, LINK_PURPOSE),
        "status": OutboxStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": now,
        "expires_at": expires_at,
        "created_at": now,
    }


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes after each failed attempt, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), timedelta(hours=6))


def open_token(secret_key: str, message_id: int) -> str:
    """The token in a message's link that records it was opened. Derived, so every retry carries the same."""
    return hmac.new(secret_key.encode(), f"outbox-open:{message_id}".encode(), hashlib.sha256).hexdigest()[:40]


def open_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_due(
    session: Session,
    now: datetime,
    channels: dict[str, object],
    *,
    base_url: str,
    secret_key: str,
    batch: int = BATCH,
    sms_sender: str = "Journal",
) -> DeliveryReport:
    """Deliver every message due at ``now``. One failure never stops the others. ``sms_sender`` is the name
    text messages start with."""
    report = DeliveryReport()
    report.expired = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.expires_at <= now,
            # also a claim abandoned by a run that died: taking it over now would send a day that is over
            or_(
                OutboxMessage.status == OutboxStatus.QUEUED,
                and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at <= now - LEASE),
            ),
        )
        .values(status=OutboxStatus.EXPIRED, sealed_link=None)
    ).rowcount
    session.commit()
    due = _due(now)
    for message_id in session.scalars(
        select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(batch)
    ).all():
        token = secrets.token_hex(8)
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, due)
            .values(
                status=OutboxStatus.SENDING,
                claimed_at=now,
                claim_token=token,
                attempts=OutboxMessage.attempts + 1,
            )
        ).rowcount
        session.commit()
        if claimed != 1:
            continue  # another scheduler claimed it first
        message = session.get(OutboxMessage, message_id)
        try:
            outgoing = _outgoing(session, message, base_url, secret_key, sms_sender)
            provider_sid = channels[message.channel].send(outgoing)
        except DeliveryError as error:
            _record_failure(session, message, token, now, error, report)
        except Exception as error:  # a bug in one message must not stop the loop
            log.error("outbox message %s could not be delivered", message_id, exc_info=error)
            _record_failure(session, message, token, now, DeliveryError(type(error).__name__), report)
        else:
            # A sealed link holds a secret token: it is kept no longer than it is needed. A text message's
            # provider id is what its delivery-status callbacks name (journal/sms.py).
            _finish(
                session,
                message_id,
                token,
                status=OutboxStatus.SENT,
                sent_at=now,
                last_error=None,
                sealed_link=None,
                provider_sid=provider_sid or None,
                provider_status=None,
            )
            report.sent += 1
    return report


def _due(now: datetime):
    return or_(
        and_(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now),
        # A claim older than the lease belongs to a run that died mid-delivery.
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at <= now - LEASE),
    )


def _finish(session: Session, message_id: int, token: str, **values) -> None:
    # Only the claim's owner may finish it: if a lease was taken over, the later run's result stands.
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token).values(**values)
    )
    session.commit()


def _record_failure(session, message: OutboxMessage, token: str, now: datetime, error, report) -> None:
    permanent = getattr(error, "permanent", False)
    if permanent and message.channel == "webpush":
        session.execute(PushSubscription.__table__.delete().where(PushSubscription.id == int(message.address)))
    if permanent or message.attempts >= MAX_ATTEMPTS:
        _finish(session, message.id, token, status=OutboxStatus.FAILED, last_error=str(error)[:500], sealed_link=None)
        report.failed += 1
    else:
        _finish(
            session,
            message.id,
            token,
            status=OutboxStatus.QUEUED,
            next_attempt_at=now + backoff(message.attempts),
            last_error=str(error)[:500],
        )
        report.retried += 1
    report.errors.append(f"message {message.id}: {error}")
    log.warning("outbox message %s not delivered (attempt %s): %s", message.id, message.attempts, error)


def _outgoing(
    session: Session, message: OutboxMessage, base_url: str, secret_key: str, sms_sender: str = "Journal"
) -> OutgoingMessage:
    token = open_token(secret_key, message.id)
    if message.open_token_hash is None:
        message.open_token_hash = open_token_hash(token)
        session.commit()
    # An invitation or reset links straight to its own single-use page (using it is its record of being
    # opened); everything else links through /m/<token>, which records the opening and leads into the app.
    link = base_url.rstrip("/") + (_secret_path(message) if message.template in SEALED_TEMPLATES else f"/m/{token}")
    language = recipient_language(session, message.recipient_id)
    if message.channel == "sms":
        return _text_message(session, message, link, sms_sender, language)
    subject, text = render(message.template, link=link, language=language)
    to, title = message.address, ""
    if message.channel == "webpush":
        subscription = session.get(PushSubscription, int(message.address))
        if subscription is None:
            raise DeliveryError("the device unsubscribed", permanent=True)
        to, title = _subscription_json(subscription), push_title(language)
    return OutgoingMessage(
        id=message.id, to=to, subject=subject, text=text, url=link, message_key=message.dedup_key, title=title
    )


def recipient_language(session: Session, user_id: int | None) -> str:
    """The language a message to this user goes in now: a patient's own, English for staff."""
    language = session.scalar(select(Patient.language).where(Patient.user_id == user_id)) if user_id else None
    return language or "en"


def _text_message(session: Session, message: OutboxMessage, link: str, sender: str, language: str) -> OutgoingMessage:
    """A text message as it goes now. A reminder goes only while the patient's consent for this very number is
    in force: a STOP that came after it was queued (or while it was being claimed) stops it here. The answers
    to the patient's own keywords and opt-in go regardless, as carriers require."""
    if message.template not in SMS_REPLIES:
        consented = session.scalar(
            select(SmsConsent.id).where(
                SmsConsent.patient_id == message.recipient_id,
                SmsConsent.phone == message.address,
                SmsConsent.withdrawn_at.is_(None),
            )
        )
        if consented is None:
            raise DeliveryError("texts to this number are stopped (no consent in force)", permanent=True)
    help_phone = ""
    if message.template == "sms_help":
        help_phone = (
            session.scalar(
                select(Clinic.clinic_phone)
                .join(User, User.clinic_id == Clinic.id)
                .where(User.id == message.recipient_id)
            )
            or ""
        )
    text = render_sms(message.template, sender=sender, link=link, help_phone=help_phone, language=language)
    return OutgoingMessage(
        id=message.id, to=message.address, subject=message.template, text=text, url=link, message_key=message.dedup_key
    )


def _secret_path(message: OutboxMessage) -> str:
    """The single-use path a sealed message carries, unsealed only now that the e-mail is being built."""
    if message.sealed_link is None:
        if message.link_path != SEALED_TEMPLATES[message.template]:
            return message.link_path  # queued before links were sealed: the path itself holds the token
        raise DeliveryError("the message's link is gone", permanent=True)
    try:
        return unseal(message.sealed_link, LINK_PURPOSE)
    except InvalidToken as error:  # sealed under an earlier SECRET_KEY: a new link must be issued
        raise DeliveryError("the message's link cannot be read with the current secret key", permanent=True) from error


def _subscription_json(subscription: PushSubscription) -> str:
    return json.dumps(
        {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
    )


def record_open(session: Session, token: str, now: datetime) -> OutboxMessage | None:
    """The message whose link this is; notes the first time it was opened."""
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.open_token_hash == open_token_hash(token)))
    if message is not None and message.opened_at is None:
        message.opened_at = now
        session.commit()
    return message
