"""POST /api/v1/assessments for the PCL-5, PEG, PACS, AUDIT-C and the PHQ-8: scored on the server and answered
with the names clinical/SPEC.md uses; refused, at ``answers`` or ``instrument``, when the set or the person is wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from journal.db import db
from journal.models import Alert, Assessment
from tests.conftest import bearer

ASSESSMENTS = "/api/v1/assessments"


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _give(user, *indications, sex: str | None = None) -> None:
    user.patient.indications = list(indications)
    if sex is not None:
        user.patient.sex = sex
    db.session.commit()


def _yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).isoformat()


def test_pcl_r6_a_ptsd_patient_gets_total_clusters_and_both_flags_with_the_cut_point(client, people):
    _give(people.pat, "ptsd")
    answers = [*(2, 0, 0, 0, 0), *(2, 0), *(2, 2, 0, 0, 0, 0, 0), *(2, 2, 0, 0, 0, 0)]  # B, C, D, E
    response = client.post(
        ASSESSMENTS, json={"instrument": "pcl5", "answers": answers}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["total"] == 12
    assert body["clusters"] == {"B": 2, "C": 2, "D": 4, "E": 4}
    assert (body["provisional_ptsd"], body["probable_ptsd"], body["cut_point"]) == (True, False, 33)
    assert body["crisis"] is None and _count(Alert) == 0  # PCL-5 item 16 is not a suicide screen (SPEC 3.6)
    stored = db.session.scalar(select(Assessment))
    assert stored.scores["clusters"]["D"] == 4 and stored.answers == answers


def test_pcl_r6_the_clinic_cut_point_in_force_is_stored_with_the_result(client, people):
    people.clinic.pcl5_cut_point = 31
    _give(people.pat, "ptsd")
    answers = [4] * 7 + [3] + [0] * 12  # 31
    body = client.post(ASSESSMENTS, json={"instrument": "pcl5", "answers": answers}, headers=bearer(client, people.pat))
    assert (body.get_json()["probable_ptsd"], body.get_json()["cut_point"]) == (True, 31)


def test_peg_r3_a_pain_patient_gets_the_one_decimal_score_and_the_sum(client, people):
    _give(people.pat, "chronic_pain")
    response = client.post(
        ASSESSMENTS, json={"instrument": "peg", "answers": [5, 5, 4]}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["total"], body["peg_sum"], body["score"], body["band"]) == (14, 14, 4.7, None)


@pytest.mark.parametrize(
    ("sex", "answers", "positive", "threshold", "basis"),
    [
        ("male", [1, 1, 1], False, 4, "male"),
        ("female", [1, 1, 1], True, 3, "female"),
        (None, [1, 1, 1], True, 3, "default-lower"),
    ],
)
def test_audc_r5_the_positive_screen_uses_the_patients_recorded_sex(
    client, people, sex, answers, positive, threshold, basis
):
    _give(people.pat, "alcohol", sex=sex)
    response = client.post(
        ASSESSMENTS, json={"instrument": "auditc", "answers": answers}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["total"], body["positive"], body["threshold"], body["threshold_basis"]) == (
        3,
        positive,
        threshold,
        basis,
    )


def test_audc_r3_never_then_nothing_is_stored_as_zeros_and_skipped(client, people):
    _give(people.pat, "alcohol")
    response = client.post(
        ASSESSMENTS, json={"instrument": "auditc", "answers": [0, None, None]}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["total"], response.get_json()["skipped"]) == (0, True)
    assert db.session.scalar(select(Assessment.answers)) == [0, 0, 0]


def test_pacs_r3_a_clinician_enters_a_paper_pacs_but_a_patient_is_never_offered_it(client, people):
    _give(people.pat, "alcohol")
    refused = client.post(
        ASSESSMENTS, json={"instrument": "pacs", "answers": [1] * 5}, headers=bearer(client, people.pat)
    )
    assert refused.status_code == 422 and "instrument" in refused.get_json()["errors"]["json"]
    body = {"instrument": "pacs", "answers": [1, 2, 3, 4, 5], "patient_id": people.pat.id, "completed_at": _yesterday()}
    entered = client.post(ASSESSMENTS, json=body, headers=bearer(client, people.alice))
    assert entered.status_code == 201, entered.get_json()
    assert (entered.get_json()["total"], entered.get_json()["source"]) == (15, "clinician")


def test_a_clinician_of_another_team_cannot_enter_a_form_for_the_patient(client, people):
    _give(people.pat, "alcohol")
    body = {"instrument": "pacs", "answers": [1] * 5, "patient_id": people.pat.id, "completed_at": _yesterday()}
    assert client.post(ASSESSMENTS, json=body, headers=bearer(client, people.charlie)).status_code == 404
    assert _count(Assessment) == 0


def test_a_patient_fills_in_only_the_questionnaires_of_their_programme(client, people):
    _give(people.pat, "depression")
    headers = bearer(client, people.pat)
    for instrument, answers in (("pcl5", [0] * 20), ("peg", [0, 0, 0]), ("auditc", [1, 1, 1])):
        response = client.post(ASSESSMENTS, json={"instrument": instrument, "answers": answers}, headers=headers)
        assert response.status_code == 422, instrument
        assert "not part of your programme" in response.get_json()["errors"]["json"]["instrument"][0]
    assert _count(Assessment) == 0


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [
        ("pcl5", [0] * 19),
        ("pcl5", [5] + [0] * 19),
        ("pcl5", [None] + [0] * 19),
        ("peg", [11, 0, 0]),
        ("peg", [0, 0]),
        ("auditc", [1, None, 0]),
        ("auditc", [0, 3, None]),
    ],
)
def test_pcl_r9_peg_r5_audc_r4_invalid_answer_sets_are_refused_at_answers_and_nothing_is_stored(
    client, people, instrument, answers
):
    _give(people.pat, "ptsd", "chronic_pain", "alcohol")
    response = client.post(
        ASSESSMENTS, json={"instrument": instrument, "answers": answers}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 422
    assert "answers" in response.get_json()["errors"]["json"]
    assert _count(Assessment) == 0


def test_a_clinicians_paper_pcl5_with_an_unanswered_item_is_refused_never_prorated(client, people):
    body = {
        "instrument": "pcl5",
        "answers": [None] + [2] * 19,
        "patient_id": people.pat.id,
        "completed_at": _yesterday(),
    }
    response = client.post(ASSESSMENTS, json=body, headers=bearer(client, people.alice))
    assert response.status_code == 422 and "answers" in response.get_json()["errors"]["json"]


def test_safe_r4_a_phq8_clinic_records_the_phq8_with_no_safety_pathway_and_refuses_the_phq9(client, people):
    people.clinic.depression_instrument = "phq8"
    db.session.commit()
    headers = bearer(client, people.pat)
    refused = client.post(ASSESSMENTS, json={"instrument": "phq9", "answers": [0] * 8 + [3]}, headers=headers)
    assert refused.status_code == 422 and "PHQ-8" in refused.get_json()["errors"]["json"]["instrument"][0]
    response = client.post(ASSESSMENTS, json={"instrument": "phq8", "answers": [3] * 8}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["total"], body["band"], body["safety"], body["crisis"]) == (24, "severe", None, None)
    assert _count(Alert) == 0


def test_pcl_r10_a_patient_cannot_fill_in_the_pcl5_again_within_21_days(client, people):
    _give(people.pat, "ptsd")
    headers = bearer(client, people.pat)
    first = client.post(ASSESSMENTS, json={"instrument": "pcl5", "answers": [1] * 20}, headers=headers)
    assert first.status_code == 201
    again = client.post(ASSESSMENTS, json={"instrument": "pcl5", "answers": [1] * 20}, headers=headers)
    assert again.status_code == 409
    assert _count(Assessment) == 1


def test_a_clinics_longer_minimum_gap_holds_for_a_form_sent_through_the_api(client, people):
    from journal.assessments import submit
    from journal.models import InstrumentSchedule

    _give(people.pat, "ptsd")
    db.session.add(InstrumentSchedule(clinic_id=people.clinic.id, instrument="pcl5", every_days=28, min_gap_days=28))
    submit(
        db.session,
        people.pat.patient,
        {"instrument": "pcl5", "answers": [1] * 20, "completed_at": datetime.now(UTC) - timedelta(days=22)},
        datetime.now(UTC),
        people.alice,
    )
    db.session.commit()
    headers = bearer(client, people.pat)
    again = client.post(ASSESSMENTS, json={"instrument": "pcl5", "answers": [1] * 20}, headers=headers)
    assert again.status_code == 409  # 22 days is past the definition's 21, not the clinic's 28
    assert _count(Assessment) == 1
