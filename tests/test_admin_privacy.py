"""Admins see accounts, not health: the admin pages, rendered over data that would leak, show no alert kind or
priority tied to a person, no message purpose tied to a person, and no patient behind an action on their data.
(The clinic overview's cells of 0 to 4 patients: tests/test_dashboard.py.)"""

from __future__ import annotations

import re
from datetime import timedelta

from journal.alerts import escalate_overdue, raise_alert
from journal.db import db, utcnow
from journal.models import OutboxMessage, OutboxStatus
from tests.conftest import bearer, csrf_token

REASON = "PHQ-9 item 9 answered “Several days” (1 of 3). PHQ-9 total 14. Same-day review."


def _item9_alert(patient, minutes_ago: int = 90):
    return raise_alert(
        db.session,
        utcnow() - timedelta(minutes=minutes_ago),
        patient_id=patient.id,
        kind="safety_item9",
        severity="high",
        reason=REASON,
        dedup_key=f"test:{patient.id}:{minutes_ago}",
    )


def test_the_audit_log_shows_an_alerts_acknowledgement_without_the_patient_or_the_alert(client, auth, people):
    alert = _item9_alert(people.pat)
    db.session.commit()
    escalate_overdue(db.session, utcnow())
    acked = client.post(
        f"/api/v1/alerts/{alert.id}/ack", json={"note": "Called; safe."}, headers=bearer(client, people.alice)
    )
    assert acked.status_code == 200

    auth.login(people.ada)
    page = client.get("/admin/audit").get_data(as_text=True)
    row = next(line for line in page.split("<tbody>")[1].split("<tr>") if "patient-record.change" in line)
    assert "alice@clinic.test" in row  # who and when stay
    for leak in ("alert", "item", "high", str(people.pat.id), people.pat.email, people.pat.name):
        assert not re.search(rf"\b{re.escape(leak)}\b", row, re.IGNORECASE), leak
    assert "alert.ack" not in page and "alert.escalate" not in page and f"alert {alert.id}" not in page
    assert "0 events;" in client.get("/admin/audit?action=alert").get_data(as_text=True)


def test_the_audit_log_shows_account_actions_in_full_with_the_account(client, auth, people):
    auth.login(people.ada)
    client.post(
        "/admin/staff/new",
        data={
            "name": "Dee Nurse",
            "email": "dee@clinic.test",
            "role": "clinician",
            "timezone": "America/New_York",
            "csrf_token": csrf_token(client, "/admin/staff/new"),
        },
    )
    page = client.get("/admin/audit?action=staff.create").get_data(as_text=True)
    assert "1 event;" in page
    assert "ada@clinic.test" in page and "dee@clinic.test" in page  # who, and the account


def test_escalations_page_names_no_patient_kind_priority_or_alert_number(client, auth, people):
    alert = _item9_alert(people.pat)
    db.session.commit()
    escalate_overdue(db.session, utcnow())

    auth.login(people.ada)
    page = client.get("/admin/alerts").get_data(as_text=True)
    table = page.split("<table>")[1]
    assert "alice@clinic.test" in table and "1 hour 30 minutes" in table  # whom to call, and how long it waits
    for leak in (people.pat.name, people.pat.email, "item 9", "PHQ", "safety", "high", f"Alert {alert.id}"):
        assert leak.lower() not in table.lower(), leak


def _message(people, recipient, template: str, **values) -> OutboxMessage:
    now = utcnow()
    message = OutboxMessage(
        dedup_key=f"test:{recipient.id}:{template}",
        recipient_id=recipient.id,
        channel="email",
        address=recipient.email,
        template=template,
        link_path="/home",
        next_attempt_at=now,
        created_at=now,
        **values,
    )
    db.session.add(message)
    return message


def test_deliveries_show_no_message_purpose_tied_to_a_patient(client, auth, people):
    db.session.query(OutboxMessage).delete()  # the fixture's invitation e-mails
    # The morning after Pat's dosing session: her side-effect check bounced, naming her address.
    _message(
        people,
        people.pat,
        "side_effect_check",
        status=OutboxStatus.FAILED,
        attempts=1,
        last_error=f"recipient refused: 550 5.1.1 <{people.pat.email}>: mailbox unavailable",
    )
    _message(people, people.quinn, "session_prep", status=OutboxStatus.SENT, attempts=1, sent_at=utcnow())
    _message(people, people.alice, "alert", status=OutboxStatus.QUEUED, attempts=1, last_error="timed out")
    _message(people, people.bob, "invitation", status=OutboxStatus.SENT, attempts=1, sent_at=utcnow())
    db.session.commit()

    auth.login(people.ada)
    page = client.get("/admin/deliveries").get_data(as_text=True).split("<h1>")[1]  # the page, not the menu
    for leak in (people.pat.email, people.pat.name, people.quinn.email, "side effect", "session", "prep", "alert"):
        assert leak.lower() not in page.lower(), leak
    assert "recipient refused: 550 5.1.1 &lt;[the recipient]&gt;: mailbox unavailable" in page  # still actionable
    assert "<td>a patient</td>" in page
    assert "alice@clinic.test" in page and "bob@clinic.test" in page  # staff accounts, which admins manage
    assert "<td>sign-in link</td>" in page and "<td>notification</td>" in page
    assert "<td>email</td>" in page and "<td>failed</td>" in page and "<td>sent</td>" in page
