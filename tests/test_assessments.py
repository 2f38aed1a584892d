"""PHQ-9 and GAD-7 through the API: scored on the server (GEN-R2), the safety pathway with the form (PHQ-R5,
PHQ-R7, SAFE-R1, SAFE-R3), paper entry (PHQ-R12), change (PHQ-R10, GAD-R1), baselines, response and
remission (PHQ-R9), and the alert inbox.

Scoring itself, band by band, is in tests/test_scoring.py; here each rule is seen from the outside. The API
uses the real clock, so a clinician's paper forms are dated relative to it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from journal.alerts import raise_alert
from journal.db import db
from journal.models import Alert, Assessment, AuditEvent, CareTeamMember, OutboxMessage
from tests.conftest import bearer

ASSESSMENTS = "/api/v1/assessments"
CHICAGO = ZoneInfo("America/Chicago")


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _alerts() -> list[Alert]:
    db.session.expire_all()
    return db.session.scalars(select(Alert).order_by(Alert.id)).all()


def _days_ago(days: int) -> str:
    """Noon in Chicago (Pat's zone), ``days`` days before yesterday: always in the past, and whole local days
    apart whatever the time of day and the clock changes."""
    yesterday = datetime.now(CHICAGO).date() - timedelta(days=1)
    return datetime.combine(yesterday - timedelta(days=days), time(12), tzinfo=CHICAGO).isoformat()


def _paper(client, headers, patient_id: int, answers: list, days_ago: int, instrument: str = "phq9"):
    """A clinician enters a paper form completed at noon ``days_ago`` days before yesterday."""
    body = {"instrument": instrument, "answers": answers, "patient_id": patient_id, "completed_at": _days_ago(days_ago)}
    return client.post(ASSESSMENTS, json=body, headers=headers)


def _phq9_totalling(total: int) -> list[int]:
    """Nine answers summing to ``total`` with item 9 at 0, so no safety alert muddies the figures."""
    answers = [0] * 9
    for index in range(8):
        answers[index] = min(3, total - sum(answers))
    assert sum(answers) == total
    return answers


# --- A patient's own form --------------------------------------------------------------------------------------


def test_patient_phq9_is_scored_on_the_server_and_a_negative_item9_shows_no_crisis(client, people):
    response = client.post(
        ASSESSMENTS,
        json={"instrument": "phq9", "answers": [2, 1, 1, 1, 1, 1, 1, 1, 0], "difficulty": "somewhat_difficult"},
        headers=bearer(client, people.pat),
    )
    assert response.status_code == 201, response.get_json()
    form = response.get_json()
    assert (form["total"], form["band"], form["two_item_total"]) == (9, "mild", 3)
    assert (form["item9"], form["item9_positive"], form["safety"], form["crisis"]) == (0, False, "negative", None)
    assert (form["patient_id"], form["source"], form["difficulty"]) == (people.pat.id, "patient", "somewhat_difficult")
    stored = db.session.get(Assessment, form["id"])
    assert (stored.total, stored.answers) == (9, [2, 1, 1, 1, 1, 1, 1, 1, 0])
    assert _alerts() == []


def test_gad7_has_its_own_bands_and_no_item9(client, people):
    # 15 is "severe" on the GAD-7 but only "moderately_severe" on the PHQ-9.
    response = client.post(
        ASSESSMENTS, json={"instrument": "gad7", "answers": [3, 3, 2, 2, 2, 2, 1]}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 201
    form = response.get_json()
    assert (form["total"], form["band"], form["two_item_total"]) == (15, "severe", 6)
    assert (form["item9"], form["item9_positive"], form["safety"], form["crisis"]) == (None, None, None, None)


def test_a_client_supplied_total_is_refused_not_trusted(client, people):
    body = {"instrument": "phq9", "answers": [0] * 9, "total": 27}
    response = client.post(ASSESSMENTS, json=body, headers=bearer(client, people.pat))
    assert response.status_code == 422
    assert "total" in response.get_json()["errors"]["json"]


# --- The safety pathway (PHQ-R5, SAFE-R1, SAFE-R3) ---------------------------------------------------------------


def test_phq_r5_item9_alone_opens_the_crisis_screen_and_raises_a_high_alert(client, people):
    response = client.post(
        ASSESSMENTS, json={"instrument": "phq9", "answers": [0] * 8 + [1]}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 201
    form = response.get_json()
    # A total of 1 is "minimal": the screen is positive regardless of the total.
    assert (form["total"], form["band"], form["item9_positive"], form["safety"]) == (1, "minimal", True, "positive")
    crisis = form["crisis"]
    assert (crisis["call"], crisis["text"], crisis["emergency"]) == ("988", "988", "911")
    assert crisis["review_promise"] and crisis["clinic_hours"]
    (alert,) = _alerts()
    assert (alert.kind, alert.severity, alert.patient_id, alert.assessment_id) == (
        "safety_item9",
        "high",
        people.pat.id,
        form["id"],
    )
    assert "Same-day review" in alert.reason and "Immediate" not in alert.reason
    # The care team is told (content-free) in the same transaction.
    (mail,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "alert_high")).all()
    assert (mail.recipient_id, mail.address) == (people.alice.id, people.alice.email)


def test_safe_r3_item9_of_2_calls_for_immediate_review(client, people):
    response = client.post(
        ASSESSMENTS, json={"instrument": "phq9", "answers": [1] * 8 + [2]}, headers=bearer(client, people.pat)
    )
    assert response.get_json()["crisis"]["call"] == "988"
    (alert,) = _alerts()
    assert alert.kind == "safety_item9" and alert.severity == "high"
    assert "Immediate review" in alert.reason and "Same-day" not in alert.reason


def test_the_crisis_screen_shows_the_clinics_own_numbers(client, people):
    people.clinic.crisis_call_number = "0800 123 456"
    people.clinic.clinic_phone = "+1 312 555 0100"
    db.session.commit()
    response = client.post(
        ASSESSMENTS, json={"instrument": "phq9", "answers": [0] * 8 + [3]}, headers=bearer(client, people.pat)
    )
    crisis = response.get_json()["crisis"]
    assert (crisis["call"], crisis["clinic_phone"]) == ("0800 123 456", "+1 312 555 0100")


@pytest.mark.parametrize(
    "target",
    [
        "journal.assessments.raise_alert",  # before the alert row is written
        "journal.alerts.queue_alert_notifications",  # after the alert row, before the team's e-mails
    ],
)
def test_a_failure_after_scoring_stores_neither_the_form_nor_the_alert(app, client, people, monkeypatch, target):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(target, broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does, rather than raise into the test
    headers = bearer(client, people.pat)
    response = client.post(ASSESSMENTS, json={"instrument": "phq9", "answers": [0] * 8 + [1]}, headers=headers)
    # An internal failure is a 500 in the API's JSON error shape, with no traceback and nothing half-written.
    assert response.status_code == 500
    assert response.get_json()["code"] == 500
    assert "Traceback" not in response.get_data(as_text=True)
    alert_emails = _count(OutboxMessage, OutboxMessage.template == "alert_high")
    assert (_count(Assessment), _count(Alert), alert_emails) == (0, 0, 0)
    # Nothing was stored, so the patient may submit again at once and the pathway then works.
    monkeypatch.undo()
    retried = client.post(ASSESSMENTS, json={"instrument": "phq9", "answers": [0] * 8 + [1]}, headers=headers)
    assert retried.status_code == 201
    assert [a.kind for a in _alerts()] == ["safety_item9"]


# --- What a patient may not send (PHQ-R3, strict validation) -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instrument": "phq9", "answers": [0] * 8}, "answers"),  # too few
        ({"instrument": "gad7", "answers": [0] * 9}, "answers"),  # a PHQ-9's worth for a GAD-7
        ({"instrument": "phq9", "answers": [0] * 10}, "answers"),
        ({"instrument": "phq9", "answers": [4] + [0] * 8}, "answers"),
        ({"instrument": "gad7", "answers": [-1] + [0] * 6}, "answers"),
        ({"instrument": "phq9", "answers": [True] * 9}, "answers"),
        ({"instrument": "phq9", "answers": ["1"] * 9}, "answers"),
        ({"instrument": "phq9", "answers": [1.0] * 9}, "answers"),
        ({"instrument": "phq9", "answers": [0, 0, 0, 0, None, 0, 0, 0, 0]}, "answers"),  # PHQ-R3: all required
        ({"instrument": "gad7", "answers": [0, 0, 0, 0, 0, 0, None]}, "answers"),
        ({"instrument": "phq9", "answers": [0] * 9, "mood": 3}, "mood"),  # unknown field
        ({"instrument": "gad7", "answers": [1] * 7, "difficulty": "very_difficult"}, "difficulty"),
        ({"instrument": "phq9", "answers": [1] * 9, "difficulty": "unbearable"}, "difficulty"),
        ({"instrument": "cssrs", "answers": [0] * 6}, "instrument"),  # not an instrument the journal asks
        ({"instrument": "phq8", "answers": [0] * 8}, "instrument"),  # this clinic asks the PHQ-9 (SAFE-R4)
        ({"instrument": "pacs", "answers": [0] * 5}, "instrument"),  # PACS-R3: entered by the care team only
        ({"instrument": "pcl5", "answers": [0] * 20}, "instrument"),  # not part of her programme (no PTSD)
        ({"answers": [0] * 9}, "instrument"),
        ({"instrument": "phq9"}, "answers"),
    ],
)
def test_invalid_answer_sets_are_refused_with_the_field_named_and_nothing_stored(client, people, body, field):
    response = client.post(ASSESSMENTS, json=body, headers=bearer(client, people.pat))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]["json"]
    assert _count(Assessment) == 0 and _count(Alert) == 0


def test_a_patient_answers_each_questionnaire_at_most_once_in_7_days(client, people):
    headers = bearer(client, people.pat)
    assert client.post(ASSESSMENTS, json={"instrument": "phq9", "answers": [1] * 9}, headers=headers).status_code == 201
    again = client.post(ASSESSMENTS, json={"instrument": "phq9", "answers": [0] * 9}, headers=headers)
    assert again.status_code == 409
    assert "opens again on" in again.get_json()["message"]
    # The GAD-7 is a questionnaire of its own.
    assert client.post(ASSESSMENTS, json={"instrument": "gad7", "answers": [1] * 7}, headers=headers).status_code == 201
    assert _count(Assessment, Assessment.instrument == "phq9") == 1


def test_a_patients_own_form_cannot_be_dated_long_ago(client, people):
    body = {"instrument": "phq9", "answers": [1] * 9, "completed_at": _days_ago(3)}
    response = client.post(ASSESSMENTS, json=body, headers=bearer(client, people.pat))
    assert response.status_code == 422 and "completed_at" in response.get_json()["errors"]["json"]


def test_a_repeated_submission_id_stores_the_form_once(client, people):
    headers = bearer(client, people.pat)
    body = {"instrument": "phq9", "answers": [0] * 8 + [1], "submission_id": "offline-queue-0001"}
    first = client.post(ASSESSMENTS, json=body, headers=headers)
    second = client.post(ASSESSMENTS, json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.get_json()["crisis"] is not None  # the retry still shows the crisis screen
    assert _count(Assessment) == 1 and len(_alerts()) == 1


def test_a_patient_cannot_submit_for_someone_else(client, people):
    body = {"instrument": "phq9", "answers": [1] * 9, "patient_id": people.quinn.id}
    assert client.post(ASSESSMENTS, json=body, headers=bearer(client, people.pat)).status_code == 404
    assert _count(Assessment) == 0


# --- A clinician's paper entry (PHQ-R7, PHQ-R12) -----------------------------------------------------------------


def test_paper_entry_needs_the_patient_and_a_past_completion_time(client, people):
    headers = bearer(client, people.alice)
    no_patient = client.post(
        ASSESSMENTS, json={"instrument": "phq9", "answers": [1] * 9, "completed_at": _days_ago(2)}, headers=headers
    )
    assert no_patient.status_code == 422 and "patient_id" in no_patient.get_json()["errors"]["json"]
    no_time = client.post(
        ASSESSMENTS, json={"instrument": "phq9", "answers": [1] * 9, "patient_id": people.pat.id}, headers=headers
    )
    assert no_time.status_code == 422 and "completed_at" in no_time.get_json()["errors"]["json"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    future = client.post(
        ASSESSMENTS,
        json={"instrument": "phq9", "answers": [1] * 9, "patient_id": people.pat.id, "completed_at": tomorrow},
        headers=headers,
    )
    assert future.status_code == 422 and "completed_at" in future.get_json()["errors"]["json"]
    assert _count(Assessment) == 0
    stored = _paper(client, headers, people.pat.id, [1] * 9, days_ago=30)
    assert stored.status_code == 201
    assert (stored.get_json()["source"], stored.get_json()["total"]) == ("clinician", 9)
    form = db.session.get(Assessment, stored.get_json()["id"])
    assert form.entered_by_id == people.alice.id


def test_paper_entries_are_not_held_to_the_patients_7_day_rule(client, people):
    headers = bearer(client, people.alice)
    assert _paper(client, headers, people.pat.id, [1] * 9, days_ago=10).status_code == 201
    assert _paper(client, headers, people.pat.id, [2] * 8 + [0], days_ago=8).status_code == 201


def test_phq_r12_one_missing_item_is_prorated_and_rounded_half_up(client, people):
    # Eight answers summing to 4: 4 x 9/8 = 4.5, which rounds up to 5 ("mild"), not to even 4 ("minimal").
    response = _paper(client, bearer(client, people.alice), people.pat.id, [1, 1, 1, 1, 0, 0, 0, None, 0], 3)
    assert response.status_code == 201
    form = response.get_json()
    assert (form["total"], form["band"], form["prorated"], form["safety"]) == (5, "mild", True, "negative")
    assert form["answers"] == [1, 1, 1, 1, 0, 0, 0, None, 0]  # the stored items say which one was missing


def test_phq_r12_gad7_with_two_missing_items_is_prorated(client, people):
    # Five answers summing to 6: 6 x 7/5 = 8.4, so 8.
    response = _paper(client, bearer(client, people.alice), people.pat.id, [2, None, 1, 1, None, 1, 1], 3, "gad7")
    assert response.status_code == 201
    assert (response.get_json()["total"], response.get_json()["prorated"]) == (8, True)


def test_a_complete_paper_form_is_not_marked_prorated(client, people):
    response = _paper(client, bearer(client, people.alice), people.pat.id, [1] * 9, 3)
    assert response.get_json()["prorated"] is False


def test_phq_r7_a_missing_item9_is_never_imputed_and_goes_to_review(client, people):
    response = _paper(client, bearer(client, people.alice), people.pat.id, [2] * 8 + [None], 3)
    assert response.status_code == 201
    form = response.get_json()
    assert (form["total"], form["band"], form["prorated"]) == (None, None, False)
    assert (form["safety"], form["item9"], form["item9_positive"]) == ("unknown", None, None)
    assert form["crisis"] is not None
    (alert,) = _alerts()
    assert (alert.kind, alert.severity, alert.assessment_id) == ("safety_unknown", "high", form["id"])


def test_phq_r12_more_than_two_missing_items_are_refused(client, people):
    response = _paper(client, bearer(client, people.alice), people.pat.id, [None, None, None, 1, 1, 1, 1, 1, 0], 3)
    assert response.status_code == 422 and "answers" in response.get_json()["errors"]["json"]
    assert _count(Assessment) == 0


def test_paper_entry_is_audited_as_the_clinicians_write(client, people):
    response = _paper(client, bearer(client, people.alice), people.pat.id, [1] * 9, 3)
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.patient_id, AuditEvent.detail).where(
            AuditEvent.action == "assessment.write"
        )
    ).all()
    assert events == [(people.alice.id, "assessment.write", people.pat.id, f"assessment {response.get_json()['id']}")]


def test_a_patients_own_form_is_not_a_staff_audit_event(client, people):
    client.post(ASSESSMENTS, json={"instrument": "phq9", "answers": [1] * 9}, headers=bearer(client, people.pat))
    assert _count(AuditEvent, AuditEvent.action == "assessment.write") == 0


def test_an_outside_clinician_gets_404_for_every_assessment_route_of_pat(client, people):
    headers = bearer(client, people.alice)
    form_id = _paper(client, headers, people.pat.id, [1] * 9, 3).get_json()["id"]
    outsider = bearer(client, people.charlie)
    assert _paper(client, outsider, people.pat.id, [1] * 9, 2).status_code == 404
    assert client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=outsider).status_code == 404
    put = client.put(
        f"/api/v1/patients/{people.pat.id}/baselines/phq9", json={"assessment_id": form_id}, headers=outsider
    )
    assert put.status_code == 404
    assert _count(Assessment) == 1
    assert _count(AuditEvent, AuditEvent.actor_id == people.charlie.id) == 0


# --- History and change (PHQ-R10, GAD-R1, SPEC 1.10) -------------------------------------------------------------


def test_history_is_newest_first_with_change_and_overlapping_windows(client, people):
    headers = bearer(client, people.alice)
    for days_ago, total in ((35, 20), (21, 15), (14, 11), (7, 16)):
        assert _paper(client, headers, people.pat.id, _phq9_totalling(total), days_ago).status_code == 201
    forms = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()
    assert [f["total"] for f in forms] == [16, 11, 15, 20]
    assert [f["change_from_previous"] for f in forms] == [5, -4, -5, None]
    # PHQ-R10: 5 points either way is clinically meaningful; 4 is not.
    assert [f["meaningful_change"] for f in forms] == [True, False, True, None]
    assert [f["days_since_previous"] for f in forms] == [7, 7, 14, None]
    # Two forms less than 14 days apart have overlapping recall windows.
    assert [f["overlapping_window"] for f in forms] == [True, True, False, False]


def test_a_paper_form_entered_late_becomes_the_previous_of_the_form_after_it(client, people):
    headers = bearer(client, people.alice)
    _paper(client, headers, people.pat.id, _phq9_totalling(20), 28)
    _paper(client, headers, people.pat.id, _phq9_totalling(10), 0)
    _paper(client, headers, people.pat.id, _phq9_totalling(14), 7)  # an older paper form, entered last
    forms = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()
    assert [(f["total"], f["change_from_previous"], f["days_since_previous"]) for f in forms] == [
        (10, -4, 7),
        (14, -6, 21),
        (20, None, None),
    ]
    assert [f["overlapping_window"] for f in forms] == [True, False, False]


def test_gad_r1_a_change_of_4_is_meaningful_and_3_is_not(client, people):
    headers = bearer(client, people.alice)
    for days_ago, answers in ((28, [2] * 7), (14, [2, 2, 2, 2, 1, 1, 0]), (1, [2, 2, 1, 1, 1, 0, 0])):
        _paper(client, headers, people.pat.id, answers, days_ago, "gad7")
    forms = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()
    assert [(f["total"], f["change_from_previous"], f["meaningful_change"]) for f in forms] == [
        (7, -3, False),
        (10, -4, True),
        (14, None, None),
    ]


def test_change_is_measured_against_the_same_questionnaire(client, people):
    headers = bearer(client, people.alice)
    _paper(client, headers, people.pat.id, _phq9_totalling(20), 20)
    _paper(client, headers, people.pat.id, [0] * 7, 10, "gad7")
    _paper(client, headers, people.pat.id, _phq9_totalling(18), 5)
    forms = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()
    assert [(f["instrument"], f["change_from_previous"], f["days_since_previous"]) for f in forms] == [
        ("phq9", -2, 15),
        ("gad7", None, None),
        ("phq9", None, None),
    ]


def test_a_patient_lists_only_their_own_forms_newest_first(client, people):
    _paper(client, bearer(client, people.charlie), people.quinn.id, [3] * 9, 3)
    headers = bearer(client, people.pat)
    client.post(ASSESSMENTS, json={"instrument": "gad7", "answers": [1] * 7}, headers=headers)
    client.post(ASSESSMENTS, json={"instrument": "phq9", "answers": [1] * 9}, headers=headers)
    forms = client.get(ASSESSMENTS, headers=headers).get_json()
    assert [(f["instrument"], f["patient_id"]) for f in forms] == [("phq9", people.pat.id), ("gad7", people.pat.id)]


# --- Baseline, response and remission (PHQ-R9) ---------------------------------------------------------------------


def _put_baseline(client, headers, patient_id: int, instrument: str, assessment_id: int):
    return client.put(
        f"/api/v1/patients/{patient_id}/baselines/{instrument}", json={"assessment_id": assessment_id}, headers=headers
    )


def test_phq_r9_response_and_remission_against_an_explicit_baseline(client, people):
    headers = bearer(client, people.alice)
    baseline_id = _paper(client, headers, people.pat.id, _phq9_totalling(20), 60).get_json()["id"]
    for days_ago, total in ((45, 11), (30, 10), (15, 5), (1, 4)):
        _paper(client, headers, people.pat.id, _phq9_totalling(total), days_ago)
    before = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()
    assert {f["response"] for f in before} == {None}  # no baseline chosen: nothing is silently assumed
    chosen = _put_baseline(client, headers, people.pat.id, "phq9", baseline_id)
    assert chosen.status_code == 200
    assert (chosen.get_json()["id"], chosen.get_json()["is_baseline"]) == (baseline_id, True)
    forms = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()
    figures = [(f["total"], f["response"], f["remission"], f["pct_reduction"], f["baseline_total"]) for f in forms]
    assert figures == [
        (4, True, True, 80.0, 20),  # 4 is under 5: remission
        (5, True, False, 75.0, 20),  # 5 is not
        (10, True, False, 50.0, 20),  # exactly half of 20 counts as response
        (11, False, False, 45.0, 20),
        (20, None, False, None, 20),  # the baseline itself is not measured against itself
    ]
    assert [f["is_baseline"] for f in forms] == [False, False, False, False, True]


def test_pct_reduction_rounds_half_up_to_one_decimal(client, people):
    headers = bearer(client, people.alice)
    baseline_id = _paper(client, headers, people.pat.id, _phq9_totalling(16), 30).get_json()["id"]
    _paper(client, headers, people.pat.id, _phq9_totalling(15), 10)  # 1/16 = 6.25 %: 6.3, not 6.2
    _paper(client, headers, people.pat.id, _phq9_totalling(18), 3)  # a rise: -12.5 %
    _put_baseline(client, headers, people.pat.id, "phq9", baseline_id)
    forms = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()
    assert [f["pct_reduction"] for f in forms[:2]] == [-12.5, 6.3]


def test_gad_r2_gad7_baseline_gives_reduction_but_no_response(client, people):
    headers = bearer(client, people.alice)
    baseline_id = _paper(client, headers, people.pat.id, [2] * 7, 30, "gad7").get_json()["id"]
    _paper(client, headers, people.pat.id, [1] * 7, 3, "gad7")
    assert _put_baseline(client, headers, people.pat.id, "gad7", baseline_id).status_code == 200
    latest = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()[0]
    assert (latest["total"], latest["baseline_total"], latest["pct_reduction"]) == (7, 14, 50.0)
    assert (latest["response"], latest["remission"]) == (None, None)


def test_a_baseline_must_be_a_scored_form_of_that_questionnaire_and_patient(client, people):
    headers = bearer(client, people.alice)
    phq9_id = _paper(client, headers, people.pat.id, [1] * 9, 30).get_json()["id"]
    unscored_id = _paper(client, headers, people.pat.id, [1] * 8 + [None], 20).get_json()["id"]
    quinns_id = _paper(client, bearer(client, people.charlie), people.quinn.id, [1] * 9, 3).get_json()["id"]
    for instrument, assessment_id in (("gad7", phq9_id), ("phq9", unscored_id), ("phq9", quinns_id), ("phq9", 99999)):
        response = _put_baseline(client, headers, people.pat.id, instrument, assessment_id)
        assert response.status_code == 422, (instrument, assessment_id)
        assert "assessment_id" in response.get_json()["errors"]["json"]
    assert _put_baseline(client, headers, people.pat.id, "phq9", phq9_id).status_code == 200
    assert _put_baseline(client, headers, people.pat.id, "phq9", "1").status_code == 422  # strict integer
    assert _put_baseline(client, headers, people.pat.id, "pcl5", phq9_id).status_code == 422  # not a PCL-5
    assert _put_baseline(client, headers, people.pat.id, "cssrs", phq9_id).status_code == 404


def test_choosing_a_baseline_is_audited(client, people):
    headers = bearer(client, people.alice)
    first = _paper(client, headers, people.pat.id, [2] * 9, 30).get_json()["id"]
    second = _paper(client, headers, people.pat.id, [1] * 9, 20).get_json()["id"]
    _put_baseline(client, headers, people.pat.id, "phq9", first)
    _put_baseline(client, headers, people.pat.id, "phq9", second)  # a change of mind replaces it
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail)
        .where(AuditEvent.action == "baseline.set")
        .order_by(AuditEvent.id)
    ).all()
    assert events == [
        (people.alice.id, people.pat.id, f"phq9 assessment {first}"),
        (people.alice.id, people.pat.id, f"phq9 assessment {second}"),
    ]
    forms = client.get(f"/api/v1/patients/{people.pat.id}/assessments", headers=headers).get_json()
    assert [(f["id"], f["is_baseline"]) for f in forms] == [(second, True), (first, False)]


# --- The alert inbox (SAFE-R3) -------------------------------------------------------------------------------------


@pytest.fixture
def inbox(people):
    """Four alerts about Pat of different severities and ages, and one about Quinn (Charlie's patient)."""
    base = datetime.now(UTC) - timedelta(days=2)

    def alert(key: str, severity: str, hours: int, patient=people.pat):
        return raise_alert(
            db.session,
            base + timedelta(hours=hours),
            patient_id=patient.id,
            kind="craving",
            severity=severity,
            reason=f"test alert {key}",
            dedup_key=key,
        ).id

    ids = {
        "medium_old": alert("medium_old", "medium", 0),
        "low": alert("low", "low", 1),
        "high_new": alert("high_new", "high", 3),
        "medium_new": alert("medium_new", "medium", 2),
        "high_old": alert("high_old", "high", 1),
        "quinn": alert("quinn", "high", 0, people.quinn),
    }
    db.session.commit()
    return ids


def test_open_alerts_are_listed_by_severity_then_age(client, people, inbox):
    response = client.get("/api/v1/alerts", headers=bearer(client, people.alice))
    assert response.status_code == 200
    assert [a["id"] for a in response.get_json()] == [
        inbox["high_old"],
        inbox["high_new"],
        inbox["medium_old"],
        inbox["medium_new"],
        inbox["low"],
    ]


def test_acknowledging_with_a_note_closes_the_alert_once(client, people, inbox):
    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=people.bob.id))
    db.session.commit()
    alice = bearer(client, people.alice)
    ack = client.post(f"/api/v1/alerts/{inbox['high_old']}/ack", json={"note": "Called Pat; safe."}, headers=alice)
    assert ack.status_code == 200
    body = ack.get_json()
    assert (body["id"], body["note"], body["acknowledged_by_id"]) == (
        inbox["high_old"],
        "Called Pat; safe.",
        people.alice.id,
    )
    assert body["acknowledged_at"] is not None
    # A colleague's second acknowledgement does not replace Alice's note.
    again = client.post(
        f"/api/v1/alerts/{inbox['high_old']}/ack", json={"note": "Me too"}, headers=bearer(client, people.bob)
    )
    assert again.status_code == 409
    assert db.session.get(Alert, inbox["high_old"]).note == "Called Pat; safe."
    open_ids = [a["id"] for a in client.get("/api/v1/alerts?status=open", headers=alice).get_json()]
    every_id = [a["id"] for a in client.get("/api/v1/alerts?status=all", headers=alice).get_json()]
    assert inbox["high_old"] not in open_ids and len(open_ids) == 4
    assert inbox["high_old"] in every_id and len(every_id) == 5
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail).where(AuditEvent.action == "alert.ack")
    ).all()
    assert events == [(people.alice.id, people.pat.id, f"alert {inbox['high_old']}")]


@pytest.mark.parametrize("body", [{}, {"note": ""}, {"note": "x" * 2001}, {"note": "ok", "extra": 1}])
def test_an_acknowledgement_needs_a_note(client, people, inbox, body):
    response = client.post(f"/api/v1/alerts/{inbox['low']}/ack", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 422
    assert db.session.get(Alert, inbox["low"]).acknowledged_at is None


def test_a_whitespace_note_is_refused(client, people, inbox):
    response = client.post(
        f"/api/v1/alerts/{inbox['low']}/ack", json={"note": "   "}, headers=bearer(client, people.alice)
    )
    assert response.status_code == 422
    assert db.session.get(Alert, inbox["low"]).acknowledged_at is None


def test_alerts_about_other_teams_patients_are_invisible(client, people, inbox):
    charlie = bearer(client, people.charlie)
    assert [a["id"] for a in client.get("/api/v1/alerts?status=all", headers=charlie).get_json()] == [inbox["quinn"]]
    ack = client.post(f"/api/v1/alerts/{inbox['high_old']}/ack", json={"note": "not mine"}, headers=charlie)
    assert ack.status_code == 404
    assert db.session.get(Alert, inbox["high_old"]).acknowledged_at is None
    assert client.get("/api/v1/alerts?status=bogus", headers=bearer(client, people.alice)).status_code == 422
    assert client.get("/api/v1/alerts", headers=bearer(client, people.pat)).status_code == 404
