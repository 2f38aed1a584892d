"""GET /api/v1/patients/{id}/summary, ``instruments``: per questionnaire of the patient's indications, the
baseline chosen by the rule (PHQ-R9, repeated by PCL-R8 and PEG-R4) or why there is none, the latest form, the
change, and the instrument's own rule: PCL-5 5 and 10 points and worsening (PCL-R8), PEG 30 % (PEG-R4), PHQ
response and remission (PHQ-R9); none for the GAD-7, PACS and AUDIT-C (AUDC-R5's screen is reported as is).

Pat lives in America/Chicago and is treated for PTSD, chronic pain and alcohol use; ``D`` is the local date of her
first given session, 20 days ago at noon.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from journal.assessments import submit
from journal.db import db, utcnow
from tests.conftest import bearer
from tests.outcome_data import PHQ9_ANSWERS, at_local, given_session, local_today

SESSION_DAYS_AGO = 20


def spread(total: int, count: int, highest: int) -> list[int]:
    """``count`` answers, each at most ``highest``, adding up to ``total`` (filled from the first item)."""
    answers = []
    for _ in range(count):
        answers.append(min(highest, total))
        total -= answers[-1]
    assert total == 0, "total out of range"
    return answers


def _day(people, days_before_session: int, hour: int = 12):
    d = local_today(people.pat, utcnow()) - timedelta(days=SESSION_DAYS_AGO)
    return at_local(people.pat, d - timedelta(days=days_before_session), hour)


def _form(people, instrument: str, answers: list, days_before_session: int):
    """A paper form entered by Alice an hour after it was completed."""
    at = _day(people, days_before_session)
    data = {"instrument": instrument, "answers": answers, "completed_at": at}
    form, _ = submit(db.session, people.pat.patient, data, at + timedelta(hours=1), people.alice)
    return form


def _treated(people, *indications: str, sex: str = "unknown") -> None:
    patient = people.pat.patient
    patient.indications = list(indications)
    patient.sex = sex
    db.session.flush()


def _session(people):
    start = _day(people, 0)
    return given_session(people.pat, people.alice, start, start + timedelta(hours=3))


def _instruments(client, people, who=None) -> dict[str, dict]:
    response = client.get(f"/api/v1/patients/{people.pat.id}/summary", headers=bearer(client, who or people.alice))
    assert response.status_code == 200, response.get_json()
    return {item["instrument"]: item for item in response.get_json()["instruments"]}


def test_instruments_follow_the_patients_indications_in_page_order(client, people):
    _treated(people, "ptsd", "chronic_pain", "alcohol")
    db.session.commit()
    assert list(_instruments(client, people)) == ["phq9", "gad7", "pcl5", "peg", "auditc", "pacs"]


@pytest.mark.parametrize(
    ("later", "change", "response", "meaningful", "worsening"),
    [
        (35, -5, True, False, False),  # exactly 5 points lower: response
        (36, -4, False, False, False),
        (30, -10, True, True, False),  # exactly 10 lower: clinically meaningful as well
        (45, 5, False, False, True),  # a rise of 5: worsening
    ],
)
def test_pcl5_baseline_by_the_rule_then_a_later_form_judged_by_5_and_10_points(
    client, people, later, change, response, meaningful, worsening
):
    _treated(people, "ptsd")
    baseline = _form(people, "pcl5", spread(40, 20, 4), 5)  # PCL-R8: 5 days before the first session
    _session(people)
    latest = _form(people, "pcl5", spread(later, 20, 4), -14)
    db.session.commit()

    pcl5 = _instruments(client, people)["pcl5"]
    assert pcl5["baseline"]["assessment_id"] == baseline.id and pcl5["baseline"]["chosen_by"] == "rule"
    assert pcl5["baseline"]["total"] == 40 and pcl5["baseline_missing"] is False
    assert pcl5["latest"]["assessment_id"] == latest.id and pcl5["latest"]["total"] == later
    assert pcl5["change"] == change
    assert pcl5["response"] is response and pcl5["remission"] is None
    assert pcl5["flags"] == {
        "pcl_response": response,
        "pcl_clinically_meaningful": meaningful,
        "worsening": worsening,
    }
    assert pcl5["rule"] == "pcl5_points"
    # The form's own results, with the cut-point in force (PCL-R6, PCL-R7).
    assert pcl5["latest"]["cut_point"] == 33
    assert pcl5["latest"]["probable_ptsd"] is (later >= 33)
    assert set(pcl5["latest"]["clusters"]) == {"B", "C", "D", "E"}
    assert sum(pcl5["latest"]["clusters"].values()) == later


@pytest.mark.parametrize(
    ("later_sum", "improved", "pct"),
    [
        (14, True, 30.0),  # exactly 30 % below a baseline sum of 20 (10 x 6 >= 3 x 20)
        (15, False, 25.0),
        (21, False, -5.0),
    ],
)
def test_peg_improved_at_exactly_30_percent_below_the_baseline(client, people, later_sum, improved, pct):
    _treated(people, "chronic_pain")
    _form(people, "peg", spread(20, 3, 10), 3)
    _session(people)
    _form(people, "peg", spread(later_sum, 3, 10), -7)
    db.session.commit()

    peg = _instruments(client, people)["peg"]
    assert peg["baseline"]["chosen_by"] == "rule" and peg["baseline"]["total"] == 20
    assert peg["baseline"]["score"] == 6.7  # 20 / 3, half-up to one decimal (PEG-R3)
    assert peg["latest"]["total"] == later_sum and peg["latest"]["peg_sum"] == later_sum
    assert peg["change"] == later_sum - 20
    assert (peg["response"], peg["flags"]["peg_improved_30"], peg["flags"]["peg_pct_reduction"]) == (
        improved,
        improved,
        pct,
    )
    assert peg["rule"] == "peg_30_percent" and peg["remission"] is None


def test_auditc_reports_the_screen_with_the_threshold_used_and_no_change_rule(client, people):
    _treated(people, "alcohol", sex="male")
    _form(people, "auditc", [2, 1, 1], 2)  # 4: positive for a man (AUDC-R5)
    _session(people)
    db.session.commit()

    auditc = _instruments(client, people)["auditc"]
    assert auditc["baseline"]["chosen_by"] == "rule" and auditc["baseline"]["total"] == 4
    latest = auditc["latest"]
    assert (latest["total"], latest["positive"], latest["threshold"], latest["threshold_basis"]) == (4, True, 4, "male")
    assert latest["all_points_from_item1"] is False
    assert (auditc["change"], auditc["response"], auditc["remission"]) == (None, None, None)
    assert auditc["flags"] == {} and auditc["rule"] == "none"


def test_a_phq9_after_the_rule_baseline_is_judged_by_response_and_remission(client, people):
    _form(people, "phq9", PHQ9_ANSWERS[18], 5)
    _session(people)
    _form(people, "phq9", PHQ9_ANSWERS[9], -14)
    db.session.commit()

    phq9 = _instruments(client, people)["phq9"]
    assert (phq9["change"], phq9["response"], phq9["remission"], phq9["pct_reduction"]) == (-9, True, False, 50.0)
    assert phq9["rule"] == "response_remission" and phq9["baseline_below_usual"] is False


def test_a_course_with_no_qualifying_form_says_so_per_instrument(client, people):
    _treated(people, "ptsd", "alcohol")
    _form(people, "pcl5", spread(40, 20, 4), 20)  # 20 days before the first session: outside the 14 days
    _form(people, "pacs", [3, 3, 3, 3, 3], 15)
    _session(people)
    later = _form(people, "pcl5", spread(30, 20, 4), -14)
    db.session.commit()

    each = _instruments(client, people)
    for key in ("phq9", "gad7", "pcl5", "auditc", "pacs"):
        assert each[key]["baseline_missing"] is True, key
        assert each[key]["baseline_missing_reason"] == "no_form_in_window", key
        assert each[key]["baseline"]["note"].startswith("No baseline: no form was completed in the 14 days"), key
    # A later form has nothing to be measured against: no change, no response.
    assert each["pcl5"]["latest"]["assessment_id"] == later.id
    assert (each["pcl5"]["change"], each["pcl5"]["response"], each["pcl5"]["flags"]) == (None, None, {})
    assert each["pacs"]["latest"]["total"] == 15 and each["pacs"]["rule"] == "none"


def test_before_any_given_session_every_instrument_says_none_can_be_chosen_yet(client, people):
    _treated(people, "chronic_pain")
    _form(people, "peg", spread(20, 3, 10), 3)
    db.session.commit()

    each = _instruments(client, people)
    assert {key: item["baseline_missing_reason"] for key, item in each.items()} == {
        "phq9": "no_given_session",
        "gad7": "no_given_session",
        "peg": "no_given_session",
    }
    assert each["peg"]["latest"]["score"] == 6.7 and each["peg"]["change"] is None


def test_a_clinicians_replacement_of_the_pcl5_baseline_is_reported_as_hers(client, people):
    _treated(people, "ptsd")
    _form(people, "pcl5", spread(40, 20, 4), 5)
    _session(people)
    chosen = _form(people, "pcl5", spread(50, 20, 4), -3)
    _form(people, "pcl5", spread(40, 20, 4), -30)
    db.session.commit()
    response = client.put(
        f"/api/v1/patients/{people.pat.id}/baselines/pcl5",
        json={"assessment_id": chosen.id},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 200, response.get_json()

    pcl5 = _instruments(client, people)["pcl5"]
    assert pcl5["baseline"]["chosen_by"] == "clinician" and pcl5["baseline"]["chosen_by_name"] == "Alice Adams"
    assert (pcl5["change"], pcl5["flags"]["pcl_clinically_meaningful"]) == (-10, True)


def test_another_teams_clinician_gets_404_for_the_summary(client, people):
    _treated(people, "ptsd")
    db.session.commit()
    response = client.get(f"/api/v1/patients/{people.pat.id}/summary", headers=bearer(client, people.charlie))
    assert response.status_code == 404
    assert "instruments" not in (response.get_json() or {})


def test_the_phq9_fields_the_summary_had_stay_as_they_were(client, people):
    _form(people, "phq9", PHQ9_ANSWERS[18], 5)
    _session(people)
    _form(people, "phq9", PHQ9_ANSWERS[9], -14)
    db.session.commit()
    response = client.get(f"/api/v1/patients/{people.pat.id}/summary", headers=bearer(client, people.alice))
    body = response.get_json()
    assert (body["baseline_total"], body["response"], body["remission"], body["baseline_missing"]) == (
        18,
        True,
        False,
        False,
    )


def _report_text(client, people) -> str:
    import io

    from pypdf import PdfReader

    response = client.get(f"/api/v1/patients/{people.pat.id}/report.pdf", headers=bearer(client, people.alice))
    assert response.status_code == 200
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.data)).pages)


def test_the_report_gives_each_questionnaires_baseline_latest_and_change_rule_result(client, people):
    _treated(people, "ptsd", "chronic_pain", "alcohol", sex="male")
    _form(people, "pcl5", spread(40, 20, 4), 5)
    _form(people, "peg", spread(20, 3, 10), 3)
    _form(people, "auditc", [2, 1, 1], 2)
    _session(people)
    _form(people, "pcl5", spread(30, 20, 4), -14)
    _form(people, "peg", spread(14, 3, 10), -14)
    db.session.commit()

    text = _report_text(client, people)
    assert "Each questionnaire: baseline, latest and change" in text
    assert "chosen by the rule (the closest form at most 14 days before the first dosing session)" in text
    assert (
        "-10 from the baseline of 40; response (5 points or more lower): yes; clinically meaningful (10 points or "
        "more lower): yes" in text
    )
    assert "provisional DSM-5 symptom pattern" in text and "score at or above screening cut-point" in text
    assert "4.7 (sum 14 of 30)" in text and "30 % or more lower: yes (30.0 % lower)" in text
    assert "positive screen: yes (threshold 4, for a man)" in text
    assert "No baseline: no form was completed in the 14 days before the first dosing session" in text  # PHQ-9


def test_a_summary_with_every_instrument_keeps_to_the_api_document(app, client, people):
    from tests.test_api_fuzz import call_and_check, schema

    _treated(people, "ptsd", "chronic_pain", "alcohol", sex="female")
    _form(people, "pcl5", spread(40, 20, 4), 5)
    _form(people, "peg", spread(20, 3, 10), 3)
    _form(people, "auditc", [0, None, None], 2)  # AUDC-R3: items 2 and 3 not asked after "Never"
    _form(people, "pacs", [1, 1, 1, 1, 1], 1)
    _form(people, "phq9", PHQ9_ANSWERS[18], 1)
    _session(people)
    _form(people, "pcl5", spread(45, 20, 4), -14)
    _form(people, "peg", spread(0, 3, 10), -14)
    _form(people, "phq9", PHQ9_ANSWERS[4], -14)
    db.session.commit()

    case = schema["/api/v1/patients/{patient_id}/summary"]["GET"].Case(path_parameters={"patient_id": people.pat.id})
    response = call_and_check(case, app, client, bearer(client, people.alice))
    each = {item["instrument"]: item for item in response.json()["instruments"]}
    assert each["pcl5"]["flags"]["worsening"] is True and each["peg"]["flags"]["peg_improved_30"] is True
    assert each["auditc"]["latest"]["skipped"] is True and each["phq9"]["remission"] is True
