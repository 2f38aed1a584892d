"""PHQ-R9 (SPEC 1.6): the baseline is the form completed closest to, and before, the first dosing session of the
course, at most 14 days before it, stored explicitly; response is 2 x current <= baseline (null for a baseline of
0), remission a total under 5.

"At most 14 days" is counted in the patient's own calendar days: a form on the local date 14 days before the first
session's local date qualifies whatever its hour; a form on the day before that does not.

Pat lives in America/Chicago. ``D`` below is the local date of Pat's first given session, 20 days ago at noon.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from journal import patient_data
from journal.assessments import submit
from journal.baselines import apply_rule_everywhere
from journal.db import db, utcnow
from journal.models import AuditEvent, Baseline
from journal.sessions import save_session
from tests.conftest import bearer
from tests.outcome_data import PHQ9_ANSWERS, at_local, given_session, local_today

SESSION_DAYS_AGO = 20


def _form(people, at, total=None, *, answers=None, instrument="phq9"):
    """A paper form entered by Alice an hour after it was completed."""
    data = {"instrument": instrument, "answers": answers or PHQ9_ANSWERS[total], "completed_at": at}
    form, _ = submit(db.session, people.pat.patient, data, at + timedelta(hours=1), people.alice)
    return form


def _day(people, days_before_session, hour=12):
    """An instant ``hour`` o'clock local, ``days_before_session`` days before D (negative: after D)."""
    pat = people.pat
    d = local_today(pat, utcnow()) - timedelta(days=SESSION_DAYS_AGO)
    return at_local(pat, d - timedelta(days=days_before_session), hour)


def _session(people, days_before_session=0, hour=12, **extra):
    start = _day(people, days_before_session, hour)
    return given_session(people.pat, people.alice, start, start + timedelta(hours=3), **extra)


def _summary(client, people):
    response = client.get(f"/api/v1/patients/{people.pat.id}/summary", headers=bearer(client, people.alice))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _states(people):
    """The summary as the patient page gets it (with its per-instrument baselines)."""
    now = utcnow()
    summary = patient_data.summary(patient_data.load(db.session, people.pat.patient, now), now)
    return summary, {item["instrument"]: item for item in summary["baselines"]}


def _row(people, instrument="phq9"):
    db.session.expire_all()
    return db.session.get(Baseline, {"patient_id": people.pat.id, "instrument": instrument})


@pytest.mark.parametrize("session_first", [False, True], ids=["form-then-session", "session-then-paper-form"])
def test_a_phq9_five_days_before_the_first_given_session_becomes_the_baseline_by_itself(client, people, session_first):
    if session_first:
        _session(people)
        baseline_form = _form(people, _day(people, 5), 18)
    else:
        baseline_form = _form(people, _day(people, 5), 18)
        _session(people)
    _form(people, _day(people, -14), 9)  # two weeks after D: exactly 50 % lower
    db.session.commit()

    row = _row(people)
    assert row is not None and row.assessment_id == baseline_form.id and row.chosen_by_id is None
    body = _summary(client, people)
    assert (body["baseline_total"], body["response"], body["remission"], body["pct_reduction"]) == (
        18,
        True,
        False,
        50.0,
    )
    assert body["phq9"]["change_from_baseline"] == -9
    (phq9,) = [item for item in body["baselines"] if item["instrument"] == "phq9"]
    assert (phq9["chosen_by"], phq9["assessment_id"], phq9["total"]) == ("rule", baseline_form.id, 18)
    summary, states = _states(people)
    assert summary["baseline_missing"] is False
    assert states["phq9"]["chosen_by"] == "rule" and states["phq9"]["missing"] is None


def test_a_phq9_twenty_days_before_the_first_session_is_not_a_baseline_and_the_summary_says_none_qualifies(
    client, people
):
    _form(people, _day(people, 20), 18)
    _session(people)
    _form(people, _day(people, -14), 9)
    db.session.commit()

    assert _row(people) is None
    body = _summary(client, people)
    assert (body["baseline_total"], body["response"], body["remission"]) == (None, None, None)
    assert body["baseline_missing"] is True
    (phq9,) = [item for item in body["baselines"] if item["instrument"] == "phq9"]
    assert (phq9["missing"], phq9["assessment_id"]) == ("no_form_in_window", None)
    summary, states = _states(people)
    assert summary["baseline_missing"] is True
    assert states["phq9"]["missing"] == "no_form_in_window"
    assert states["phq9"]["note"] == (
        "No baseline: no form was completed in the 14 days before the first dosing session of the course."
    )


def test_the_patient_page_says_in_words_that_no_form_qualified(client, people, auth):
    _form(people, _day(people, 20), 18)
    _session(people)
    db.session.commit()
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert (
        "PHQ-9 baseline: No baseline: no form was completed in the 14 days before the first dosing session of the "
        "course." in page
    )


def test_before_any_session_there_is_no_baseline_and_the_summary_says_why(people):
    _form(people, _day(people, 5), 18)
    db.session.commit()
    assert _row(people) is None
    summary, states = _states(people)
    assert summary["baseline_missing"] is True and states["phq9"]["missing"] == "no_given_session"


def test_a_planned_session_does_not_anchor_the_rule(people):
    _form(people, _day(people, 5), 18)
    start = _day(people, 0)
    data = {
        "status": "planned",
        "start": start,
        "route": "iv",
        "product": "Ketamine",
        "dose": 0.5,
        "dose_unit": "mg/kg",
    }
    save_session(db.session, people.pat.patient, data, start - timedelta(days=1), people.alice)
    db.session.commit()
    assert _row(people) is None


@pytest.mark.parametrize(
    ("days_before", "hour", "qualifies"),
    [
        (14, 8, True),  # day D-14 at 08:00: more than 14 x 24 hours before the noon session, yet on the 14th day
        (14, 23, True),
        (15, 23, False),  # day D-15 at 23:00: under 14 days 13 hours before, but on the 15th day
        (0, 11, True),  # the session's own day, an hour before it started
    ],
)
def test_at_most_14_days_is_counted_in_the_patients_calendar_days(people, days_before, hour, qualifies):
    form = _form(people, _day(people, days_before, hour), 18)
    _session(people)
    db.session.commit()
    row = _row(people)
    assert (row is not None and row.assessment_id == form.id) is qualifies


def test_the_closest_of_two_qualifying_forms_wins_even_when_the_closer_is_entered_later(people):
    _form(people, _day(people, 10), 18)
    _session(people)
    closer = _form(people, _day(people, 3), 17)  # a paper form completed before D, entered after it
    db.session.commit()
    row = _row(people)
    assert row.assessment_id == closer.id and row.chosen_by_id is None


@pytest.mark.parametrize("after", [(0, 13), (-1, 12), (-10, 12)], ids=["same-day-after-start", "next-day", "later"])
def test_a_form_completed_after_the_first_given_session_is_never_a_baseline_by_the_rule(people, after):
    _session(people)
    _session(people, -7)  # a second session: a form before it but after the first still does not qualify
    days_before, hour = after
    _form(people, _day(people, days_before, hour), 18)
    db.session.commit()
    assert _row(people) is None


def test_a_form_after_the_first_session_does_not_replace_the_rules_baseline(people):
    before = _form(people, _day(people, 5), 18)
    _session(people)
    _form(people, _day(people, -1), 9)
    _session(people, -7)
    db.session.commit()
    assert _row(people).assessment_id == before.id


def test_a_clinicians_replacement_sticks_when_later_forms_and_sessions_arrive_and_is_audited(client, people, auth):
    by_rule = _form(people, _day(people, 5), 18)
    chosen = _form(people, _day(people, 12), 17)
    _session(people)
    db.session.commit()
    assert _row(people).assessment_id == by_rule.id

    response = client.put(
        f"/api/v1/patients/{people.pat.id}/baselines/phq9",
        json={"assessment_id": chosen.id},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 200, response.get_json()
    _form(people, _day(people, 1), 18)  # a closer qualifying form, entered later
    _session(people, -3)
    _form(people, _day(people, -10), 5)
    db.session.commit()

    row = _row(people)
    assert row.assessment_id == chosen.id and row.chosen_by_id == people.alice.id
    assert _summary(client, people)["baseline_total"] == 17
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.patient_id == people.pat.id, AuditEvent.action == "baseline.set")
    ).all()
    assert [(e.actor_id, e.detail) for e in events] == [(people.alice.id, f"phq9 assessment {chosen.id}")]
    _, states = _states(people)
    assert (states["phq9"]["chosen_by"], states["phq9"]["chosen_by_name"]) == ("clinician", "Alice Adams")

    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "<strong>Baseline</strong>, chosen by Alice Adams" in page
    assert "PHQ-9 baseline: 17, completed" in page and ", chosen by Alice Adams</li>" in page


def test_the_patient_page_marks_a_baseline_chosen_by_the_rule(client, people, auth):
    _form(people, _day(people, 5), 18)
    _session(people)
    db.session.commit()
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "<strong>Baseline</strong>, chosen by the rule" in page
    assert "PHQ-9 baseline: 18, completed" in page and "chosen by the rule (the closest form" in page


def test_when_the_first_session_is_no_longer_given_the_rules_baseline_goes_with_it(people):
    _form(people, _day(people, 5), 18)
    record = _session(people)
    db.session.commit()
    assert _row(people) is not None
    data = {"status": "cancelled", "start": record.start, "route": "iv", "product": "Ketamine", "dose": 0.5}
    save_session(db.session, people.pat.patient, {**data, "dose_unit": "mg/kg"}, utcnow(), people.alice, record)
    db.session.commit()
    assert _row(people) is None
    _, states = _states(people)
    assert states["phq9"]["missing"] == "no_given_session"


def test_boosters_in_a_maintenance_course_keep_the_induction_series_baseline(people):
    series = _form(people, _day(people, 5), 18)
    _session(people, course="induction")
    _form(people, _day(people, -10), 9)  # three days before the booster
    _session(people, -13, course="maintenance")
    db.session.commit()
    assert _row(people).assessment_id == series.id


def test_the_gad7_baseline_is_chosen_by_the_same_rule(client, people):
    gad = _form(people, _day(people, 4), answers=[2] * 7, instrument="gad7")
    _session(people)
    _form(people, _day(people, -14), answers=[1] * 7, instrument="gad7")
    db.session.commit()
    row = _row(people, "gad7")
    assert row.assessment_id == gad.id and row.chosen_by_id is None
    body = _summary(client, people)
    assert body["gad7"]["change_from_baseline"] == -7
    assert body["baseline_total"] is None  # the PHQ-9 has none


ZERO = [0] * 9


@pytest.mark.parametrize(
    ("baseline_answers", "latest_answers", "response", "remission"),
    [
        (PHQ9_ANSWERS[18], PHQ9_ANSWERS[9], True, False),  # exactly 50 % lower is a response (2 x 9 <= 18)
        (PHQ9_ANSWERS[17], PHQ9_ANSWERS[9], False, False),  # 47 %: not
        (PHQ9_ANSWERS[18], PHQ9_ANSWERS[5], True, False),  # a total of 5 is not remission
        (PHQ9_ANSWERS[18], PHQ9_ANSWERS[4], True, True),  # under 5 is
        (ZERO, PHQ9_ANSWERS[4], None, True),  # a baseline of 0: response is not defined
        (ZERO, ZERO, None, True),
    ],
)
def test_response_and_remission_against_the_rules_baseline_at_the_spec_edges(
    client, people, baseline_answers, latest_answers, response, remission
):
    _form(people, _day(people, 5), answers=baseline_answers)
    _session(people)
    _form(people, _day(people, -14), answers=latest_answers)
    db.session.commit()
    body = _summary(client, people)
    assert body["baseline_total"] == sum(baseline_answers)
    assert (body["response"], body["remission"]) == (response, remission)


def test_data_stored_before_the_rule_gets_its_baseline_from_a_one_off_run(people):
    form = _form(people, _day(people, 5), 18)
    _session(people)
    db.session.execute(delete(Baseline))  # as if both were stored before the rule existed
    db.session.commit()
    _, states = _states(people)
    assert states["phq9"]["missing"] == "not_chosen" and states["phq9"]["note"] == "No baseline chosen yet."

    assert apply_rule_everywhere(db.session, utcnow()) == 1
    row = _row(people)
    assert row.assessment_id == form.id and row.chosen_by_id is None
    assert apply_rule_everywhere(db.session, utcnow()) == 1 and _row(people).assessment_id == form.id


def test_the_one_off_run_is_a_command(app, people):
    form = _form(people, _day(people, 5), 18)
    _session(people)
    db.session.execute(delete(Baseline))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["apply-baseline-rule"])
    assert result.exit_code == 0, result.output
    assert "applied to 1 patient(s)" in result.output
    assert _row(people).assessment_id == form.id


def _report(client, people) -> str:
    import io

    from pypdf import PdfReader

    response = client.get(f"/api/v1/patients/{people.pat.id}/report.pdf", headers=bearer(client, people.alice))
    assert response.status_code == 200
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.data)).pages)


def test_the_report_says_who_chose_the_baseline_or_why_there_is_none(client, people):
    _form(people, _day(people, 20), 18)
    _session(people)
    db.session.commit()
    assert "No baseline: no form was completed in the 14 days before the first dosing session" in _report(
        client, people
    )
    _form(people, _day(people, 3), 17)  # a paper form entered later, completed 3 days before the session
    db.session.commit()
    assert f"17 on {_day(people, 3).astimezone(ZoneInfo(people.pat.timezone)):%-d %b %Y}, chosen by the rule" in (
        _report(client, people)
    )
