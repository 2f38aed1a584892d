"""Post-session checks that count (KET-R3): each check is open from its time until the next one opens or the
clinic's window ends; the answers that need a person raise one alert each; the answers are shown beside their
session to the care team, in the report, the CSV and the FHIR export; and the daily check-in's side-effect
checklist is counted over the last 14 days on the patient's page.

Pat (Alice's patient) lives in America/Chicago (CST, UTC-6, in early March 2026). Rules take explicit instants;
the pages run at the real time, so their sessions are placed relative to it.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader
from sqlalchemy import select

from journal import export, patient_data, report
from journal.checkins import save_checkin
from journal.db import db, utcnow
from journal.messages import render
from journal.models import Alert, DosingSession, OutboxMessage, SideEffectCheck
from journal.session_checks import SEVERE_RATING
from journal.sessions import (
    CheckState,
    SessionError,
    check_closes_at,
    check_due_at,
    check_state,
    save_session,
    save_side_effect_check,
)
from tests.conftest import NOW
from tests.test_messages import FORBIDDEN, _says

CHICAGO = ZoneInfo("America/Chicago")
START = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # Monday 2 March, 10:00 in Chicago
MORNING_AFTER = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # Tuesday 09:00 in Chicago
SEVENTY_TWO = datetime(2026, 3, 5, 16, 0, tzinfo=UTC)  # Thursday 10:00 in Chicago
HOURS = timedelta(hours=1)


def _session(people, patient, start: datetime, status: str = "given") -> DosingSession:
    data = {"status": status, "start": start, "route": "intranasal", "product": "Esketamine", "dose": 56,
            "dose_unit": "mg"}  # fmt: skip
    record = save_session(db.session, patient.patient, data, max(start, NOW), people.alice)
    db.session.commit()
    return record


def _answer(record: DosingSession, kind: str, answers: dict | None, at: datetime) -> SideEffectCheck:
    check = save_side_effect_check(db.session, record, kind, answers, at, CHICAGO)
    db.session.commit()
    return check


def _alerts(kind: str) -> list[Alert]:
    db.session.expire_all()
    return list(db.session.scalars(select(Alert).where(Alert.kind == kind)))


@pytest.fixture
def given(people) -> DosingSession:
    return _session(people, people.pat, START)


# --- Windows ----------------------------------------------------------------------------------------------------


def test_each_check_opens_at_its_time_and_closes_after_the_clinics_window(app, people, given):
    assert check_due_at(START, "morning_after", CHICAGO) == MORNING_AFTER
    assert check_state(given, "morning_after", CHICAGO, MORNING_AFTER - timedelta(seconds=1)) == CheckState.NOT_YET
    assert check_state(given, "morning_after", CHICAGO, MORNING_AFTER) == CheckState.DUE
    # 48 hours after it opened comes before the 72-hour check opens (Thursday 10:00): it closes at 48 h.
    assert check_closes_at(START, "morning_after", CHICAGO) == MORNING_AFTER + 48 * HOURS
    assert check_state(given, "morning_after", CHICAGO, MORNING_AFTER + 48 * HOURS - HOURS) == CheckState.DUE
    assert check_state(given, "morning_after", CHICAGO, MORNING_AFTER + 48 * HOURS) == CheckState.CLOSED
    assert check_state(given, "72h", CHICAGO, SEVENTY_TWO) == CheckState.DUE
    assert check_state(given, "72h", CHICAGO, SEVENTY_TWO + 48 * HOURS) == CheckState.CLOSED


def test_a_longer_window_closes_the_morning_after_check_when_the_72_hour_check_opens(app, people, given):
    window = timedelta(hours=60)
    assert check_closes_at(START, "morning_after", CHICAGO, window) == SEVENTY_TWO
    assert check_state(given, "morning_after", CHICAGO, SEVENTY_TWO - HOURS, window) == CheckState.DUE
    assert check_state(given, "morning_after", CHICAGO, SEVENTY_TWO, window) == CheckState.CLOSED
    assert check_state(given, "72h", CHICAGO, SEVENTY_TWO + 59 * HOURS, window) == CheckState.DUE


def test_a_closed_check_takes_no_answer_and_an_answer_keeps_its_check_and_time(app, people, given):
    with pytest.raises(SessionError) as refused:
        _answer(given, "morning_after", {"drove": False}, SEVENTY_TWO + HOURS)
    assert (refused.value.status, refused.value.message) == (409, "This check has closed.")
    db.session.rollback()
    late = SEVENTY_TWO + 30 * HOURS
    check = _answer(given, "72h", {"nausea": 2, "drove": False}, late)
    db.session.expire_all()
    stored = db.session.scalars(select(SideEffectCheck)).all()
    assert [(c.kind, c.completed_at) for c in stored] == [("72h", late)]
    assert check.id == stored[0].id


def test_the_check_page_says_a_closed_check_has_closed_and_refuses_answers(client, auth, people):
    old = _session(people, people.pat, utcnow() - timedelta(hours=100))  # the morning-after check closed
    auth.login(people.pat)
    url = f"/sessions/{old.id}/check/morning_after"
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "This check has closed" in page
    assert 'name="nausea"' not in page  # no stale form
    response = auth.post(url, {"nausea": "3", "drove": "no"})
    assert response.status_code == 409 and "This check has closed" in response.get_data(as_text=True)
    assert db.session.scalars(select(SideEffectCheck)).all() == []
    home = client.get("/home").get_data(as_text=True)
    assert f'href="{url}"' not in home
    assert f'href="/sessions/{old.id}/check/72h"' in home  # opened 28 hours ago: still open


def test_the_answered_page_says_when_the_team_sees_the_answers_and_where_help_is(client, auth, people):
    people.clinic.clinic_phone = "+1 555 010 2000"
    recent = _session(people, people.pat, utcnow() - timedelta(hours=73))
    auth.login(people.pat)
    response = auth.post(f"/sessions/{recent.id}/check/72h", {"drove": "no"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "sent to your care team" not in page
    assert "Your care team will see your answers at their next review" in page
    assert 'href="tel:' in page and 'href="/help"' in page


# --- Alerts -----------------------------------------------------------------------------------------------------


def test_driving_on_the_session_day_raises_one_alert_with_a_clear_reason_and_a_neutral_email(app, people, given):
    at = SEVENTY_TWO + HOURS
    _answer(given, "72h", {"nausea": 3, "drove": True}, at)
    _answer(given, "72h", {"nausea": 4, "drove": True}, at + HOURS)  # changed within the day: no second alert
    (alert,) = _alerts("session_drove")
    assert alert.reason == "Drove on the day of the session (72-hour check)"
    assert (alert.patient_id, alert.created_at) == (people.pat.id, at)
    assert _alerts("session_severe") == []
    emails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "alert_medium")).all()
    assert {e.recipient_id for e in emails} == {people.alice.id}
    subject, text = render("alert_medium", link="")
    for word in [*FORBIDDEN, "drove", "driv", "nausea"]:
        assert not _says(word, subject + " " + text), word


def test_a_severe_rating_raises_one_alert_naming_it_and_mild_answers_none(app, people, given):
    _answer(given, "morning_after", {"nausea": SEVERE_RATING - 1, "headache": 5, "drove": False}, MORNING_AFTER)
    assert _alerts("session_severe") == [] and _alerts("session_drove") == []
    _answer(given, "72h", {"dissociation": 10, "nausea": SEVERE_RATING, "drove": False}, SEVENTY_TWO)
    _answer(given, "72h", {"dissociation": 10, "nausea": 9, "drove": False}, SEVENTY_TWO + HOURS)
    (alert,) = _alerts("session_severe")
    assert "72-hour check" in alert.reason
    assert "Feeling unreal, detached or spaced out 10/10" in alert.reason and "Nausea or vomiting 8/10" in alert.reason
    assert _alerts("session_drove") == []


def test_a_skipped_check_raises_nothing(app, people, given):
    _answer(given, "72h", None, SEVENTY_TWO)
    assert db.session.scalars(select(Alert)).all() == []


# --- What the care team sees ------------------------------------------------------------------------------------


@pytest.fixture
def answered(people) -> DosingSession:
    """Pat's session 80 hours ago and his 72-hour check: feeling unreal 10, nausea 10, drove on the day."""
    record = _session(people, people.pat, utcnow() - timedelta(hours=80))
    _answer(record, "72h", {"dissociation": 10, "nausea": 10, "drove": True}, utcnow() - timedelta(hours=6))
    return record


def _text(html: str) -> str:
    """The page's words, one space apart, punctuation against the word before it."""
    return re.sub(r" ([,.;:])", r"\1", " ".join(re.sub(r"<[^>]+>", " ", html).split()))


def test_the_answers_are_beside_their_session_on_the_patient_page_and_the_session_page(client, auth, people, answered):
    auth.login(people.alice)
    page = _text(client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True))
    assert "Checks after the session" in page
    assert "72-hour check, answered" in page and "drove on the session day" in page
    assert "Feeling unreal, detached or spaced out 10/10 (severe)" in page
    response = client.get(f"/clinician/patients/{people.pat.id}/sessions/{answered.id}")
    assert response.status_code == 200
    page = _text(response.get_data(as_text=True))
    assert "Checks after the session 72-hour check, answered" in page and "Nausea or vomiting 10/10 (severe)" in page


def test_charlie_of_another_team_gets_404_for_the_session_page(client, auth, people, answered):
    auth.login(people.charlie)
    assert client.get(f"/clinician/patients/{people.pat.id}/sessions/{answered.id}").status_code == 404


def test_the_report_shows_the_answers(app, people, answered):
    now = utcnow()
    data = patient_data.load(db.session, people.pat.patient, now)
    pdf = report.build(data, patient_data.summary(data, now), [], now)
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Checks after sessions" in text
    assert "DROVE on the day of the session" in text and "Nausea or vomiting 10/10 (severe)" in text


def test_the_csv_carries_each_check_with_its_label_and_time(app, people, answered):
    check = db.session.scalar(select(SideEffectCheck))
    rows = export.read_csv(export.to_csv(export.load(db.session, people.pat.patient)))
    (row,) = [r for r in rows if r["record_type"] == "session_check"]
    assert (row["session_id"], row["check"], row["skipped"], row["drove"]) == (answered.id, "72h", False, True)
    assert row["ratings"] == ["dissociation=10", "nausea=10"]
    assert row["completed_at"] == check.completed_at.astimezone(CHICAGO)


def test_the_fhir_export_has_the_check_as_a_valid_observation_part_of_its_session(app, people, answered):
    bundle = export.fhir_bundle(export.load(db.session, people.pat.patient), "http://journal.test", utcnow())
    Bundle.model_validate(bundle)
    resources = {e["resource"]["resourceType"] + "/" + e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    (observation,) = [r for key, r in resources.items() if key.startswith("Observation/session-check-")]
    assert observation["partOf"][0]["reference"] in resources
    assert observation["code"]["coding"][0]["code"] == "post-session-check-72h"
    values = {
        c["code"]["coding"][0]["code"]: c.get("valueInteger", c.get("valueBoolean")) for c in observation["component"]
    }
    assert values == {"side-effect-dissociation": 10, "side-effect-nausea": 10, "drove-on-session-day": True}
    (system,) = [r for r in resources.values() if r["resourceType"] == "CodeSystem"]
    defined = {concept["code"] for concept in system["concept"]}
    assert set(values) | {"post-session-check-72h"} <= defined


# --- The daily side-effect checklist, 14 days ---------------------------------------------------------------------


def test_the_patient_page_counts_each_side_effect_over_the_last_14_days(client, auth, people):
    today = utcnow().astimezone(CHICAGO).date()
    for back, ticked in [(0, ["headache"]), (3, ["headache", "nausea"]), (13, []), (14, ["nausea"])]:
        day = today - timedelta(days=back)
        data = {"mood": 5, "cravings": [{"substance": "alcohol", "intensity": 2}],
                "use": [{"substance": "alcohol", "used": False}], "side_effects": ticked}  # fmt: skip
        at = datetime.combine(day, datetime.min.time(), tzinfo=CHICAGO).astimezone(UTC) + timedelta(hours=20)
        save_checkin(db.session, people.pat.patient, day, data, min(at, utcnow()), people.alice)
    db.session.commit()
    auth.login(people.alice)
    page = _text(client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True))
    assert "Side effects in the last 14 days" in page and "of 3 days reported" in page
    assert "Headache 2 of 3" in page and "Nausea or vomiting 1 of 3" in page and "Dizziness or spinning 0 of 3" in page
