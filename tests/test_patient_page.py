"""The clinician's patient page: the summary facts at the top, and the sessions table with the form that records
a session (KET-R1, SPEC 7.4) through the same schema as the API, in the clinician's own time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from journal.assessments import submit
from journal.db import db, utcnow
from journal.models import Alert, Assessment, AuditEvent, Baseline, DosingSession, Patient
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


# --- The questionnaire section: every instrument of the patient's indications ----------------------------------


def _treated(people, *indications: str, sex: str = "unknown") -> None:
    patient = people.pat.patient
    patient.indications = list(indications)
    patient.sex = sex
    db.session.flush()


def _paper(people, instrument: str, answers: list, at: datetime) -> Assessment:
    form, _ = submit(
        db.session,
        people.pat.patient,
        {"instrument": instrument, "answers": answers, "completed_at": at},
        at + timedelta(hours=1),
        people.alice,
    )
    return form


def _section(page: str) -> str:
    return page[page.index('id="questionnaires"') : page.index('id="team-heading"')]


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def pat_measured(people):
    """Pat, a woman treated for PTSD, chronic pain and alcohol use: a PCL-5 of 40, a PEG sum of 20, an AUDIT-C
    of 1 (all from item 1) and a PACS of 15 in the days before her first session 20 days ago; then a PCL-5 of
    30 and a PEG sum of 14 (exactly 30 % lower)."""
    pat, alice, now = people.pat, people.alice, utcnow()
    _treated(people, "ptsd", "chronic_pain", "alcohol", sex="female")
    day = local_today(pat, now) - timedelta(days=20)
    people.pcl5_baseline = _paper(people, "pcl5", [2] * 20, at_local(pat, day - timedelta(days=5)))
    _paper(people, "peg", [7, 7, 6], at_local(pat, day - timedelta(days=4)))
    _paper(people, "auditc", [1, 0, 0], at_local(pat, day - timedelta(days=3)))
    _paper(people, "pacs", [3, 3, 3, 3, 3], at_local(pat, day - timedelta(days=2)))
    given_session(pat, alice, at_local(pat, day), now)
    people.pcl5_later = _paper(people, "pcl5", [2] * 10 + [1] * 10, at_local(pat, day + timedelta(days=14)))
    _paper(people, "peg", [5, 5, 4], at_local(pat, day + timedelta(days=14)))
    db.session.commit()
    return people


def test_the_questionnaire_section_shows_each_instrument_with_its_rule_in_words(client, auth, pat_measured):
    auth.login(pat_measured.alice)
    section = _text(_section(_page(client, pat_measured)))
    for name in ("PHQ-9", "GAD-7", "PCL-5", "PEG", "AUDIT-C", "PACS"):
        assert f"{name} baseline:" in section, name
    # PCL-R8: the rule's baseline, the change and both thresholds.
    assert "PCL-5 baseline: 40, completed" in section and "chosen by the rule (the closest form" in section
    assert (
        "-10 from the baseline of 40; response (5 points or more lower): yes; clinically meaningful (10 points or "
        "more lower): yes" in section
    )
    assert "B, intrusion 10 of 20; C, avoidance 4 of 8; D, negative thoughts and mood 10 of 28; E, arousal" in section
    assert "Cut-point in force 33 (the clinic's setting, from the published range of 31 to 33)" in section
    # PEG-R3, PEG-R4: one decimal, exactly 30 % lower, and the MID labelled as an estimate only.
    assert "PEG baseline: 6.7 (sum 20 of 30)" in section and "Latest 4.7 (sum 14 of 30)" in section
    assert "30 % or more lower: yes (30.0 % lower)" in section
    assert "an estimate of the minimal important difference" in section and "not a second success rule" in section
    # AUDC-R5, AUDC-R6: the threshold used and the note when every point is from item 1.
    assert "Positive screen no (threshold 3, for a woman)" in section
    assert "Every point comes from the first question (items 2 and 3 are 0)" in section
    # PACS-R5: the reference lines named with their source and population; no category word.
    assert "Reference lines 15 and 21." in section and "non-treatment-seeking heavy drinkers" in section
    assert "Hartwell et al. 2019" in section
    # The table's "meaningful change" is each instrument's own, and the legend says which.
    assert "At least 5 points on the PHQ-9 or 4 on the GAD-7, 10 on the PCL-5, 3 of the PEG's sum" in section
    assert "(none is defined for the PACS or the AUDIT-C). Higher totals are worse on all of them." in section
    # No baseline for the PHQ-9: the course had no qualifying form, said in words.
    assert "PHQ-9 baseline: No baseline: no form was completed in the 14 days before the first" in section


def test_the_pcl5_flags_are_labelled_verbatim_and_never_as_ptsd(client, auth, pat_measured):
    auth.login(pat_measured.alice)
    section = _section(_page(client, pat_measured))
    assert "<dt>provisional DSM-5 symptom pattern</dt>" in section  # PCL-R7, verbatim
    assert "<dt>score at or above screening cut-point</dt>" in section
    assert "<dd>no (cut-point 33)</dd>" in section  # the latest is 30
    assert re.search(r"\bPTSD\b", _text(section)) is None  # never "PTSD" or "no PTSD"


def test_use_as_baseline_works_for_a_pcl5_and_is_audited(client, auth, pat_measured):
    people = pat_measured
    auth.login(people.alice)
    response = auth.post(f"/clinician/patients/{people.pat.id}/baseline", {"assessment_id": str(people.pcl5_later.id)})
    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(Baseline, {"patient_id": people.pat.id, "instrument": "pcl5"})
    assert (row.assessment_id, row.chosen_by_id) == (people.pcl5_later.id, people.alice.id)
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.detail).where(AuditEvent.action == "baseline.set")
    ).all()
    assert events == [(people.alice.id, f"pcl5 assessment {people.pcl5_later.id}")]
    section = _text(_section(client.get(response.headers["Location"]).get_data(as_text=True)))
    assert "PCL-5 baseline: 30, completed" in section and "chosen by Alice Adams" in section


# --- Paper forms of any instrument the clinic records ---------------------------------------------------------


def _paper_url(people, instrument: str) -> str:
    return f"/clinician/patients/{people.pat.id}/assessments/{instrument}"


def _stored(instrument: str) -> list[Assessment]:
    db.session.expire_all()
    return db.session.scalars(select(Assessment).where(Assessment.instrument == instrument)).all()


PACS_FORM = {"item-1": "4", "item-2": "3", "item-3": "2", "item-4": "1", "item-5": "0"}


def test_the_patient_page_offers_the_paper_entry_of_every_instrument_the_clinic_records(client, auth, people):
    auth.login(people.alice)
    section = _section(_page(client, people))
    for key in ("phq9", "gad7", "pcl5", "peg", "pacs", "auditc"):
        assert f'href="{_paper_url(people, key)}"' in section, key
    assert _paper_url(people, "phq8") not in section  # SAFE-R4: the PHQ-9 or the PHQ-8, never both


def test_a_clinician_enters_a_paper_pacs_with_item_1_worded_and_items_2_to_5_from_the_clinics_copy(
    client, auth, people
):
    auth.login(people.alice)
    page = client.get(_paper_url(people, "pacs")).get_data(as_text=True)
    assert "During the past week how often have you thought about drinking" in page  # item 1, verbatim
    assert "Nearly all the time (more than 40 times during the past week or more than 6 times per day)" in page
    assert unescape(page).count("as worded on the clinic's own copy of the form") == 4  # items 2-5 (PACS-R3)
    completed = _yesterday_at(9, 15)
    response = auth.post(
        _paper_url(people, "pacs"), {**PACS_FORM, "completed_at": completed.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/clinician/patients/{people.pat.id}#questionnaires")
    (form,) = _stored("pacs")
    assert (form.total, form.answers, form.source.value) == (10, [4, 3, 2, 1, 0], "clinician")
    assert form.completed_at == completed.astimezone(UTC)
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.action).where(
            AuditEvent.patient_id == people.pat.id, AuditEvent.action == "assessment.write"
        )
    ).all()
    assert events == [(people.alice.id, "assessment.write")]


def test_another_teams_clinician_cannot_open_or_enter_a_paper_form(client, auth, people):
    auth.login(people.charlie)
    assert client.get(_paper_url(people, "pacs")).status_code == 404
    form = {**PACS_FORM, "completed_at": _yesterday_at(9).strftime("%Y-%m-%dT%H:%M")}
    assert auth.post(_paper_url(people, "pacs"), form).status_code == 404
    assert _stored("pacs") == []


def test_a_paper_pcl5_with_an_item_missing_is_refused_at_that_item_and_nothing_is_stored(client, auth, people):
    auth.login(people.alice)
    form = {f"item-{n}": "2" for n in range(1, 21) if n != 7}
    form["completed_at"] = _yesterday_at(9).strftime("%Y-%m-%dT%H:%M")
    response = auth.post(_paper_url(people, "pcl5"), form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<a href="#item-7">Choose an answer.</a>' in page
    assert 'id="item-7-2" name="item-7"' in page and 'id="item-6-2" name="item-6" value="2" checked' in page
    assert _stored("pcl5") == []


def test_a_paper_form_dated_in_the_future_is_refused_at_its_date(client, auth, people):
    auth.login(people.alice)
    tomorrow = utcnow().astimezone(NEW_YORK) + timedelta(days=1)
    form = {"item-1": "5", "item-2": "5", "item-3": "5", "completed_at": tomorrow.strftime("%Y-%m-%dT%H:%M")}
    response = auth.post(_paper_url(people, "peg"), form)
    assert response.status_code == 400
    assert "A form cannot be completed in the future." in response.get_data(as_text=True)
    assert _stored("peg") == []


def test_a_safe_r4_clinic_enters_the_phq8_on_paper_and_not_the_phq9(client, auth, people):
    people.clinic.depression_instrument = "phq8"
    db.session.commit()
    auth.login(people.alice)
    assert client.get(_paper_url(people, "phq9")).status_code == 404
    page = client.get(_paper_url(people, "phq8")).get_data(as_text=True)
    assert page.count('<span class="item-number">') == 8
    form = {f"item-{n}": "1" for n in range(1, 9)}
    form["completed_at"] = _yesterday_at(9).strftime("%Y-%m-%dT%H:%M")
    assert auth.post(_paper_url(people, "phq8"), form).status_code == 302
    (stored,) = _stored("phq8")
    assert stored.total == 8


def test_the_summary_at_the_top_gives_each_further_instrument_with_its_change(client, auth, pat_measured):
    auth.login(pat_measured.alice)
    page = _page(client, pat_measured)
    summary = _text(page[page.index('id="summary"') : page.index('id="charts"')])
    assert "Latest PCL-5 30 of 80, completed" in summary and "; -10 from the baseline of 40; response" in summary
    assert "Latest PEG 4.7 (sum 14 of 30)" in summary
    assert re.search(r"Latest PACS 15 of 30, completed [^;]+; not measured yet: no form since the baseline", summary)


def test_a_paper_auditc_after_never_leaves_items_2_and_3_unasked(client, auth, people):
    auth.login(people.alice)
    form = {"item-1": "0", "completed_at": _yesterday_at(9).strftime("%Y-%m-%dT%H:%M")}
    assert auth.post(_paper_url(people, "auditc"), form).status_code == 302
    (stored,) = _stored("auditc")
    assert (stored.total, stored.answers, stored.scores["skipped"]) == (0, [0, 0, 0], True)  # AUDC-R3


def test_a_paper_phq9_with_item_9_blank_is_not_scored_and_raises_the_review_alert(client, auth, people):
    auth.login(people.alice)
    form = {f"item-{n}": "1" for n in range(1, 9)}
    form["completed_at"] = _yesterday_at(9).strftime("%Y-%m-%dT%H:%M")
    assert auth.post(_paper_url(people, "phq9"), form).status_code == 302
    (stored,) = _stored("phq9")
    assert (stored.total, stored.item9, stored.safety) == (None, None, "unknown")  # PHQ-R7: never imputed
    kinds = db.session.scalars(select(Alert.kind).where(Alert.patient_id == people.pat.id)).all()
    assert kinds == ["safety_unknown"]


def test_a_paper_form_sent_twice_is_stored_once(client, auth, people):
    auth.login(people.alice)
    form = {**PACS_FORM, "completed_at": _yesterday_at(9).strftime("%Y-%m-%dT%H:%M"), "submission_id": "paper-form-1"}
    assert auth.post(_paper_url(people, "pacs"), form).status_code == 302
    assert auth.post(_paper_url(people, "pacs"), form).status_code == 302
    assert len(_stored("pacs")) == 1
