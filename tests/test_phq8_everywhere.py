"""SAFE-R4 everywhere: in a clinic that chose the PHQ-8 in place of the PHQ-9, every page and document that reports
depression (the summary API's outcome fields, the patient page's summary and questionnaire legend, page 1 of the
report, the alert card and the clinic overview) reads the PHQ-8 and names it, never "no PHQ-9 yet".

Pat (America/Chicago) is Alice's patient in Riverside Clinic, which has chosen the PHQ-8. Her first given session
was 20 days ago at noon; a PHQ-8 of 16 five days before it becomes the baseline by the rule (PHQ-R9), and a PHQ-8
of 8 fourteen days after it is exactly 50 % lower: a response, not a remission.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from journal import analytics
from journal.alerts import raise_alert
from journal.assessments import submit
from journal.db import db, utcnow
from journal.models import Role
from tests.conftest import bearer
from tests.outcome_data import at_local, given_session, local_today

SESSION_DAYS_AGO = 20


def _at(people, days_after_session: int, hour: int = 12):
    day = local_today(people.pat, utcnow()) - timedelta(days=SESSION_DAYS_AGO - days_after_session)
    return at_local(people.pat, day, hour)


def _phq8(people, total_each: int, days_after_session: int):
    """A paper PHQ-8 entered by Alice an hour after it was completed: eight answers of ``total_each``."""
    at = _at(people, days_after_session)
    data = {"instrument": "phq8", "answers": [total_each] * 8, "completed_at": at}
    form, _ = submit(db.session, people.pat.patient, data, at + timedelta(hours=1), people.alice)
    return form


@pytest.fixture
def phq8_clinic(people):
    people.clinic.depression_instrument = "phq8"
    db.session.commit()
    return people


@pytest.fixture
def course(phq8_clinic):
    """Baseline 16 by the rule, then 8 after the session."""
    people = phq8_clinic
    _phq8(people, 2, -5)
    start = _at(people, 0)
    given_session(people.pat, people.alice, start, start + timedelta(hours=3))
    _phq8(people, 1, 14)
    db.session.commit()


def _summary(client, people) -> dict:
    response = client.get(f"/api/v1/patients/{people.pat.id}/summary", headers=bearer(client, people.alice))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return _text(page[start : page.index("</section>", start)])


def test_the_summary_api_reports_response_and_remission_of_the_phq8_baseline_chosen_by_the_rule(
    client, phq8_clinic, course
):
    summary = _summary(client, phq8_clinic)
    assert summary["depression_instrument"] == "phq8"
    assert (summary["depression"]["total"], summary["depression"]["change_from_baseline"]) == (8, -8)
    assert summary["baseline_total"] == 16 and summary["baseline_missing"] is False
    assert (summary["response"], summary["remission"], summary["pct_reduction"]) == (True, False, 50.0)
    assert summary["phq9"] is None  # the PHQ-9 field stays the PHQ-9's own: there is none
    assert "depression_name" not in summary  # a page-only field, not in the API's document


def test_a_phq9_clinics_summary_names_the_phq9_as_its_depression_questionnaire(client, people):
    summary = _summary(client, people)
    assert (summary["depression_instrument"], summary["depression"], summary["baseline_missing"]) == (
        "phq9",
        None,
        True,
    )


def test_the_patient_page_summary_names_the_phq8_and_never_the_phq9(client, auth, phq8_clinic, course):
    auth.login(phq8_clinic.alice)
    page = client.get(f"/clinician/patients/{phq8_clinic.pat.id}").get_data(as_text=True)
    summary = _section(page, "summary")
    assert "Latest PHQ-8 8, mild," in summary and "-8 from the baseline" in summary
    assert "Response Yes : 8 against the baseline of 16 (50.0 % lower)" in summary
    assert "Remission No : latest PHQ-8 8" in summary
    assert "response is a PHQ-8 at least 50 % below" in summary
    assert "PHQ-9" not in summary
    assert "A PHQ-8 total 50 % or more below the baseline total" in _text(page)


def test_without_a_phq8_baseline_the_summary_says_so_by_its_name(client, auth, phq8_clinic):
    auth.login(phq8_clinic.alice)
    page = client.get(f"/clinician/patients/{phq8_clinic.pat.id}").get_data(as_text=True)
    summary = _section(page, "summary")
    assert "Latest PHQ-8 No PHQ-8 yet" in summary
    assert "Not measured: no PHQ-8 baseline chosen yet" in summary
    assert "PHQ-9" not in summary


def test_page_one_of_the_report_reads_the_phq8(client, phq8_clinic, course):
    path = f"/api/v1/patients/{phq8_clinic.pat.id}/report.pdf"
    response = client.get(path, headers=bearer(client, phq8_clinic.alice))
    assert response.status_code == 200
    first = " ".join(PdfReader(io.BytesIO(response.data)).pages[0].extract_text().split())
    assert "Latest PHQ-8 8 (" in first
    assert "PHQ-8 baseline 16 on" in first and "chosen by the rule" in first
    assert "Response (PHQ-8 at least 50 % below baseline) Yes (50 % lower than baseline)" in first
    assert "Remission (PHQ-8 under 5) No" in first
    assert "PHQ-9" not in first


def _missed_days_alert(people):
    raise_alert(
        db.session,
        utcnow() - timedelta(hours=1),
        patient_id=people.pat.id,
        kind="missed_checkins",
        severity="low",
        reason="No check-in for 3 days.",
        dedup_key=f"test:{people.pat.id}:missed",
    )
    db.session.commit()


def test_the_alert_card_shows_the_latest_phq8_out_of_24_without_an_item_9(client, auth, phq8_clinic, course):
    _missed_days_alert(phq8_clinic)
    auth.login(phq8_clinic.alice)
    page = _text(client.get("/clinician/alerts").get_data(as_text=True))
    assert "Latest PHQ-8 Total 8 of 24; completed" in page
    assert "item 9" not in page and "PHQ-9" not in page


def test_the_alert_card_of_a_phq8_clinic_with_no_form_yet_names_the_phq8(client, auth, phq8_clinic):
    _missed_days_alert(phq8_clinic)
    auth.login(phq8_clinic.alice)
    page = _text(client.get("/clinician/alerts").get_data(as_text=True))
    assert "Latest PHQ-8 None completed yet" in page


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.ADMIN])
def test_the_clinic_overview_counts_and_names_the_phq8(client, auth, phq8_clinic, course, role):
    auth.login(phq8_clinic.alice if role == Role.CLINICIAN else phq8_clinic.ada)
    path = "/clinician/overview" if role == Role.CLINICIAN else "/admin/overview"
    response = client.get(path)
    assert response.status_code == 200
    page = _text(response.get_data(as_text=True))
    assert "With a PHQ-8 baseline" in page and "PHQ-8 change from baseline at the latest form" in page
    assert "PHQ-9" not in page


def test_the_booster_review_reason_names_the_clinics_questionnaire():
    day = utcnow().date()
    watch = analytics.booster_watch(
        [(day - timedelta(days=20), 4), (day, 10)], 16, {}, day - timedelta(days=30), day, name="PHQ-8"
    )
    assert watch.flag and watch.reasons[0] == "PHQ-8 10 is 6 points above the post-series low of 4"
