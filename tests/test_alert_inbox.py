"""The clinician's alerts inbox (SAFE-R3) and the questionnaire and programme parts of a patient's page.

Alice is a clinician with patient Pat (America/Chicago); Charlie is a clinician outside Pat's care team with his
own patient Quinn; Bob is Alice's colleague, on Pat's team only when a test adds him (see tests/conftest.py).
The pages run on the real clock, so data meant to look recent is made relative to ``utcnow()``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from journal.alerts import raise_alert
from journal.assessments import submit
from journal.checkins import local_today, save_checkin
from journal.db import db, utcnow
from journal.models import Alert, AuditEvent, Baseline, CareTeamMember, Patient
from tests.conftest import make_patient

NOTE = "Phoned Pat at 14:10: safe tonight, safety plan reviewed, seen tomorrow at 9."


@pytest.fixture
def people(people):
    """The people of conftest, with Alice's time zone, in which her pages show times."""
    people.alice_zone = ZoneInfo(people.alice.timezone)
    return people


def _alert(people, severity: str = "high", age: timedelta = timedelta(hours=1), patient=None, key: str = ""):
    patient = patient or people.pat
    alert = raise_alert(
        db.session,
        utcnow() - age,
        patient_id=patient.id,
        kind={"high": "safety_item9", "medium": "craving", "low": "missed_checkins"}[severity],
        severity=severity,
        reason=f"Reason for a {severity} alert {key}".strip(),
        dedup_key=f"test:{patient.id}:{severity}:{age.total_seconds()}:{key}",
    )
    db.session.commit()
    return alert


def _day(mood: int) -> dict:
    """A day's check-in for a patient who tracks alcohol: a mood, a light craving, no use."""
    return {
        "mood": mood,
        "cravings": [{"substance": "alcohol", "intensity": 1}],
        "use": [{"substance": "alcohol", "used": False}],
    }


def _paper_form(people, instrument: str, answers: list, completed_at: datetime, patient=None):
    """A paper form Alice enters for Pat (or ``patient``): a clinician may give any past time."""
    patient = patient or people.pat
    form, _ = submit(
        db.session,
        patient.patient,
        {"instrument": instrument, "answers": answers, "completed_at": completed_at},
        utcnow(),
        people.alice,
    )
    db.session.commit()
    return form


def _events(action: str) -> list[tuple[int, int | None, str]]:
    return db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.id)
    ).all()


def _order_on_page(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'id="alert-(\d+)-heading"', page)]


# --- The inbox -----------------------------------------------------------------------------------------------


def test_inbox_lists_high_priority_alerts_before_medium_then_low_and_oldest_first_within_each(client, auth, people):
    low = _alert(people, "low", timedelta(hours=9))
    medium_newer = _alert(people, "medium", timedelta(hours=1))
    high_newer = _alert(people, "high", timedelta(minutes=10))
    medium_older = _alert(people, "medium", timedelta(hours=5))
    high_older = _alert(people, "high", timedelta(hours=2))
    auth.login(people.alice)
    page = client.get("/clinician/alerts").get_data(as_text=True)
    assert _order_on_page(page) == [high_older.id, high_newer.id, medium_older.id, medium_newer.id, low.id]
    # The priority is written out, never shown by colour alone.
    assert "High priority" in page and "Medium priority" in page and "Low priority" in page


def test_safe_r3_inbox_shows_what_the_alert_is_whom_it_is_about_and_the_recent_data(client, auth, people):
    now = utcnow()
    today = local_today(people.pat, now)
    for back, mood in ((1, 6), (3, 2)):
        save_checkin(
            db.session,
            people.pat.patient,
            today - timedelta(days=back),
            _day(mood),
            now,
            people.alice,
        )
    db.session.commit()
    # A PHQ-9 with item 9 at "Several days" raises the high-priority alert itself (PHQ-R5).
    _paper_form(people, "phq9", [2, 2, 1, 1, 1, 1, 1, 1, 1], now - timedelta(hours=3))
    alert = db.session.scalar(select(Alert).where(Alert.kind == "safety_item9"))
    alert.escalated_at = now - timedelta(minutes=5)
    db.session.commit()

    auth.login(people.alice)
    page = client.get("/clinician/alerts").get_data(as_text=True)
    assert "Thoughts of death or self-harm (PHQ-9 item 9)" in page  # the kind's label, not its code
    assert f'href="/clinician/patients/{people.pat.id}">Pat Patient</a>' in page
    assert "Escalated" in page
    assert alert.reason in page
    # Raised time in Alice's own zone (America/New_York), with how long ago.
    raised = alert.created_at.astimezone(people.alice_zone).strftime("%a %-d %b %Y, %H:%M %Z")
    assert raised in page and "ago)" in page
    # The last seven days of mood, the missing days said to be missing, never assumed.
    moods = [
        f"{(today - timedelta(days=back)).strftime('%a %-d %b')}: "
        + {1: "6/10", 3: "2/10"}.get(back, '<span class="muted">no entry</span>')
        for back in range(6, -1, -1)
    ]
    assert all(mood in page for mood in moods), moods
    assert f"{(today - timedelta(days=7)).strftime('%a %-d %b')}:" not in page
    assert "Total 11 of 27;" in page
    assert "item 9: Several days (1 of 3)" in page
    # No session recorded: said so, not left blank (tests/test_alert_cards.py shows real ones).
    assert "None given yet" in page and "None planned" in page


def test_another_clinicians_patients_alert_never_appears_and_cannot_be_acknowledged(client, auth, people):
    theirs = _alert(people, "high", patient=people.quinn)
    ours = _alert(people, "medium")
    auth.login(people.alice)
    page = client.get("/clinician/alerts").get_data(as_text=True)
    assert _order_on_page(page) == [ours.id]
    assert "Quinn Other" not in page
    response = auth.post(f"/clinician/alerts/{theirs.id}/ack", {"note": NOTE})
    assert response.status_code == 404
    assert auth.post(f"/clinician/alerts/{theirs.id}/ack", {}).status_code == 404  # the same, whatever the form
    db.session.expire_all()
    assert db.session.get(Alert, theirs.id).acknowledged_at is None
    assert _events("alert.ack") == []


def test_acknowledging_with_a_note_records_who_when_and_what_and_is_audited(client, auth, people):
    alert = _alert(people)
    auth.login(people.alice)
    before = utcnow()
    response = auth.post(f"/clinician/alerts/{alert.id}/ack", {"note": NOTE})
    assert response.status_code == 302
    assert response.headers["Location"] == "/clinician/alerts"
    db.session.expire_all()
    stored = db.session.get(Alert, alert.id)
    assert stored.acknowledged_by_id == people.alice.id
    assert before <= stored.acknowledged_at <= utcnow()
    assert stored.note == NOTE
    assert _events("alert.ack") == [(people.alice.id, people.pat.id, f"alert {alert.id}")]
    page = client.get("/clinician/alerts").get_data(as_text=True)
    assert f"Alert {alert.id} is acknowledged" in page  # the flash
    assert _order_on_page(page) == []  # acknowledged alerts leave the inbox


@pytest.mark.parametrize("note", [None, "", "   \n  "])
def test_acknowledging_without_a_note_is_a_400_at_the_field_and_changes_nothing(client, auth, people, note):
    alert = _alert(people)
    auth.login(people.alice)
    response = auth.post(f"/clinician/alerts/{alert.id}/ack", {} if note is None else {"note": note})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="note-{alert.id}-error"' in page
    assert f'aria-describedby="note-{alert.id}-error"' in page
    assert re.search(r"Say what you did or decided, for the record\.|Write a note of 1 to 2000 characters\.", page)
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).acknowledged_at is None
    assert _events("alert.ack") == []


def test_a_too_long_note_is_refused_and_given_back_to_shorten(client, auth, people):
    alert = _alert(people)
    auth.login(people.alice)
    response = auth.post(f"/clinician/alerts/{alert.id}/ack", {"note": "x" * 2001})
    assert response.status_code == 400
    assert "x" * 2001 in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).acknowledged_at is None


def test_a_second_acknowledgement_is_refused_and_the_first_note_stands(client, auth, people):
    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=people.bob.id, added_at=utcnow()))
    alert = _alert(people)
    auth.login(people.alice)
    assert auth.post(f"/clinician/alerts/{alert.id}/ack", {"note": NOTE}).status_code == 302
    auth.logout()
    auth.login(people.bob)
    response = auth.post(f"/clinician/alerts/{alert.id}/ack", {"note": "Bob's own note"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "This alert has already been acknowledged" in page
    assert "Alice Adams acknowledged" in page
    assert "Bob&#39;s own note" in page  # given back, so it is not lost
    db.session.expire_all()
    stored = db.session.get(Alert, alert.id)
    assert (stored.acknowledged_by_id, stored.note) == (people.alice.id, NOTE)
    assert [actor for actor, _, _ in _events("alert.ack")] == [people.alice.id]


def test_reading_the_inbox_is_audited(client, auth, people):
    _alert(people)
    auth.login(people.alice)
    client.get("/clinician/alerts")
    assert _events("alert.list") == [(people.alice.id, None, "")]


def test_inbox_takes_the_same_number_of_queries_for_one_alert_or_many_patients(app, client, auth, people):
    def statements_for_inbox() -> int:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            response = client.get("/clinician/alerts")
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert response.status_code == 200
        return count

    _alert(people)
    auth.login(people.alice)
    few = statements_for_inbox()
    now = utcnow()
    for n in range(6):
        extra = make_patient(people.alice, f"extra{n}", f"Extra {n}", zone="Pacific/Auckland" if n % 2 else "UTC")
        day = local_today(extra, now) - timedelta(days=1)
        save_checkin(db.session, extra.patient, day, _day(5), now, people.alice)
        _paper_form(people, "phq9", [1] * 9, now - timedelta(days=2), patient=extra)
        _alert(people, "medium", patient=extra, key=str(n))
    db.session.commit()
    assert statements_for_inbox() == few


def test_patients_page_counts_the_open_alerts_and_links_the_inbox(client, auth, people):
    _alert(people, "high")
    _alert(people, "low", timedelta(hours=3))
    auth.login(people.alice)
    page = client.get("/clinician/patients").get_data(as_text=True)
    assert "Needs review: 2 open alerts" in page
    assert 'href="/clinician/alerts"' in page
    assert "Missed check-ins" in page  # the label of the low alert's kind


def test_wrong_roles_get_404_for_the_inbox_and_acknowledgement(client, auth, people):
    alert = _alert(people)
    for user in (people.pat, people.ada):
        auth.login(user)
        assert client.get("/clinician/alerts").status_code == 404
        assert auth.post(f"/clinician/alerts/{alert.id}/ack", {"note": NOTE}).status_code == 404
        auth.logout()


# --- Questionnaires on the patient's page (SPEC 1.6, 1.7, 1.10) ------------------------------------------------

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def _series(people) -> list:
    """Pat's PHQ-9s: 14 (5 Jan), 12 (15 Jan, 10 days later), 6 (29 Jan); one GAD-7 of 9 on 5 Jan."""
    return [
        _paper_form(people, "phq9", [2, 2, 2, 2, 2, 2, 1, 1, 0], START),
        _paper_form(people, "gad7", [2, 2, 2, 1, 1, 1, 0], START + timedelta(minutes=5)),
        _paper_form(people, "phq9", [2, 2, 2, 2, 1, 1, 1, 1, 0], START + timedelta(days=10)),
        _paper_form(people, "phq9", [1, 1, 1, 1, 1, 1, 0, 0, 0], START + timedelta(days=24)),
    ]


def _row(page: str, completed: datetime, people) -> str:
    stamp = completed.astimezone(people.alice_zone).strftime("%-d %b %Y %H:%M")
    match = re.search(rf'<th scope="row">{re.escape(stamp)}</th>(.*?)</tr>', page, re.S)
    assert match, f"no row for {stamp}"
    return re.sub(r"\s+", " ", match.group(1))


def test_questionnaire_table_shows_band_change_overlap_and_source(client, auth, people):
    _, gad, second, third = _series(people)
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "<caption>Questionnaires, newest first; times in America/New_York</caption>" in page
    row = _row(page, second.completed_at, people)
    assert "PHQ-9" in row and ">12<" in row and "Moderate" in row
    assert "Not at all (0)" in row  # item 9
    assert "-2, better" in row and "meaningful" not in row  # under the MCID of 5 (PHQ-R10)
    assert '10 <span class="overlap">overlapping window</span>' in row  # SPEC 1.10
    assert "Paper, entered by staff" in row
    row = _row(page, third.completed_at, people)
    assert "-6, better: meaningful change" in row and "Mild" in row and "overlapping" not in row
    assert "Response: no baseline chosen" in row
    row = _row(page, gad.completed_at, people)
    assert "GAD-7" in row and "Not in the GAD-7" in row and "Not defined for the GAD-7" in row
    # The fixed definitions are in the legend (SPEC 1.6).
    assert "50 % or more below the baseline total" in page and "A PHQ-9 total under 5" in page


def test_use_as_baseline_sets_the_baseline_audits_it_and_response_is_measured_from_it(client, auth, people):
    first, _, second, third = _series(people)
    auth.login(people.alice)
    response = auth.post(f"/clinician/patients/{people.pat.id}/baseline", {"assessment_id": str(first.id)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/clinician/patients/{people.pat.id}#questionnaires"
    baseline = db.session.get(Baseline, {"patient_id": people.pat.id, "instrument": "phq9"})
    assert (baseline.assessment_id, baseline.chosen_by_id) == (first.id, people.alice.id)
    assert _events("baseline.set") == [(people.alice.id, people.pat.id, f"phq9 assessment {first.id}")]
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "PHQ-9 baseline: 14" in page
    assert "No response (14.3 % lower than baseline); no remission" in _row(page, second.completed_at, people)
    assert "Response (57.1 % lower than baseline); no remission" in _row(page, third.completed_at, people)
    assert "outside the usual definition" not in page.split("How to read this table")[0]


def test_a_baseline_under_10_is_flagged_as_outside_the_usual_definition(client, auth, people):
    low = _paper_form(people, "phq9", [1, 1, 1, 1, 1, 1, 1, 0, 0], START)
    later = _paper_form(people, "phq9", [0, 0, 1, 1, 1, 0, 0, 0, 0], START + timedelta(days=14))
    auth.login(people.alice)
    auth.post(f"/clinician/patients/{people.pat.id}/baseline", {"assessment_id": str(low.id)})
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "The PHQ-9 baseline is 7, under 10" in page
    row = _row(page, later.completed_at, people)
    assert "Response" in row and "remission" in row and "outside the usual definition: baseline under 10" in row


def test_a_baseline_must_be_one_of_the_patients_own_scored_forms(client, auth, people):
    theirs = _paper_form(people, "phq9", [1] * 9, START, patient=people.quinn)
    unscored = _paper_form(people, "phq9", [1, 1, 1, 1, 1, 1, 1, 1, None], START)
    auth.login(people.alice)
    for value in (str(theirs.id), str(unscored.id), "abc", ""):
        response = auth.post(f"/clinician/patients/{people.pat.id}/baseline", {"assessment_id": value})
        assert response.status_code == 400, value
        assert "The baseline was not changed" in response.get_data(as_text=True)
    assert db.session.scalar(select(Baseline)) is None
    assert _events("baseline.set") == []


def test_outside_clinician_cannot_set_a_baseline_or_the_programme(client, auth, people):
    form = _paper_form(people, "phq9", [1] * 9, START)
    auth.login(people.charlie)
    path = f"/clinician/patients/{people.pat.id}"
    assert auth.post(f"{path}/baseline", {"assessment_id": str(form.id)}).status_code == 404
    assert auth.post(f"{path}/details", {"urinary_check": "yes"}).status_code == 404
    db.session.expire_all()
    assert db.session.scalar(select(Baseline)) is None
    assert db.session.get(Patient, people.pat.id).urinary_check is False


def test_patient_page_names_each_open_alert_by_its_label(client, auth, people):
    _alert(people, "medium")
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "Medium priority" in page and "High craving" in page and "Reason for a medium alert" in page
