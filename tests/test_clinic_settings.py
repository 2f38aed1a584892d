"""The admin's pages: the clinic's settings (SAFE-R1/R2 crisis numbers, PHQ-R13 cadence, alert thresholds) and the
escalated alerts still waiting for a clinician (SAFE-R3), which show whom to call and nothing about the patient.

Ada is the clinic's admin; Alice is Pat's clinician and Charlie is Quinn's (see tests/conftest.py).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from journal.alerts import KIND_LABELS, acknowledge, escalate_overdue, raise_alert
from journal.db import db, utcnow
from journal.models import AuditEvent, Clinic
from tests.conftest import NOW, make_patient, make_staff

SETTINGS = {
    "crisis_call_number": "988",
    "crisis_text_number": "741741",
    "emergency_number": "911",
    "clinic_phone": "+1 (555) 010-2000",
    "clinic_hours": "Monday to Saturday, 8 am to 6 pm",
    "review_promise": "Your care team reads answers every day, usually within four hours.",
    "note_review_promise": "Dr Lee reads notes each weekday morning.",
    "assessment_interval_days": "21",
    "weekly_during_induction": "yes",
    "check_window_hours": "36",
    "escalation_minutes": "45",
    "craving_threshold": "8",
    "craving_days": "2",
    "abstinent_run_days": "10",
    "booster_review_points": "6",
    "urinary_alert_severity": "high",
}


def _clinic(people) -> Clinic:
    db.session.expire_all()
    return db.session.get(Clinic, people.clinic.id)


def _events(action: str) -> list[tuple[int, int | None, str]]:
    return db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail).where(AuditEvent.action == action)
    ).all()


# --- Clinic settings -------------------------------------------------------------------------------------------


def test_admin_saves_every_clinic_setting_and_the_change_is_audited(client, auth, people):
    auth.login(people.ada)
    response = auth.post("/admin/clinic", SETTINGS)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/clinic"
    clinic = _clinic(people)
    assert (clinic.crisis_call_number, clinic.crisis_text_number, clinic.emergency_number) == ("988", "741741", "911")
    assert clinic.clinic_phone == "+1 (555) 010-2000"
    assert clinic.clinic_hours == SETTINGS["clinic_hours"]
    assert clinic.review_promise == SETTINGS["review_promise"]
    assert clinic.note_review_promise == SETTINGS["note_review_promise"]
    assert clinic.check_window_hours == 36
    assert (clinic.assessment_interval_days, clinic.weekly_during_induction, clinic.escalation_minutes) == (
        21,
        True,
        45,
    )
    assert (clinic.craving_threshold, clinic.craving_days, clinic.abstinent_run_days) == (8, 2, 10)
    assert (clinic.booster_review_points, clinic.urinary_alert_severity) == (6, "high")
    # The detail names what changed (the defaults were 988 and 911 already), never a patient.
    ((actor, patient, detail),) = _events("clinic.settings")
    assert (actor, patient) == (people.ada.id, None)
    assert "crisis_call_number" not in detail and "emergency_number" not in detail
    assert "crisis_text_number" in detail and "urinary_alert_severity" in detail
    page = client.get("/admin/clinic").get_data(as_text=True)
    assert "The clinic settings are saved." in page
    assert 'value="741741"' in page and 'name="weekly_during_induction" value="yes" checked' in page


def test_an_unticked_weekly_box_saves_false(client, auth, people):
    auth.login(people.ada)
    auth.post("/admin/clinic", SETTINGS)
    assert _clinic(people).weekly_during_induction is True
    unticked = {key: value for key, value in SETTINGS.items() if key != "weekly_during_induction"}
    assert auth.post("/admin/clinic", unticked).status_code == 302
    assert _clinic(people).weekly_during_induction is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("assessment_interval_days", "3", "Give the days between questionnaires from 7 to 90."),  # SPEC 1.10
        ("escalation_minutes", "soon", "Give a whole number."),
        ("escalation_minutes", "2000", "Give the minutes before escalation from 5 to 1440."),
        ("craving_threshold", "11", "Give the craving threshold from 1 to 10."),
        ("check_window_hours", "400", "Give the hours a post-session check stays open from 12 to 336."),
        ("crisis_call_number", "", "Use digits, spaces, +, ( ) and - only, with at least one digit."),
        ("emergency_number", "call 911", "Use digits, spaces, +, ( ) and - only, with at least one digit."),
        ("urinary_alert_severity", "urgent", "Must be one of: high, medium, low."),
        ("review_promise", None, "Fill this in."),  # left out of the form altogether
    ],
)
def test_a_bad_setting_is_a_400_with_the_message_at_its_field_and_nothing_is_saved(
    client, auth, people, field, value, message
):
    auth.login(people.ada)
    form = {**SETTINGS, field: value} if value is not None else {k: v for k, v in SETTINGS.items() if k != field}
    response = auth.post("/admin/clinic", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in page.replace("&#39;", "'")
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page)
    assert 'value="741741"' in page  # the other answers are kept
    clinic = _clinic(people)
    assert (clinic.crisis_text_number, clinic.escalation_minutes) == ("988", 30)  # the defaults, untouched
    assert _events("clinic.settings") == []


@pytest.mark.parametrize("number", ["   ", "()-", ""])
def test_safe_r2_a_crisis_number_without_a_digit_is_refused(client, auth, people, number):
    auth.login(people.ada)
    response = auth.post("/admin/clinic", {**SETTINGS, "crisis_call_number": number})
    assert response.status_code == 400
    assert _clinic(people).crisis_call_number == "988"


def test_settings_page_says_thresholds_are_the_clinics_choice_and_crisis_numbers_are_checked_each_release(
    client, auth, people
):
    auth.login(people.ada)
    page = client.get("/admin/clinic").get_data(as_text=True)
    assert "the clinic's own choices, not published cut-offs" in page.replace("&#39;", "'")
    assert "Call and text every number before each release</strong>" in page
    for field in SETTINGS:
        assert f'<label for="{field}">' in page, field  # every field has its label


def test_only_admins_open_the_clinic_settings_and_escalations(client, auth, people):
    for user in (people.alice, people.pat):
        auth.login(user)
        assert client.get("/admin/clinic").status_code == 404
        assert auth.post("/admin/clinic", SETTINGS).status_code == 404
        assert client.get("/admin/alerts").status_code == 404
        auth.logout()
    assert _clinic(people).crisis_text_number == "988"


def test_admin_navigation_links_the_new_pages(client, auth, people):
    auth.login(people.ada)
    page = client.get("/admin/staff").get_data(as_text=True)
    assert 'href="/admin/clinic"' in page and 'href="/admin/alerts"' in page


# --- Escalated alerts (SAFE-R3) --------------------------------------------------------------------------------

REASON = "PHQ-9 item 9 answered “Several days” (1 of 3). PHQ-9 total 14. Same-day review."


def _high_alert(patient, key: str, minutes_ago: int = 60):
    return raise_alert(
        db.session,
        utcnow() - timedelta(minutes=minutes_ago),
        patient_id=patient.id,
        kind="safety_item9",
        severity="high",
        reason=REASON,
        dedup_key=f"test:{key}",
    )


def test_admin_sees_escalated_alerts_and_whom_to_call_without_any_health_information(client, auth, people):
    waiting = _high_alert(people.pat, "waiting", minutes_ago=90)
    quinns = _high_alert(people.quinn, "quinn", minutes_ago=45)
    answered = _high_alert(people.pat, "answered", minutes_ago=120)
    db.session.commit()
    assert escalate_overdue(db.session, utcnow()) == 3  # the clinic's 30 minutes have passed for all three
    acknowledge(db.session, answered, people.alice, "Called; safe.", utcnow())
    recent = _high_alert(people.pat, "recent", minutes_ago=5)  # not escalated yet
    db.session.commit()

    auth.login(people.ada)
    page = client.get("/admin/alerts").get_data(as_text=True)
    waits = re.findall(r"<td>(\d+ (?:hour|minute)[^<]*)</td>", page)
    assert waits == ["1 hour 30 minutes", "45 minutes"]  # oldest first; not the acknowledged one, nor the recent one
    for alert in (waiting, quinns, recent, answered):  # no number the audit trail could tie to a patient
        assert f"Alert {alert.id}" not in page
    assert "Alice Adams" in page and "alice@clinic.test" in page  # Pat's care team
    assert "Charlie Clark" in page and "charlie@clinic.test" in page  # Quinn's
    assert "<td>1 hour 30 minutes</td>" in page  # how long the oldest has waited
    # Admins see no patient data: no name, no e-mail, no reason, no kind, no score.
    for secret in ("Pat Patient", "pat@patient.test", "Quinn Other", "quinn@patient.test", "PHQ", "item 9"):
        assert secret not in page, secret
    assert KIND_LABELS["safety_item9"] not in page
    assert "Called; safe." not in page


def test_escalations_of_another_clinic_are_not_shown(client, auth, people):
    elsewhere = Clinic(name="Elsewhere", created_at=NOW)
    db.session.add(elsewhere)
    db.session.flush()
    dana = make_staff(elsewhere, "dana", "Dana Elsewhere")
    eve = make_patient(dana, "eve", "Eve Elsewhere")
    _high_alert(eve, "elsewhere")
    db.session.commit()
    assert escalate_overdue(db.session, utcnow()) == 1
    auth.login(people.ada)
    page = client.get("/admin/alerts").get_data(as_text=True)
    assert "dana@clinic.test" not in page
    assert "No escalated alert is waiting." in page
