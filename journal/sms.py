"""Text messages: the patient's consent, the keywords they reply with, and the provider's delivery reports.

A text goes only to a number its patient agreed to, in words the journal keeps (``SmsConsent``). Replies follow
the carriers' rules (CTIA): STOP and its synonyms end every text at once and are confirmed once; START and UNSTOP
resume; HELP answers with who sends and how to reach them. Any other reply is ignored and its words are never
stored: a patient may text anything, and a reply is not a channel for health information.

A number identifies the patients whose stored phone it is (E.164, journal/people.py). Should two patients share
one (a couple, a parent and child), STOP withdraws every one of their consents (stopping too much is safe,
texting someone who said STOP is not), one confirmation goes to the number, START resumes each of them who had
agreed before, and HELP (which says nothing about anyone) is answered once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from .db import commit_retrying_on_conflict
from .i18n import LANGUAGES
from .messages import SMS_CONSENT_WORDS, sms_consent_words
from .models import OutboxMessage, OutboxStatus, Patient, ReminderSettings, Role, SmsConsent, User
from .outbox import MAX_ATTEMPTS, backoff, queue
from .people import display_phone
from .wording import N_, catalogue

log = logging.getLogger("journal.sms")

# Whole message, case and spaces ignored ("opt out", " Stop ").
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP"})
# The texts name STOP, START and HELP in every language, the keywords carriers and Twilio's own opt-out handling
# act on. AYUDA is answered as HELP too: a Spanish-speaking patient may well ask for help in Spanish.
HELP_WORDS = frozenset({"HELP", "AYUDA"})

NO_PHONE = N_("Add your mobile number first (Contact details), then agree to texts.")
NOT_AGREED = N_("Agree to the words shown to turn on texts.")
REPLY_LIFETIME = timedelta(days=1)  # an answer to a keyword or an opt-in is worth sending for a day at most
START_WORDS_STORED = N_("Replied {keyword} by text message from {number} to resume texts.")


class ConsentError(ValueError):
    """Consent cannot be given: ``field`` names what to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def keyword(body: str | None) -> str | None:
    """STOP, START or HELP when the whole message is one of their words, else None."""
    word = "".join((body or "").split()).upper()
    for name, words in (("STOP", STOP_WORDS), ("START", START_WORDS), ("HELP", HELP_WORDS)):
        if word in words:
            return name
    return None


def e164(number: str | None) -> str | None:
    """A number as the provider sends it (``+15555550123``) in E.164, as phones are stored; None if it is not."""
    try:
        parsed = phonenumbers.parse(number or "", None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# --- Consent -----------------------------------------------------------------------------------------------


def consent_in_force(session: Session, patient_id: int) -> SmsConsent | None:
    return session.scalar(
        select(SmsConsent).where(SmsConsent.patient_id == patient_id, SmsConsent.withdrawn_at.is_(None))
    )


def consented_number(session: Session, user: User) -> str | None:
    """The number texts may go to: the patient's phone, if their consent in force names it."""
    consent = consent_in_force(session, user.id)
    phone = user.patient.phone if user.patient else None
    return phone if consent is not None and phone and consent.phone == phone else None


def words_for(user: User, sender: str) -> str | None:
    """The words the patient is shown and agrees to, in their language (the page's, and the API's for them);
    None without a phone number."""
    patient = user.patient
    if patient is None or not patient.phone:
        return None
    return sms_consent_words(sender, display_phone(patient.phone, user.timezone), patient.language)


def words_language(words: str) -> str | None:
    """The language stored consent words are in: they were written from one of the catalogue's wordings (the
    opt-in's, or START's), whose fixed parts they match; None for words no current wording matches."""
    for language in LANGUAGES:
        gettext = catalogue(language).gettext
        for wording in (SMS_CONSENT_WORDS, START_WORDS_STORED):
            fixed = [re.escape(part) for part in re.split(r"\{\w+\}", gettext(wording))]
            if re.fullmatch(".+".join(fixed), words, re.DOTALL):
                return language
    return None


def agree(session: Session, user: User, now: datetime, *, sender: str, via: str) -> tuple[SmsConsent, bool]:
    """``give_consent``, committed (run again once if a simultaneous opt-in won the race), for the page and the
    API alike. On ``ConsentError`` nothing is kept, and the error is raised for the caller to show."""
    try:
        return commit_retrying_on_conflict(session, lambda: give_consent(session, user, now, sender=sender, via=via))
    except ConsentError:
        session.rollback()
        raise


def give_consent(session: Session, user: User, now: datetime, *, sender: str, via: str) -> tuple[SmsConsent, bool]:
    """Record the patient's consent to texts at their phone number and queue the confirmation text. Returns the
    consent and whether it is new (agreeing again to the same number changes nothing and sends nothing)."""
    words = words_for(user, sender)
    if words is None:
        raise ConsentError("phone", NO_PHONE)
    phone = user.patient.phone
    current = consent_in_force(session, user.id)
    if current is not None and current.phone == phone:
        return current, False
    if current is not None:  # agreed for an earlier number: that consent ends, this one begins
        current.withdrawn_at, current.withdrawn_via = now, "number changed"
        session.flush()
    consent = SmsConsent(patient_id=user.id, phone=phone, words=words, given_at=now, given_via=via)
    session.add(consent)
    session.flush()
    _queue_reply(session, now, f"sms-consent:{consent.id}", user.id, phone, "sms_confirm")
    return consent, True


def withdraw(session: Session, patient_ids: list[int], now: datetime, *, via: str) -> list[SmsConsent]:
    """End every text to these patients at once: their consents in force, the ``sms`` reminder channel, and
    any text queued and not yet sent. Returns the consents withdrawn (none if there were none in force)."""
    consents = list(
        session.scalars(
            select(SmsConsent)
            .where(SmsConsent.patient_id.in_(patient_ids), SmsConsent.withdrawn_at.is_(None))
            .order_by(SmsConsent.id)
        )
    )
    for consent in consents:
        consent.withdrawn_at, consent.withdrawn_via = now, via
    session.execute(update(ReminderSettings).where(ReminderSettings.patient_id.in_(patient_ids)).values(sms=False))
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.recipient_id.in_(patient_ids),
            OutboxMessage.channel == "sms",
            OutboxMessage.status == OutboxStatus.QUEUED,
            # what answers a STOP or a HELP still goes (a second STOP must not cancel the first one's answer)
            OutboxMessage.template.not_in(["sms_stopped", "sms_help"]),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="texts stopped by the patient")
    )
    session.flush()
    return consents


def _queue_reply(session: Session, now: datetime, key: str, patient_id: int, phone: str, template: str) -> None:
    queue(
        session,
        now,
        dedup_key=f"{key}:sms",
        recipient_id=patient_id,
        channel="sms",
        address=phone,
        template=template,
        link_path="/settings/reminders",
        expires_at=now + REPLY_LIFETIME,
    )


# --- Replies ------------------------------------------------------------------------------------------------


def patients_with_number(session: Session, number: str) -> list[int]:
    """The active patients whose stored phone is ``number``, lowest id first."""
    return list(
        session.scalars(
            select(User.id)
            .join(Patient, Patient.user_id == User.id)
            .where(
                Patient.phone == number,
                User.role == Role.PATIENT,
                User.activated_at.is_not(None),
                User.disabled_at.is_(None),
            )
            .order_by(User.id)
        )
    )


def handle_reply(session: Session, sender_number: str | None, body: str | None, message_sid: str, now: datetime) -> str:
    """Act on a text a patient sent; returns what was done ("stopped", "resumed", "help", "ignored", "unknown").
    The text itself is never stored. ``message_sid`` is the provider's id for it: a webhook the provider
    retries carries the same, so a HELP is answered once."""
    number = e164(sender_number)
    patients = patients_with_number(session, number) if number else []
    if not patients:
        return "unknown"
    action = keyword(body)
    if action == "STOP":
        withdrawn = withdraw(session, patients, now, via="keyword")
        if withdrawn:  # a second STOP finds nothing in force, and is not confirmed again
            first = withdrawn[0]
            _queue_reply(session, now, f"sms-stop:{first.id}", first.patient_id, number, "sms_stopped")
        return "stopped"
    if action == "START":
        return "resumed" if _resume(session, patients, number, now, body) else "ignored"
    if action == "HELP":
        _queue_reply(session, now, f"sms-help:{message_sid or now.isoformat()}", patients[0], number, "sms_help")
        return "help"
    return "ignored"


def _resume(session: Session, patients: list[int], number: str, now: datetime, body: str | None) -> bool:
    """START: consent again, recorded as given by the keyword, for each patient whose last consent was for this
    number and is withdrawn; their text reminders go back on. A patient who never agreed is not signed up by
    it: that takes the words shown in the app."""
    resumed = []
    for patient_id in patients:
        last = session.scalar(
            select(SmsConsent).where(SmsConsent.patient_id == patient_id).order_by(SmsConsent.id.desc()).limit(1)
        )
        if last is None or last.phone != number or last.withdrawn_at is None:
            continue
        language = session.scalar(select(Patient.language).where(Patient.user_id == patient_id)) or "en"
        said = "".join((body or "").split()).upper()
        words = catalogue(language).gettext(START_WORDS_STORED).format(keyword=said, number=number)
        consent = SmsConsent(patient_id=patient_id, phone=number, words=words, given_at=now, given_via="keyword")
        session.add(consent)
        session.flush()
        settings = session.get(ReminderSettings, patient_id)
        if settings is not None:
            settings.sms = True
        resumed.append(consent)
    if resumed:
        first = resumed[0]
        _queue_reply(session, now, f"sms-consent:{first.id}", first.patient_id, number, "sms_confirm")
    return bool(resumed)


# --- Delivery reports ---------------------------------------------------------------------------------------

FAILED_STATUSES = frozenset({"failed", "undelivered"})
# Twilio error codes that say the number will not take a text however often it is tried: it replied STOP to
# Twilio (21610), cannot receive texts (21614, 30006 landline), does not exist (30005), or the carrier blocks it
# (30004). Others (30003 unreachable, 30008 unknown) may pass later.
PERMANENT_ERRORS = frozenset({"21610", "21614", "30004", "30005", "30006"})


def record_status(session: Session, message_sid: str, status: str, error_code: str | None, now: datetime) -> bool:
    """A delivery report for the text Twilio knows as ``message_sid``. A failed or undelivered text is tried
    again under the outbox's rules (backoff, at most ``MAX_ATTEMPTS``, never past its expiry), or marked
    failed. Returns whether the message was known."""
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_sid == message_sid))
    if message is None:
        return False
    values: dict = {"provider_status": status[:16]}
    if status in FAILED_STATUSES:
        reason = f"Twilio reported {status}" + (f" (error {error_code})" if error_code else "")
        if (error_code or "") in PERMANENT_ERRORS or message.attempts >= MAX_ATTEMPTS:
            values.update(status=OutboxStatus.FAILED, last_error=reason)
        else:
            values.update(
                status=OutboxStatus.QUEUED, next_attempt_at=now + backoff(message.attempts), last_error=reason
            )
        log.warning("outbox text message %s not delivered: %s", message.id, reason)
    # Only while the row is still the send this report is about: a report for an earlier attempt, or one that
    # arrives twice, finds another sid or a row that is no longer sent, and changes nothing.
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.provider_sid == message_sid,
            OutboxMessage.status == OutboxStatus.SENT,
        )
        .values(**values)
    )
    return True


# --- Signatures ---------------------------------------------------------------------------------------------


def signature_valid(config: Mapping, path: str, query: str, form, signature: str | None) -> bool:
    """Is ``signature`` (the X-Twilio-Signature header) Twilio's for this request? Computed over the public URL
    the journal is configured with, never the Host header a caller chooses, and the POST parameters."""
    token = config.get("TWILIO_AUTH_TOKEN")
    if not token or not signature:
        return False
    url = str(config["BASE_URL"]).rstrip("/") + path + (f"?{query}" if query else "")
    return RequestValidator(token).validate(url, form, signature)
