"""Every message to a patient goes in the patient's language as it is when the message is sent: e-mails through a
real SMTP server (aiosmtpd) in-process, Web Push as the outbox hands it to the channel.

Pat (Alice's patient, America/Chicago) is reminded at 20:00 local = 02:00 UTC the next day. Alice is a clinician:
what the journal sends her stays English.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from journal.channels import OutgoingMessage
from journal.checkins import save_checkin
from journal.db import db
from journal.models import OutboxMessage
from journal.outbox import deliver_due
from journal.reminders import queue_daily_reminders
from tests.conftest import bearer, questionnaires_done
from tests.test_channels import Mailbox, body, start_smtp
from tests.test_messages import FORBIDDEN, _says

EVENING = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)  # 20:30 on 2 March in Chicago
DAY = date(2026, 3, 2)
CHECKIN = {
    "mood": 5,
    "cravings": [{"substance": "alcohol", "intensity": 1}],
    "use": [{"substance": "alcohol", "used": False}],
}


@pytest.fixture
def mailbox():
    mailbox = Mailbox()
    mailbox.controller = start_smtp(mailbox)
    yield mailbox
    mailbox.controller.stop()


@pytest.fixture
def app_config(app_config, mailbox):
    return {
        **app_config,
        "SMTP_URL": f"smtp://127.0.0.1:{mailbox.controller.port}",
        "MAIL_FROM": "Journal <no-reply@journal.test>",
    }


@pytest.fixture
def pat_due(people):
    """Pat, active for weeks, checked in every day until yesterday, questionnaires done last week: at EVENING the
    daily reminder is all that is due. Nothing queued yet."""
    pat = people.pat
    pat.activated_at = EVENING - timedelta(days=30)
    questionnaires_done(pat, EVENING - timedelta(days=7))
    for lag in range(1, 4):
        save_checkin(db.session, pat.patient, DAY - timedelta(days=lag), CHECKIN, EVENING - timedelta(days=lag), pat)
    people.quinn.disabled_at = EVENING  # not part of these tests
    db.session.query(OutboxMessage).delete()  # the fixture's invitation e-mails
    db.session.commit()
    return pat


def _run(app, now: datetime) -> None:
    result = app.test_cli_runner().invoke(args=["jobs", "run-once", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output


def _mails(mailbox, address: str) -> list[email.message.EmailMessage]:
    messages = [email.message_from_bytes(e.content, policy=email.policy.default) for e, _ in mailbox.received]
    return [message for message in messages if message["To"] == address]


def _speak(user, language: str) -> None:
    user.patient.language = language
    db.session.commit()


def _no_health_words(*texts: str) -> None:
    for text in texts:
        assert [word for word in FORBIDDEN if _says(word, text)] == [], text


def test_a_spanish_speaking_patients_reminder_email_is_in_spanish(app, mailbox, pat_due):
    _speak(pat_due, "es")
    _run(app, EVENING)
    (message,) = _mails(mailbox, pat_due.email)
    assert message["Subject"] == "Tiene un nuevo registro"
    text = body(message)
    assert text.startswith("Hola:\n\nTiene un nuevo registro pendiente.\n\nhttp://journal.test/m/")
    assert "Puede cambiar la hora de estos recordatorios" in text
    _no_health_words(message["Subject"], text)


def test_a_reminder_goes_in_the_language_the_patient_has_when_it_is_sent_not_when_it_was_queued(
    app, client, mailbox, pat_due
):
    queue_daily_reminders(db.session, EVENING)  # queued while Pat reads English
    db.session.commit()
    response = client.patch("/api/v1/me", json={"language": "es"}, headers=bearer(client, pat_due))
    assert response.status_code == 200
    _run(app, EVENING)
    (message,) = _mails(mailbox, pat_due.email)
    assert message["Subject"] == "Tiene un nuevo registro"


def test_an_invitation_goes_in_the_language_given_at_enrolment(app, client, mailbox, people):
    response = client.post(
        "/api/v1/patients",
        json={"name": "Rosa", "email": "rosa@patient.test", "timezone": "America/Chicago", "language": "es"},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 201, response.get_json()
    _run(app, datetime.now(UTC))
    (message,) = _mails(mailbox, "rosa@patient.test")
    assert message["Subject"] == "Su cuenta está lista para configurarse"
    assert "Elija su contraseña aquí" in body(message)
    assert response.get_json()["invitation_url"] in body(message)


@pytest.mark.parametrize(("stored", "browser"), [("es", "en-US,en;q=0.9"), ("en", "es-US,es;q=0.9")])
def test_a_password_reset_goes_in_the_accounts_language_never_the_requesters_browsers(
    app, client, mailbox, people, stored, browser
):
    """Whoever types the address may not own the account: the e-mail follows the account, not the request."""
    _speak(people.pat, stored)
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    response = client.post(
        "/api/v1/auth/password-reset", json={"email": people.pat.email}, headers={"Accept-Language": browser}
    )
    assert response.status_code == 202
    _run(app, datetime.now(UTC))
    (message,) = _mails(mailbox, people.pat.email)
    expected = {"es": "Crear una nueva contraseña", "en": "Set a new password"}[stored]
    assert message["Subject"] == expected
    assert "http://journal.test/password-reset/" in body(message)


def test_a_clinicians_alert_email_stays_english_whatever_her_patients_language(app, mailbox, pat_due, people):
    _speak(pat_due, "es")
    _run(app, EVENING + timedelta(days=3))  # three missed days: the care team is told
    subjects = [message["Subject"] for message in _mails(mailbox, people.alice.email)]
    assert subjects and all(subject.isascii() and "portal" in subject for subject in subjects)


@dataclass
class Recorder:
    """A channel that keeps what it is given."""

    sent: list[OutgoingMessage] = field(default_factory=list)

    def send(self, message: OutgoingMessage) -> None:
        self.sent.append(message)


@pytest.mark.parametrize(("language", "title", "opening"), [("es", "Diario", "Hola:"), ("en", "Journal", "Hello,")])
def test_a_push_notification_has_its_title_and_text_in_the_patients_language(client, pat_due, language, title, opening):
    _speak(pat_due, language)
    headers = bearer(client, pat_due)
    subscription = {"endpoint": "https://fcm.googleapis.com/fcm/send/phone", "keys": {"p256dh": "BAAA", "auth": "AAAA"}}
    assert client.post("/api/v1/me/push-subscriptions", json=subscription, headers=headers).status_code == 201
    reminders = {"time": "20:00", "channels": ["webpush"]}
    assert client.put("/api/v1/me/reminders", json=reminders, headers=headers).status_code == 200
    queue_daily_reminders(db.session, EVENING)
    db.session.commit()
    push = Recorder()
    deliver_due(db.session, EVENING, {"webpush": push}, base_url="http://journal.test", secret_key="k" * 32)
    (message,) = push.sent
    assert message.title == title and message.text.startswith(opening)
    _no_health_words(message.title, message.text)
