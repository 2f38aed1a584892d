"""SAFE-R3 and PRIV-R4 end to end: a positive PHQ-9 item 9 e-mails the care team through the outbox to a real
SMTP server (aiosmtpd, in-process), content-free; a high-priority alert nobody acknowledges in the clinic's
time is escalated once to the care team and the clinic's admins, by `flask --app wsgi jobs run-once --now`.

Alice and Bob are on Pat's care team here; Charlie is not; Ada is the clinic's admin.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from journal.alerts import raise_alert
from journal.assessments import submit
from journal.db import db
from journal.models import (
    Alert,
    AuditEvent,
    CareTeamMember,
    Clinic,
    OutboxMessage,
    OutboxStatus,
    ReminderSettings,
    Role,
)
from tests.conftest import bearer, make_patient, make_staff
from tests.test_channels import Mailbox, body, start_smtp
from tests.test_messages import FORBIDDEN, _says

T0 = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 10:00 in Chicago, an hour after the accounts were set up
# With no on-call shift (tests/test_on_call.py has the rota), as the alert's priority says: never what it is.
ALERT_SUBJECT = "Urgent: please check the portal now"
MEDIUM_SUBJECT = "Please check the portal today"
LOW_SUBJECT = "Please check the portal when you can"
ESCALATION_SUBJECT = "Urgent: an item is still waiting in the portal"


@pytest.fixture
def mailbox():
    mailbox = Mailbox()
    controller = start_smtp(mailbox)
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def app_config(app_config, mailbox):
    return {**app_config, "SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}", "MAIL_FROM": "Journal <no-reply@j.test>"}


@pytest.fixture
def team(people):
    """Bob joins Pat's care team, and so does Dana, whose account is disabled. Pat's own reminders are paused
    and Quinn is away, so the only mail in these tests is about alerts."""
    dana = make_staff(people.clinic, "dana", "Dana Disabled")
    dana.disabled_at = T0 - timedelta(days=1)
    for clinician in (people.bob, dana):
        db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=clinician.id))
    db.session.add(
        ReminderSettings(patient_id=people.pat.id, local_time="20:00", email=True, webpush=False, paused=True)
    )
    people.quinn.disabled_at = T0 - timedelta(days=1)
    db.session.query(OutboxMessage).delete()  # the fixture's invitation e-mails
    db.session.commit()
    return people


def _run(app, now: datetime) -> None:
    result = app.test_cli_runner().invoke(args=["jobs", "run-once", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output


def _item9_positive(people, at: datetime = T0, item9: int = 1) -> Alert:
    """Pat answers item 9 with ``item9`` in the app at ``at``; returns the alert it raised."""
    form, _ = submit(
        db.session, people.pat.patient, {"instrument": "phq9", "answers": [0] * 8 + [item9]}, at, people.pat
    )
    db.session.commit()
    return db.session.scalar(select(Alert).where(Alert.assessment_id == form.id))


def _delivered(mailbox: Mailbox) -> list[tuple[str, str, str]]:
    """(recipient, subject, text) of every e-mail the SMTP server received, in order."""
    delivered = []
    for envelope, _ in mailbox.received:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        (recipient,) = envelope.rcpt_tos
        delivered.append((recipient, message["Subject"], body(message)))
    return delivered


def _escalation_rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "alert_escalation").order_by(OutboxMessage.id)
    ).all()


def _health_information(people, subject: str, text: str) -> list[str]:
    """Whatever in an e-mail could tell a reader something about the patient's health or who they are."""
    words = [*FORBIDDEN, "item 9", "item9", "thoughts", "harm", "death", "review tier", "immediate"]
    found = [word for word in words if _says(word, subject) or _says(word, text)]
    without_link = re.sub(r"https?://\S+", "", f"{subject}\n{text}")
    if re.search(r"\d", without_link):
        found.append("a number (a score?)")
    for identity in ("Pat", "Patient", people.pat.email):
        if identity.lower() in without_link.lower():
            found.append(identity)
    return found


# --- The care team is told at once (SAFE-R3, PRIV-R4) -----------------------------------------------------------


def test_a_positive_item9_emails_every_active_clinician_on_the_team_with_no_health_information(
    app, client, mailbox, team
):
    alert = _item9_positive(team, item9=3)
    assert mailbox.received == []  # queued with the form; the scheduler delivers
    _run(app, T0)
    delivered = _delivered(mailbox)
    assert sorted(recipient for recipient, _, _ in delivered) == [team.alice.email, team.bob.email]
    for _, subject, text in delivered:
        assert subject == ALERT_SUBJECT
        assert _health_information(team, subject, text) == []
    # The link leads, through the opening record, to the clinicians' alert inbox (after signing in).
    link = re.search(r"http://journal\.test(/m/\S+)", delivered[0][2]).group(1)
    response = client.get(link)
    assert (response.status_code, response.headers["Location"]) == (302, "/clinician/alerts")
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "alert_high")).all()
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert {r.dedup_key for r in rows} == {
        f"alert:{alert.id}:{team.alice.id}:email",
        f"alert:{alert.id}:{team.bob.id}:email",
    }
    _run(app, T0 + timedelta(minutes=1))
    assert len(mailbox.received) == 2  # delivered once


def test_the_check_that_would_catch_health_information_in_a_mail(people):
    careless = ("Pat answered PHQ-9 item 9", "Score 14: thoughts of self-harm")
    assert set(_health_information(people, *careless)) >= {"phq", "item 9", "harm", "a number (a score?)", "Pat"}


# --- Escalation (SAFE-R3) -------------------------------------------------------------------------------------


def test_safe_r3_unacknowledged_high_alert_escalates_at_30_minutes_to_team_and_admins_once(app, client, mailbox, team):
    alert = _item9_positive(team)
    _run(app, T0)
    mailbox.received.clear()
    _run(app, T0 + timedelta(minutes=29, seconds=59))
    assert mailbox.received == []
    assert _escalation_rows() == []
    db.session.refresh(alert)
    assert alert.escalated_at is None

    _run(app, T0 + timedelta(minutes=30))
    db.session.refresh(alert)
    assert alert.escalated_at == T0 + timedelta(minutes=30)
    delivered = _delivered(mailbox)
    assert sorted(recipient for recipient, _, _ in delivered) == sorted(
        [team.alice.email, team.bob.email, team.ada.email]
    )
    for _, subject, text in delivered:
        assert subject == ESCALATION_SUBJECT
        assert _health_information(team, subject, text) == []
    links = {row.address: row.link_path for row in _escalation_rows()}
    assert links == {
        team.alice.email: "/clinician/alerts",
        team.bob.email: "/clinician/alerts",
        team.ada.email: "/admin/alerts",  # admins see no patient data: a page that names the team to call
    }
    (ada_text,) = [text for recipient, _, text in delivered if recipient == team.ada.email]
    response = client.get(re.search(r"http://journal\.test(/m/\S+)", ada_text).group(1))
    assert response.headers["Location"] == "/admin/alerts"

    for later in (timedelta(minutes=31), timedelta(hours=2), timedelta(days=1)):
        _run(app, T0 + later)
    assert len(mailbox.received) == 3  # escalated exactly once
    db.session.refresh(alert)
    assert alert.escalated_at == T0 + timedelta(minutes=30)
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.patient_id, AuditEvent.detail).where(
            AuditEvent.action == "alert.escalate"
        )
    ).all()
    assert events == [(None, "alert.escalate", team.pat.id, f"alert {alert.id}; 3 recipients")]


def test_safe_r3_the_clinic_chooses_the_escalation_time(app, mailbox, team):
    team.clinic.escalation_minutes = 10
    db.session.commit()
    alert = _item9_positive(team)
    _run(app, T0 + timedelta(minutes=9))
    assert _escalation_rows() == []
    _run(app, T0 + timedelta(minutes=10))
    db.session.refresh(alert)
    assert alert.escalated_at == T0 + timedelta(minutes=10)
    assert len(_escalation_rows()) == 3


def test_safe_r3_an_acknowledged_alert_never_escalates(app, client, mailbox, team):
    alert = _item9_positive(team)
    _run(app, T0)
    ack = client.post(
        f"/api/v1/alerts/{alert.id}/ack", json={"note": "Spoke with Pat by phone."}, headers=bearer(client, team.bob)
    )
    assert ack.status_code == 200
    mailbox.received.clear()
    for later in (timedelta(minutes=30), timedelta(hours=3), timedelta(days=2)):
        _run(app, T0 + later)
    assert mailbox.received == []
    assert _escalation_rows() == []
    db.session.refresh(alert)
    assert alert.escalated_at is None
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "alert.escalate")) is None


def test_safe_r3_medium_and_low_alerts_never_escalate(app, mailbox, team):
    for severity in ("medium", "low"):
        raise_alert(
            db.session,
            T0,
            patient_id=team.pat.id,
            kind="craving",
            severity=severity,
            reason="test",
            dedup_key=f"test:{severity}",
        )
    db.session.commit()
    for later in (timedelta(minutes=30), timedelta(hours=6)):
        _run(app, T0 + later)
    assert _escalation_rows() == []
    assert {a.escalated_at for a in db.session.scalars(select(Alert))} == {None}
    # 2 alerts x Alice, Bob, each saying how soon to look
    assert sorted(subject for _, subject, _ in _delivered(mailbox)) == sorted([MEDIUM_SUBJECT] * 2 + [LOW_SUBJECT] * 2)


def test_safe_r3_escalation_follows_severity_not_kind(app, mailbox, team):
    # A clinic that makes urinary alerts high-priority (KET-R4) has them escalated like a safety alert.
    alert = raise_alert(
        db.session,
        T0,
        patient_id=team.pat.id,
        kind="urinary",
        severity="high",
        reason="test",
        dedup_key="test:urinary",
    )
    db.session.commit()
    _run(app, T0 + timedelta(minutes=30))
    assert sorted(row.address for row in _escalation_rows()) == sorted(
        [team.alice.email, team.bob.email, team.ada.email]
    )
    db.session.refresh(alert)
    assert alert.escalated_at == T0 + timedelta(minutes=30)


def test_safe_r3_alerts_of_another_clinic_go_to_its_own_admins(app, mailbox, team):
    other = Clinic(name="Lakeside", created_at=T0 - timedelta(days=1))
    db.session.add(other)
    db.session.flush()
    eve = make_staff(other, "eve", "Eve Else")
    make_staff(other, "otto", "Otto Admin", Role.ADMIN)
    robin = make_patient(eve, "robin", "Robin Other")
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    raise_alert(
        db.session, T0, patient_id=robin.id, kind="safety_item9", severity="high", reason="t", dedup_key="t:robin"
    )
    db.session.commit()
    _run(app, T0 + timedelta(minutes=30))
    assert sorted(row.address for row in _escalation_rows()) == ["eve@clinic.test", "otto@clinic.test"]
