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
from journal.assessments import due_instruments
from journal.db import db, utcnow
from journal.models import AuditEvent, Clinic, InstrumentSchedule, Role
from tests.conftest import NOW, make_patient, make_staff

SETTINGS = {
    "crisis_call_number": "988",
    "crisis_text_number": "741741",
    "emergency_number": "911",
    "clinic_phone": "+1 (555) 010-2000",
    "clinic_hours": "Monday to Saturday, 8 am to 6 pm",
    "review_promise": "Your care team reads answers every day, usually within four hours.",
    "note_review_promise": "Dr Lee reads notes each weekday morning.",
    "standard_drink": "One standard drink contains 10 grams of pure alcohol.",
    "assessment_interval_days": "21",
    "weekly_during_induction": "yes",
    "check_window_hours": "36",
    "escalation_minutes": "45",
    "craving_threshold": "8",
    "craving_days": "2",
    "abstinent_run_days": "10",
    "booster_review_points": "6",
    "urinary_alert_severity": "high",
    "depression_instrument": "phq9",
    "pcl5_cut_point": "33",
    "follow_up_minutes": "90",
    # The questionnaire schedules (journal/schedules.py), as the page shows them for a new clinic: the defaults.
    "depression_days_after_session": "",
    "depression_days_before_session": "",
    "depression_min_gap_days": "7",
    "gad7_days_after_session": "",
    "gad7_days_before_session": "",
    "gad7_min_gap_days": "7",
    "pcl5_every_days": "28",
    "pcl5_days_after_session": "",
    "pcl5_days_before_session": "",
    "pcl5_min_gap_days": "21",
    "peg_every_days": "7",
    "peg_days_after_session": "",
    "peg_days_before_session": "",
    "peg_min_gap_days": "7",
    "auditc_every_days": "365",
    "auditc_days_after_session": "",
    "auditc_days_before_session": "",
    "auditc_min_gap_days": "365",
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
    assert clinic.standard_drink == SETTINGS["standard_drink"]
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


def _schedule_rows() -> dict[tuple[int, str], tuple]:
    db.session.expire_all()
    return {
        (row.clinic_id, row.instrument): (
            row.every_days,
            row.days_after_session,
            row.days_before_session,
            row.min_gap_days,
            row.updated_by_id,
        )
        for row in db.session.scalars(select(InstrumentSchedule))
    }


def test_the_page_shows_each_questionnaires_default_schedule_and_the_follow_up(client, auth, people):
    auth.login(people.ada)
    page = client.get("/admin/clinic").get_data(as_text=True)
    for field, value in (
        ("pcl5_every_days", "28"),
        ("pcl5_min_gap_days", "21"),
        ("peg_every_days", "7"),
        ("auditc_min_gap_days", "365"),
        ("depression_min_gap_days", "7"),
        ("follow_up_minutes", "90"),
        ("pcl5_days_after_session", ""),
    ):
        assert re.search(rf'id="{field}" name="{field}"[^>]* value="{value}"', page), field
    assert '<option value="phq9" selected>' in page and '<option value="33" selected>' in page
    assert "no schedule here" in page  # the PACS is entered by the care team


def test_safe_r4_the_page_says_plainly_what_choosing_the_phq8_means(client, auth, people):
    auth.login(people.ada)
    page = client.get("/admin/clinic").get_data(as_text=True).replace("&#39;", "'")
    assert "item 9, about thoughts of death or of self-harm, is not asked" in page
    assert "the journal then does not screen for thoughts of self-harm" in page
    assert "The crisis numbers stay on every patient's help page" in page


def test_admin_saves_the_schedules_follow_up_phq8_and_cut_point_and_the_change_is_audited(client, auth, people):
    auth.login(people.ada)
    assert auth.post("/admin/clinic", SETTINGS).status_code == 302
    assert _schedule_rows() == {}  # the defaults were kept: no row stands in for them
    changes = {
        "depression_days_after_session": "1",
        "depression_days_before_session": "3",
        "depression_min_gap_days": "10",
        "pcl5_every_days": "",
        "pcl5_days_after_session": "2",
        "pcl5_min_gap_days": "28",
        "follow_up_minutes": "",
        "depression_instrument": "phq8",
        "pcl5_cut_point": "31",
    }
    assert auth.post("/admin/clinic", {**SETTINGS, **changes}).status_code == 302
    clinic_id = people.clinic.id
    assert _schedule_rows() == {
        (clinic_id, "phq9"): (None, 1, 3, 10, people.ada.id),  # one depression schedule, whichever form is used
        (clinic_id, "phq8"): (None, 1, 3, 10, people.ada.id),
        (clinic_id, "pcl5"): (None, 2, None, 28, people.ada.id),
    }
    clinic = _clinic(people)
    assert (clinic.follow_up_minutes, clinic.depression_instrument, clinic.pcl5_cut_point) == (None, "phq8", 31)
    (actor, patient, detail) = _events("clinic.settings")[-1]
    assert (actor, patient) == (people.ada.id, None)
    assert set(detail.split(", ")) == set(changes)  # exactly what changed, and nothing about a patient
    page = client.get("/admin/clinic").get_data(as_text=True)
    assert re.search(r'id="pcl5_every_days" name="pcl5_every_days"[^>]* value=""', page)
    assert re.search(r'id="follow_up_minutes" name="follow_up_minutes"[^>]* value=""', page)
    assert '<option value="phq8" selected>' in page and '<option value="31" selected>' in page
    # The choice takes effect: Pat is now asked the PHQ-8.
    assert due_instruments(db.session, people.pat.patient, utcnow()) == ["phq8", "gad7"]


def test_an_interval_the_gap_would_never_allow_is_refused_at_its_field(client, auth, people):
    auth.login(people.ada)
    response = auth.post("/admin/clinic", {**SETTINGS, "peg_every_days": "10", "peg_min_gap_days": "14"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert (
        '<p class="field-error" id="peg_every_days-error">Give at least the minimum gap (14 days), or leave it empty.'
    )
    assert 'id="peg_every_days-error">Give at least the minimum gap (14 days), or leave it empty.</p>' in page
    response = auth.post("/admin/clinic", {**SETTINGS, "assessment_interval_days": "10", "gad7_min_gap_days": "12"})
    assert response.status_code == 400
    assert 'id="gad7_min_gap_days-error">Give at most the days between questionnaires (10)' in response.get_data(
        as_text=True
    )
    assert _schedule_rows() == {} and _events("clinic.settings") == []


def test_a_clinician_cannot_change_the_schedules_and_another_clinics_admin_changes_only_theirs(client, auth, people):
    auth.login(people.alice)
    assert auth.post("/admin/clinic", {**SETTINGS, "pcl5_min_gap_days": "28"}).status_code == 404
    auth.logout()
    elsewhere = Clinic(name="Elsewhere", created_at=NOW)
    db.session.add(elsewhere)
    db.session.flush()
    erin = make_staff(elsewhere, "erin", "Erin Admin", Role.ADMIN)
    db.session.commit()
    assert _schedule_rows() == {}
    auth.login(erin)
    assert auth.post("/admin/clinic", {**SETTINGS, "pcl5_min_gap_days": "28"}).status_code == 302
    assert set(_schedule_rows()) == {(elsewhere.id, "pcl5")}
    auth.logout()
    auth.login(people.ada)
    page = client.get("/admin/clinic").get_data(as_text=True)
    assert re.search(r'id="pcl5_min_gap_days" name="pcl5_min_gap_days"[^>]* value="21"', page)


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
        # The questionnaire schedules: never under each form's recall window (SPEC 1.10, PCL-R10, PEG-R6, AUDC-R7)
        ("depression_min_gap_days", "5", "Give the minimum gap in days from 7 to 90."),
        ("gad7_min_gap_days", "", "Give a whole number."),
        ("pcl5_min_gap_days", "14", "Give the minimum gap in days from 21 to 365."),
        ("peg_min_gap_days", "6", "Give the minimum gap in days from 7 to 365."),
        ("auditc_min_gap_days", "300", "Give the minimum gap in days from 365 to 730."),
        ("pcl5_every_days", "14", "Give a number of days from 21 to 365, or leave it empty."),
        ("pcl5_every_days", "often", "Give a whole number."),
        ("auditc_every_days", "90", "Give a number of days from 365 to 730, or leave it empty."),
        ("depression_days_after_session", "0", "Give a number of days from 1 to 90, or leave it empty."),
        ("peg_days_before_session", "30", "Give a number of days from 1 to 14, or leave it empty."),
        ("pcl5_days_before_session", None, "Give a number of days from 1 to 14, or leave it empty."),
        # EMA-R2, SAFE-R4, PCL-R6
        ("follow_up_minutes", "20", "Give the minutes from 30 to 180, or leave it empty for none."),
        ("follow_up_minutes", "240", "Give the minutes from 30 to 180, or leave it empty for none."),
        ("depression_instrument", "none", "Choose the PHQ-9 or the PHQ-8."),
        ("pcl5_cut_point", "30", "Choose 31, 32 or 33."),
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
    assert _schedule_rows() == {}


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
