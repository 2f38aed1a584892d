"""The clinician's patient page: the summary facts at the top, and the sessions table with the form that records
a session (KET-R1, SPEC 7.4) through the same schema as the API, in the clinician's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from journal.db import db, utcnow
from journal.models import AuditEvent, DosingSession, Patient
from tests.outcome_data import active_since, at_local, baseline, checkin, given_session, local_today, paper_phq9

NEW_YORK = ZoneInfo("America/New_York")  # Alice's zone (conftest.make_staff)


def _yesterday_at(hour: int, minute: int = 0) -> datetime:
    """Yesterday in Alice's zone at this wall-clock time (aware, in her zone)."""
    day = utcnow().astimezone(NEW_YORK).date() - timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=NEW_YORK)


GIVEN_FORM = {
    "status": "given",
    "route": "iv",
    "product": "Racemic ketamine",
    "dose": "35",
    "dose_unit": "mg",
    "weight_kg": "70",
    "setting": "clinic",
    "course": "induction",
    "bp_systolic_pre": "128",
    "bp_diastolic_pre": "82",
    "heart_rate_pre": "71",
    "bp_systolic_post": "142",
    "bp_diastolic_post": "88",
    "heart_rate_post": "78",
    "dissociation_score": "12",
    "observation_minutes": "120",
    "discharge_at": "",
    "notes": "",
}


def _page(client, people) -> str:
    return client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)


def _sessions() -> list[DosingSession]:
    return db.session.scalars(select(DosingSession)).all()


def test_clinician_records_a_given_session_from_the_page_in_her_own_time_zone(client, auth, people):
    auth.login(people.alice)
    start = _yesterday_at(10, 30)
    version = db.session.get(Patient, people.pat.id).data_version
    form = {**GIVEN_FORM, "start": start.strftime("%Y-%m-%dT%H:%M")}
    response = auth.post(f"/clinician/patients/{people.pat.id}/sessions", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/clinician/patients/{people.pat.id}#sessions")
    db.session.expire_all()
    (recorded,) = _sessions()
    assert recorded.start == start.astimezone(UTC)  # her wall-clock time, stored as the instant it names
    assert (recorded.dose, recorded.dose_unit, recorded.dose_mg_per_kg) == (35, "mg", 0.5)
    assert (recorded.bp_systolic_post, recorded.dissociation_score, recorded.course.kind.value) == (
        142,
        12,
        "induction",
    )
    assert db.session.get(Patient, people.pat.id).data_version == version + 1
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == people.pat.id)).all()
    assert "session.write" in actions
    page = _page(client, people)
    assert start.strftime("%a %-d %b %Y, 10:30 %Z") in page  # shown in the clinician's zone
    assert '35 mg <span class="muted">(0.5 mg/kg at 70 kg)</span>' in page
    assert "128/82 mmHg, 71 bpm" in page and "142/88 mmHg, 78 bpm" in page
    assert "<td>Induction</td>" in page and "120 min" in page


def test_a_form_with_mistakes_is_shown_again_with_each_error_at_its_field_and_nothing_is_written(client, auth, people):
    auth.login(people.alice)
    form = {
        **GIVEN_FORM,
        "start": "yesterday morning",
        "product": "   ",
        "dose": "a lot",
        "dissociation_score": "120",
    }
    response = auth.post(f"/clinician/patients/{people.pat.id}/sessions", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    expected = {
        "start": "Give a date and a time",
        "product": "Fill this in.",
        "dose": "Not a valid number.",
        "dissociation_score": "Give the CADSS total from 0 to 92.",
    }
    for field, message in expected.items():
        assert f'id="session-{field}-error">{message}' in page, field
        assert f'aria-describedby="session-{field}' in page
    assert 'value="a lot"' in page and 'value="yesterday morning"' in page  # what was typed is kept
    # Checks across fields come once each field is valid on its own (as in the API).
    form = {**GIVEN_FORM, "start": _yesterday_at(10).strftime("%Y-%m-%dT%H:%M"), "bp_systolic_pre": ""}
    page = auth.post(f"/clinician/patients/{people.pat.id}/sessions", form).get_data(as_text=True)
    assert 'id="session-bp_diastolic_pre-error">Give both the systolic and the diastolic pressure.' in page
    assert _sessions() == []


def test_a_given_session_cannot_start_in_the_future(client, auth, people):
    auth.login(people.alice)
    tomorrow = _yesterday_at(10) + timedelta(days=2)
    form = {**GIVEN_FORM, "start": tomorrow.strftime("%Y-%m-%dT%H:%M")}
    response = auth.post(f"/clinician/patients/{people.pat.id}/sessions", form)
    assert response.status_code == 400
    assert 'id="session-start-error">A given session cannot start in the future' in response.get_data(as_text=True)
    assert _sessions() == []


def test_a_wall_clock_time_skipped_by_the_clocks_going_forward_is_refused(client, auth, people):
    auth.login(people.alice)
    planned = {"status": "planned", "route": "intranasal", "product": "Esketamine", "dose": "56", "dose_unit": "mg"}
    response = auth.post(
        f"/clinician/patients/{people.pat.id}/sessions", {**planned, "start": "2026-03-08T02:30"}
    )  # 02:00-03:00 does not exist in New York that night
    assert response.status_code == 400
    assert "does not exist in America/New_York" in response.get_data(as_text=True)
    assert auth.post(
        f"/clinician/patients/{people.pat.id}/sessions", {**planned, "start": "2026-03-08T03:30"}
    ).status_code == 302  # fmt: skip
    assert _sessions()[0].start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_a_clinician_off_the_care_team_cannot_record_a_session(client, auth, people):
    auth.login(people.charlie)
    form = {**GIVEN_FORM, "start": _yesterday_at(10).strftime("%Y-%m-%dT%H:%M")}
    assert auth.post(f"/clinician/patients/{people.pat.id}/sessions", form).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(DosingSession)) == 0


@pytest.fixture
def pat_responding(people):
    pat, alice, now = people.pat, people.alice, utcnow()
    today = local_today(pat, now)
    active_since(pat, now, 40)
    baseline(pat, alice, paper_phq9(pat, alice, at_local(pat, today - timedelta(days=30)), 18), now)
    given_session(pat, alice, at_local(pat, today - timedelta(days=12)), now)
    paper_phq9(pat, alice, at_local(pat, today - timedelta(days=2)), 9)
    for days_ago in range(1, 26):
        checkin(pat, today - timedelta(days=days_ago), mood=4 if days_ago > 12 else 7)
    db.session.commit()
    return people


def test_the_summary_at_the_top_states_the_facts_with_the_fixed_definitions(client, auth, pat_responding):
    auth.login(pat_responding.alice)
    page = _page(client, pat_responding)
    summary = page[page.index('id="summary"') : page.index('id="charts"')]
    assert "100.0 % (14 of 14 days; 0 filled in later)" in summary
    assert "9, mild, on" in summary and "-9 from the baseline" in summary
    assert "<strong>Yes</strong>: 9 against the baseline of 18 (50.0 % lower)" in summary  # exactly 50 %
    assert "<strong>No</strong>: latest PHQ-9 9" in summary  # remission is under 5
    assert "12 days since the last session" in summary
    assert "100.0 % of 25 days with a use report" in summary  # SUD-R3: with its denominator
    assert "at least 12 days (still lasting" in summary  # mood rose after the session and has not fallen back
    assert "at least 50 % below the stored baseline" in summary and "under 5" in summary  # the legend (PHQ-R9)
    assert page.index('id="summary"') < page.index('id="sessions"') < page.index('id="questionnaires"')


def test_the_dose_and_weight_fields_take_decimals(client, auth, people):
    auth.login(people.alice)
    page = _page(client, people)
    for name in ("dose", "weight_kg"):
        assert f'name="{name}" value="" step="any" min="0"' in page, name  # attributes, not escaped text
