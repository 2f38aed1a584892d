"""The clinician's triage dashboard (most in need first) and the clinic overview (SPEC 1.6, 1.7, 7.2; EMA-R4).

Alice is a clinician with patient Pat (America/Chicago, active since 2 March 2026); Charlie is a clinician outside
Pat's care team with his own patient Quinn; Ada is the clinic's admin (see tests/conftest.py). Domain tests pass
explicit instants; the pages run on the real clock, so data a page shows is made relative to ``utcnow()``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, select, update

from journal import baselines, dashboard
from journal.accounts import PatientDetails, enrol_patient
from journal.alerts import raise_alert
from journal.assessments import set_baseline, submit
from journal.db import db, utcnow
from journal.models import (
    Alert,
    Assessment,
    AuditEvent,
    Baseline,
    CareTeamMember,
    CheckIn,
    DosingSession,
    EntrySource,
    Patient,
    ReportMode,
    Role,
    User,
)
from journal.sessions import save_session
from journal.views.dashboard import PAGE_SIZE
from tests.conftest import NOW, make_patient

# 20 March 2026, 13:00 in Chicago: Pat's local "today" is 20 March, and her 14-day window 6-19 March.
T = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
TODAY = date(2026, 3, 20)
NO_ITEM9 = 0  # every PHQ-9 here answers item 9 with 0, so none opens the safety pathway


# --- Helpers --------------------------------------------------------------------------------------------------------


def _checkin(user: User, day: date, mood: int = 5, on_time: bool = True) -> None:
    db.session.add(
        CheckIn(
            patient_id=user.id,
            local_date=day,
            mood=mood,
            report_mode=ReportMode.ON_TIME if on_time else ReportMode.RETROSPECTIVE,
            days_after_event=0 if on_time else 2,
            source=EntrySource.PATIENT,
        )
    )


def _phq9(user: User, at: datetime, each: int, by: User, now: datetime = T) -> Assessment:
    """A paper PHQ-9 with the first eight items at ``each`` and item 9 at 0: total 8 * each."""
    form, _ = submit(
        db.session,
        user.patient,
        {"instrument": "phq9", "answers": [each] * 8 + [NO_ITEM9], "completed_at": at},
        now,
        by,
    )
    return form


def _phq9_total(user: User, at: datetime, total: int, by: User, now: datetime = T) -> Assessment:
    """A paper PHQ-9 with exactly ``total`` (0-24), item 9 at 0."""
    answers = [min(3, max(0, total - 3 * n)) for n in range(8)] + [NO_ITEM9]
    assert sum(answers) == total
    form, _ = submit(db.session, user.patient, {"instrument": "phq9", "answers": answers, "completed_at": at}, now, by)
    return form


def _alert(user: User, severity: str, key: str, at: datetime = T) -> Alert:
    kind = {"high": "safety_item9", "medium": "craving", "low": "missed_checkins"}[severity]
    return raise_alert(
        db.session, at, patient_id=user.id, kind=kind, severity=severity, reason="test", dedup_key=f"test:{key}"
    )


def _session(user: User, status: str, start: datetime, by: User, now: datetime = T) -> DosingSession:
    data = {"status": status, "start": start, "route": "iv", "product": "Ketamine", "dose": 0.5, "dose_unit": "mg/kg"}
    return save_session(db.session, user.patient, data, now, by)


def _row(rows, user: User) -> dashboard.TriageRow:
    return next(row for row in rows if row.patient_id == user.id)


def _count_statements(client, path: str) -> tuple[int, str]:
    count = 0

    def counter(*_args):
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        response = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    assert response.status_code == 200
    return count, response.get_data(as_text=True)


def _table_names(page: str) -> list[str]:
    """The patient names in the triage table, in row order."""
    return re.findall(r'<th scope="row"><a href="/clinician/patients/\d+">([^<]+)</a></th>', page)


# --- Order and access ----------------------------------------------------------------------------------------------


def test_dashboard_lists_the_most_in_need_first(people):
    """High alerts, then medium, then low; then the most days missed in a row; then the lowest adherence."""
    alice = people.alice
    ann, ben, cal, dee, eve, fay = (
        make_patient(alice, name.lower(), f"{name} Test") for name in ("Ann", "Ben", "Cal", "Dee", "Eve", "Fay")
    )
    gus, _ = enrol_patient(  # invited, not yet active: nothing is scheduled for him
        db.session,
        alice,
        PatientDetails(name="Gus Test", email="gus@patient.test", timezone="UTC", substances=[]),
        NOW,
        7,
    )
    _alert(people.pat, "high", "pat")
    _alert(ann, "medium", "ann1")
    _alert(ann, "medium", "ann2")
    _alert(ben, "medium", "ben")
    _alert(ben, "low", "ben-low")
    _alert(cal, "low", "cal")
    for n in range(11, 15):  # Dee's last check-in was 11 days ago: 10 days missed in a row
        _checkin(dee, TODAY - timedelta(days=n))
    for n in (3, 4, 5):  # Eve and Fay both missed the last 2 days; Eve kept fewer of the others
        _checkin(eve, TODAY - timedelta(days=n))
    for n in range(3, 15):
        _checkin(fay, TODAY - timedelta(days=n))
    for user in (ann, ben, cal, people.pat):
        for n in range(1, 15):
            _checkin(user, TODAY - timedelta(days=n))
    db.session.commit()

    rows = dashboard.triage(db.session, alice, T)

    assert [row.name for row in rows] == [
        "Pat Patient", "Ann Test", "Ben Test", "Cal Test", "Dee Test", "Eve Test", "Fay Test", "Gus Test",
    ]  # fmt: skip
    assert [row.missed_days for row in rows] == [0, 0, 0, 0, 10, 2, 2, 0]
    assert _row(rows, eve).adherence.percent < _row(rows, fay).adherence.percent
    assert _row(rows, gus).adherence is None and not _row(rows, gus).active


def test_acknowledged_alerts_do_not_count(people):
    alert = _alert(people.pat, "high", "done")
    alert.acknowledged_at = T
    db.session.commit()
    row = _row(dashboard.triage(db.session, people.alice, T), people.pat)
    assert row.alerts == {"high": 0, "medium": 0, "low": 0}


def test_another_clinicians_patients_never_appear(client, auth, people):
    _alert(people.quinn, "high", "quinn", utcnow())
    _checkin(people.quinn, utcnow().date() - timedelta(days=1))
    db.session.commit()

    assert [row.patient_id for row in dashboard.triage(db.session, people.alice, utcnow())] == [people.pat.id]
    assert [row.patient_id for row in dashboard.triage(db.session, people.charlie, utcnow())] == [people.quinn.id]
    assert dashboard.triage(db.session, people.ada, utcnow()) == []
    auth.login(people.alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)
    assert _table_names(page) == ["Pat Patient"]
    assert "Quinn" not in page


def test_a_colleague_added_to_the_care_team_sees_the_patient(people):
    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=people.bob.id))
    db.session.commit()
    assert [row.patient_id for row in dashboard.triage(db.session, people.bob, T)] == [people.pat.id]


# --- Every column for one patient -----------------------------------------------------------------------------------


@pytest.fixture
def seeded(people):
    """Pat, as of T: check-ins on time 6-13 March, back-filled 14-15, none 16-19, one today; a PHQ-9 baseline of 16
    and a later 8; one GAD-7; a session given on 15 March and one planned for 23 March; open alerts."""
    pat, alice = people.pat, people.alice
    moods = dict(zip(range(6, 14), (3, 4, 4, 5, 5, 6, 6, 7), strict=True))
    for day, mood in moods.items():
        _checkin(pat, date(2026, 3, day), mood)
    _checkin(pat, date(2026, 3, 14), 6, on_time=False)
    _checkin(pat, date(2026, 3, 15), 7, on_time=False)
    _checkin(pat, TODAY, 8)
    _checkin(pat, date(2026, 2, 20), 2)  # before the window: not in any figure here
    baseline = _phq9(pat, datetime(2026, 3, 1, 15, 0, tzinfo=UTC), 2, alice)  # 16, moderately severe
    _phq9(pat, datetime(2026, 3, 16, 15, 0, tzinfo=UTC), 1, alice)  # 8, mild: exactly 50 % below
    submit(
        db.session, pat.patient,
        {"instrument": "gad7", "answers": [1] * 7, "completed_at": datetime(2026, 3, 16, 15, 5, tzinfo=UTC)}, T, alice,
    )  # fmt: skip
    set_baseline(db.session, pat.patient, baseline.id, alice, T)
    _session(pat, "given", datetime(2026, 3, 3, 16, 0, tzinfo=UTC), alice)
    _session(pat, "given", datetime(2026, 3, 15, 16, 0, tzinfo=UTC), alice)  # 10:00 in Chicago
    _session(pat, "planned", datetime(2026, 3, 23, 15, 0, tzinfo=UTC), alice)
    _session(pat, "planned", datetime(2026, 4, 6, 15, 0, tzinfo=UTC), alice)
    _alert(pat, "high", "h")
    _alert(pat, "medium", "m1")
    _alert(pat, "medium", "m2")
    _alert(pat, "low", "acknowledged").acknowledged_at = T
    db.session.commit()
    return people


def test_every_column_for_a_seeded_patient(seeded):
    row = _row(dashboard.triage(db.session, seeded.alice, T), seeded.pat)

    assert row.name == "Pat Patient" and row.active
    assert row.today == TODAY
    assert row.alerts == {"high": 1, "medium": 2, "low": 0}
    assert row.last_checkin == TODAY
    assert row.missed_days == 4  # 16 to 19 March; today is still open
    # EMA-R4: 10 of the 14 days before today, 8 on time and 2 back-filled
    adherence = row.adherence
    assert (adherence.scheduled, adherence.completed, adherence.on_time, adherence.backfilled) == (14, 10, 8, 2)
    assert adherence.percent == 71.4 and adherence.meets_target is False
    assert row.moods == (4, 4, 5, 5, 6, 6, 7, 6, 7, None, None, None, None, 8)  # 7 to 20 March
    assert (row.phq9.total, row.phq9.band, row.phq9.change_from_baseline) == (8, "mild", -8)
    assert row.phq9.meaningful  # PHQ-R10: 5 points or more
    assert row.phq9.completed_at == datetime(2026, 3, 16, 15, 0, tzinfo=UTC)
    assert (row.gad7.total, row.gad7.band, row.gad7.change_from_baseline) == (7, "mild", None)
    # PHQ-R9: 2 * 8 <= 16, so exactly 50 % is a response; 8 is not under 5
    assert row.outcome.baseline_total == 16 and row.outcome.latest_total == 8
    assert row.outcome.response is True and row.outcome.remission is False
    assert row.outcome.baseline_below_usual is False
    assert row.days_since_last_session == 5
    assert row.next_session == datetime(2026, 3, 23, 15, 0, tzinfo=UTC)
    assert row.booster_review is False


def test_an_open_booster_review_alert_is_flagged_beside_the_last_session(people):
    """SPEC 7.2 (KET-R2): the flag goes to the clinician with the days since the last session."""
    raise_alert(
        db.session, T, patient_id=people.pat.id, kind="booster_review", severity="medium", reason="test",
        dedup_key="test:booster",
    )  # fmt: skip
    db.session.commit()
    row = _row(dashboard.triage(db.session, people.alice, T), people.pat)
    assert row.booster_review is True and row.alerts["medium"] == 1


def test_a_baseline_under_10_is_flagged_and_the_baseline_alone_is_no_outcome(people):
    pat, alice = people.pat, people.alice
    baseline = _phq9_total(pat, datetime(2026, 3, 1, 15, 0, tzinfo=UTC), 8, alice)
    set_baseline(db.session, pat.patient, baseline.id, alice, T)
    db.session.commit()
    outcome = _row(dashboard.triage(db.session, alice, T), pat).outcome
    assert outcome.baseline_below_usual is True
    assert outcome.latest_total is None and outcome.response is None  # the latest form is the baseline itself

    _phq9_total(pat, datetime(2026, 3, 10, 15, 0, tzinfo=UTC), 3, alice)
    db.session.commit()
    outcome = _row(dashboard.triage(db.session, alice, T), pat).outcome
    assert (outcome.response, outcome.remission, outcome.baseline_below_usual) == (True, True, True)


def test_missed_days_count_from_activation_when_nothing_was_recorded(people):
    # Pat accepted her invitation on 2 March; as of 20 March, 2 to 19 March are missed: 18 days.
    row = _row(dashboard.triage(db.session, people.alice, T), people.pat)
    assert (row.last_checkin, row.missed_days) == (None, 18)
    assert row.adherence.completed == 0 and row.adherence.scheduled == 14
    assert row.moods == (None,) * dashboard.SPARK_DAYS


def test_missed_days_reach_back_beyond_the_window(people):
    _checkin(people.pat, date(2026, 3, 3))
    db.session.commit()
    row = _row(dashboard.triage(db.session, people.alice, T), people.pat)
    assert (row.last_checkin, row.missed_days) == (date(2026, 3, 3), 16)


def test_each_patient_has_their_own_today(people):
    """At 23:30 UTC on 19 March it is already 20 March in Kolkata and still 19 March in Chicago."""
    now = datetime(2026, 3, 19, 23, 30, tzinfo=UTC)
    db.session.add(CareTeamMember(patient_id=people.quinn.id, clinician_id=people.alice.id))
    _checkin(people.quinn, date(2026, 3, 19))  # Quinn's yesterday
    _checkin(people.pat, date(2026, 3, 18))  # Pat's yesterday
    db.session.commit()
    rows = dashboard.triage(db.session, people.alice, now)
    assert (_row(rows, people.quinn).today, _row(rows, people.quinn).missed_days) == (date(2026, 3, 20), 0)
    assert (_row(rows, people.pat).today, _row(rows, people.pat).missed_days) == (date(2026, 3, 19), 0)


def test_the_page_shows_each_column_and_links_each_row(client, auth, people):
    pat, alice = people.pat, people.alice
    now = utcnow()
    today = now.astimezone(ZoneInfo(pat.timezone)).date()
    for n, mood in ((1, 6), (2, 5), (3, 7)):
        _checkin(pat, today - timedelta(days=n), mood)
    baseline = _phq9(pat, now - timedelta(days=30), 2, alice, now)
    _phq9(pat, now - timedelta(days=3), 1, alice, now)
    set_baseline(db.session, pat.patient, baseline.id, alice, now)
    _session(pat, "given", now - timedelta(days=2), alice, now)
    _session(pat, "planned", now + timedelta(days=5), alice, now)
    _alert(pat, "high", "page", now)
    db.session.commit()

    auth.login(alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)

    assert f'href="/clinician/patients/{pat.id}">Pat Patient</a>' in page
    assert '<th scope="col">Open alerts</th>' in page and "<caption>Your patients, most in need first" in page
    assert '<span class="severity severity-high">1 high</span>' in page
    assert "3 of 14 days: 3 on time, 0 back-filled" in page
    assert "8 Mild" in page and "-8 from baseline (better)" in page
    assert "Response;" in page and "no remission" in page
    assert "2 days ago" in page
    # The sparkline: an inline SVG image with a sentence for screen readers, no inline style
    assert 'role="img" aria-label="Mood over the last 14 days, 0 worst to 10 best: 3 entries, from 5 to 7; ' in page
    assert "style=" not in page
    # The fixed definitions, in the legend (SPEC 1.6)
    assert "50 % or more below the baseline total (exactly 50 % counts)" in page
    assert "The latest PHQ-9 total under 5 (0 to 4)." in page


def test_reading_the_dashboard_is_audited_once(client, auth, people):
    auth.login(people.alice)
    client.get("/clinician/dashboard")
    events = db.session.execute(select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.detail)).all()
    assert [tuple(event) for event in events if event.action == "patient.list"] == [
        (people.alice.id, "patient.list", "dashboard")
    ]


def test_clinicians_land_on_the_dashboard(auth, people):
    assert auth.login(people.alice).headers["Location"] == "/clinician/dashboard"


# --- A fixed number of statements, however many patients -----------------------------------------------------------


def _bulk_patients(clinician: User, count: int, now: datetime, prefix: str) -> list[int]:
    """``count`` active patients on ``clinician``'s team, inserted in bulk (not through the argon2 path), each with
    14 days of check-ins, an open alert, a PHQ-9 baseline and a later PHQ-9, a GAD-7 and two sessions."""
    zones = ("UTC", "America/Chicago", "Asia/Kolkata", "Pacific/Auckland")
    db.session.execute(
        insert(User),
        [
            {
                "clinic_id": clinician.clinic_id,
                "email": f"{prefix}{n}@patient.test",
                "name": f"{prefix.title()} {n:04d}",
                "role": Role.PATIENT,
                "timezone": zones[n % len(zones)],
                "activated_at": now - timedelta(days=60),
            }
            for n in range(count)
        ],
    )
    ids = list(db.session.scalars(select(User.id).where(User.email.like(f"{prefix}%@patient.test")).order_by(User.id)))
    db.session.execute(insert(Patient), [{"user_id": i, "enrolled_at": now - timedelta(days=60)} for i in ids])
    db.session.execute(insert(CareTeamMember), [{"patient_id": i, "clinician_id": clinician.id} for i in ids])
    today = now.date()
    db.session.execute(
        insert(CheckIn),
        [
            {
                "patient_id": i,
                "local_date": today - timedelta(days=d),
                "mood": (i + d) % 11,
                "report_mode": ReportMode.ON_TIME if d % 3 else ReportMode.RETROSPECTIVE,
                "source": EntrySource.PATIENT,
            }
            for i in ids
            for d in range(1, 15)
            if (i + d) % 5
        ],
    )
    db.session.execute(
        insert(Alert),
        [
            {"patient_id": i, "kind": "craving", "severity": ("high", "medium", "low")[i % 3], "reason": "bulk",
             "dedup_key": f"{prefix}:{i}", "created_at": now}
            for i in ids
        ],
    )  # fmt: skip
    forms = [
        {"patient_id": i, "instrument": instrument, "answers": [], "total": total, "band": "mild",
         "completed_at": now - timedelta(days=days), "source": EntrySource.CLINICIAN}
        for i in ids
        for instrument, total, days in (("phq9", 15 + i % 5, 40), ("phq9", i % 12, 3), ("gad7", i % 9, 3))
    ]  # fmt: skip
    db.session.execute(insert(Assessment), forms)
    baselines = db.session.execute(
        select(Assessment.patient_id, Assessment.id).where(
            Assessment.patient_id.in_(ids), Assessment.completed_at == now - timedelta(days=40)
        )
    ).all()
    db.session.execute(
        insert(Baseline), [{"patient_id": p, "instrument": "phq9", "assessment_id": a} for p, a in baselines]
    )
    db.session.execute(
        insert(DosingSession),
        [
            {"patient_id": i, "status": status, "start": now + timedelta(days=offset), "route": "iv",
             "product": "Ketamine", "dose": 0.5, "dose_unit": "mg/kg"}
            for i in ids
            for status, offset in (("given", -35), ("given", -(i % 20) - 1), ("planned", i % 9 + 1))
        ],
    )  # fmt: skip
    db.session.commit()
    return ids


def test_the_dashboard_for_1000_patients_takes_as_many_statements_as_for_10(client, auth, people):
    now = utcnow()
    auth.login(people.alice)
    _bulk_patients(people.alice, 10, now, "few")
    few, page = _count_statements(client, "/clinician/dashboard")
    assert len(_table_names(page)) == 11

    _bulk_patients(people.alice, 990, now, "many")
    started = time.perf_counter()
    many, page = _count_statements(client, "/clinician/dashboard")
    elapsed = time.perf_counter() - started

    assert len(_table_names(page)) == PAGE_SIZE
    assert "1001 patients on your care teams; this page shows numbers 1 to 50" in page
    assert many == few
    assert many <= 10
    print(f"dashboard for 1,001 patients: {many} statements, {elapsed * 1000:.0f} ms")  # shown with -s


def test_the_pages_of_the_triage_table_list_every_patient_once_in_order(client, auth, people):
    now = utcnow()
    _bulk_patients(people.alice, 2 * PAGE_SIZE, now, "paged")
    auth.login(people.alice)
    expected = [row.name for row in dashboard.triage(db.session, people.alice, now)]
    seen, path = [], "/clinician/dashboard"
    while path:
        page = client.get(path).get_data(as_text=True)
        seen += _table_names(page)
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert seen == expected
    assert len(seen) == 2 * PAGE_SIZE + 1  # and Pat
    assert "Page 3 of 3" in page


def test_a_page_number_out_of_range_or_not_a_number_shows_the_nearest_page(client, auth, people):
    auth.login(people.alice)
    for asked in ("0", "-3", "99", "two"):
        response = client.get(f"/clinician/dashboard?page={asked}")
        assert response.status_code == 200
        assert _table_names(response.get_data(as_text=True)) == [people.pat.name]


def test_the_overview_takes_as_many_statements_for_1000_patients_as_for_10(client, auth, people):
    now = utcnow()
    _bulk_patients(people.alice, 10, now, "few")
    auth.login(people.alice)
    few, _ = _count_statements(client, "/clinician/overview")
    _bulk_patients(people.alice, 990, now, "many")
    many, page = _count_statements(client, "/clinician/overview")
    assert many == few <= 10
    assert "<dt>Patients</dt><dd>1001</dd>" in page


# --- The mood sparkline ---------------------------------------------------------------------------------------------


def test_sparkline_leaves_missing_days_as_gaps_and_draws_higher_mood_higher():
    spark = dashboard.sparkline([10, 0, None, 5, 7, None, 3])
    # 10 is drawn at the top (y 3), 0 at the bottom (y 21); x steps 6 pixels a day from 3
    assert spark.line_path == "M3,3L9,21M21,12L27,8.4"  # two runs; never joined across the missing day
    assert spark.dot_path == "M3,3h0M9,21h0M21,12h0M27,8.4h0M39,15.6h0"  # the lone 3 is a dot only
    assert (spark.width, spark.height) == (3 * 2 + 6 * 6, 24)
    assert spark.label == "Mood over the last 7 days, 0 worst to 10 best: 5 entries, from 0 to 10; latest 3, today."


def test_sparkline_sentence_without_entries():
    assert dashboard.sparkline([None] * 14).label == "Mood over the last 14 days, 0 worst to 10 best: no entries."
    assert dashboard.mood_sentence([None, 4, 4]).endswith(": 2 entries; latest 4, today.")


# --- The clinic overview -------------------------------------------------------------------------------------------


def _course(user: User, by: User, first: datetime, baseline: int, later: list[tuple[int, int]]) -> None:
    """A patient whose first session was given at ``first``, with a PHQ-9 baseline the day before and later forms
    (days after the first session, total)."""
    form = _phq9_total(user, first - timedelta(days=1), baseline, by)
    set_baseline(db.session, user.patient, form.id, by, T)
    _session(user, "given", first, by)
    for days, total in later:
        _phq9_total(user, first + timedelta(days=days), total, by)


@pytest.fixture
def cohort(people):
    """Seven of Alice's patients whose first session was on 1 January 2026 (T is 20 March, week 11)."""
    first = datetime(2026, 1, 1, 15, 0, tzinfo=UTC)
    alice = people.alice
    courses = [
        (20, [(7, 12), (25, 8)]),  # weeks 1 and 3: no response (12 > 10), then response (8 <= 10)
        (16, [(10, 8), (70, 4)]),  # week 1: response (exactly 50 %); week 10: response and remission
        (14, [(5, 13), (20, 6)]),  # week 0: no response; week 2 (its latest in 0-2): response
        (12, [(3, 11)]),  # week 0: no response
        (18, [(13, 3)]),  # week 1: response and remission
        (10, [(1, 10), (75, 2)]),  # week 0: no response; week 10: response and remission
        (8, [(7, 3)]),  # baseline under 10: not in the rates, but in the change distribution
    ]
    for n, (baseline, later) in enumerate(courses):
        _course(make_patient(alice, f"cohort{n}", f"Cohort {n}"), alice, first, baseline, later)
    db.session.commit()
    return people


def test_overview_rates_by_weeks_since_the_first_session(cohort):
    figures = dashboard.overview(db.session, dashboard.visible_ids(cohort.alice), T)

    assert (figures.patients, figures.with_baseline, figures.usual_baseline) == (8, 7, 6)  # Pat has no baseline
    rates = {row.weeks: row for row in figures.rates}
    first = rates["0–2"]  # six patients with a baseline of 10 or more, each counted with their latest form
    assert (first.patients, first.responders, first.remitters) == (6, 3, 1)
    assert (first.response_pct, first.remission_pct) == (50.0, 16.7)
    assert (rates["3–4"].patients, rates["3–4"].responders) == (1, 1)
    assert (rates["9–12"].patients, rates["9–12"].responders, rates["9–12"].remitters) == (2, 2, 2)
    assert rates["5–8"].patients == 0 and rates["5–8"].response_pct is None


def test_overview_change_distribution_at_the_latest_form(cohort):
    figures = dashboard.overview(db.session, dashboard.visible_ids(cohort.alice), T)
    # latest minus baseline: -12, -12, -8, -1, -15, -8, -5
    counts = {row.label: row.patients for row in figures.changes}
    assert counts == {
        "20 or more points lower (better)": 0,
        "15 to 19 points lower": 1,
        "10 to 14 points lower": 2,
        "5 to 9 points lower": 3,
        "Less than 5 points either way": 1,
        "5 to 9 points higher": 0,
        "10 to 14 points higher": 0,
        "15 or more points higher (worse)": 0,
    }
    assert figures.changes_total == 7
    assert [row.meaningful for row in figures.changes] == [True, True, True, True, False, True, True, True]


def test_overview_withholds_counts_under_5_for_admins(cohort):
    figures = dashboard.overview(db.session, dashboard.clinic_ids(cohort.clinic.id), T, min_cell=dashboard.MIN_CELL)
    rates = {row.weeks: row for row in figures.rates}
    assert rates["0–2"].patients == 6  # shown; its 3 responders are not, nor its 1 remitter: 3 < 5
    assert rates["0–2"].response_pct is None and rates["0–2"].remission_pct is None
    assert rates["3–4"].patients is None and rates["9–12"].patients is None
    assert rates["5–8"].patients is None  # 0 is withheld as 1 to 4 are: it would tell who moves into it
    # every count under 5 is withheld, zeros included
    assert [row.patients for row in figures.changes] == [None] * 8
    assert figures.suppressed


def test_suppression_withholds_zero_like_any_small_count_and_more_where_the_total_would_tell():
    assert dashboard.suppress([10, 3, 7, 0], 5) == [10, None, None, None]  # 3 + 0 would show through the total
    assert dashboard.suppress([10, 3, 2, 6], 5) == [10, None, None, 6]  # two withheld, adding up to 5
    assert dashboard.suppress([10, 5, 0], 5) == [10, None, None]  # one withheld 0 would be read off the total
    assert dashboard.suppress([12, 0, 0, 9], 5) == [12, None, None, None]  # withheld zeros add up to 0
    assert dashboard.suppress([12, 6, 7], 5) == [12, 6, 7]
    assert dashboard.suppress([1, 2, 3], 0) == [1, 2, 3]


def test_a_paper_phq9_moving_a_patient_into_an_empty_cell_changes_nothing_an_admin_sees():
    before = [0, 6, 9, 0, 0, 0, 0, 0]  # the change bins; one patient then moves from the third to the fourth
    after = [0, 6, 8, 1, 0, 0, 0, 0]
    shown_before, shown_after = dashboard.suppress(before, 5), dashboard.suppress(after, 5)
    assert [value is None for value in shown_before][3:] == [value is None for value in shown_after][3:]
    assert shown_before[3] is None and shown_after[3] is None  # "withheld" both times


def test_the_baseline_totals_do_not_give_away_a_small_group(cohort):
    # Alice's 8 patients and Quinn: 2 without a baseline, 1 with a baseline under 10, 6 of 10 or more.
    figures = dashboard.overview(db.session, dashboard.clinic_ids(cohort.clinic.id), T, min_cell=dashboard.MIN_CELL)
    assert figures.patients == 9
    assert figures.with_baseline is None  # 9 minus it would count the 2 without one
    assert figures.usual_baseline is None  # with the withheld groups 2 + 1 < 5, the smallest other goes too


def test_clinician_overview_covers_only_their_own_patients(cohort):
    assert dashboard.overview(db.session, dashboard.visible_ids(cohort.charlie), T).patients == 1  # Quinn


def test_admin_overview_shows_aggregates_and_no_name(client, auth, cohort):
    auth.login(cohort.ada)
    page = client.get("/admin/overview").get_data(as_text=True)
    assert "Clinic overview" in page
    assert "<dt>Patients</dt><dd>9</dd>" in page  # every patient of the clinic: Alice's 8 and Charlie's Quinn
    assert '<span class="withheld">withheld</span>' in page
    assert '<span class="withheld">fewer than' not in page  # withheld counts all read the same
    assert '<dt>With a PHQ-9 baseline</dt><dd><span class="withheld">withheld</span></dd>' in page
    for user in db.session.scalars(select(User).where(User.role == Role.PATIENT)):
        assert user.name not in page
        assert user.email not in page
    assert "/clinician/patients/" not in page


def test_clinician_overview_page_shows_rates_and_the_mcid(client, auth, cohort):
    auth.login(cohort.alice)
    page = client.get("/clinician/overview").get_data(as_text=True)
    assert '<th scope="row">0–2</th>' in page
    assert "50 %" in page and "3 of 6" in page
    assert "Meaningful improvement" in page and "Below the MCID" in page
    assert "Cohort" not in page  # aggregates: no names here either


# --- The booster review flag and the search (issue 14's smaller points) -------------------------------------------


def test_the_page_writes_an_open_booster_review_in_the_patients_row(client, auth, people):
    """KET-R2: the flag on the patient's summary is also on the dashboard row, in words (not a colour)."""
    raise_alert(
        db.session, utcnow(), patient_id=people.pat.id, kind="booster_review", severity="medium", reason="test",
        dedup_key="test:booster-page",
    )  # fmt: skip
    db.session.commit()
    auth.login(people.alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*>\s*<th scope="row"><a href="/clinician/patients/{people.pat.id}">.*?</tr>', page, re.S)
    assert row and '<strong class="cell-detail">Consider booster review</strong>' in row.group(0)


def test_no_booster_review_flag_without_an_open_alert(client, auth, people):
    auth.login(people.alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)
    assert "Consider booster review</strong>" not in page


def _search_people(people) -> tuple[User, User]:
    robin = make_patient(people.alice, "robin.lowe", "Robin Lowe")
    percent = make_patient(people.alice, "sam", "Sam 100% Kept")
    db.session.commit()
    return robin, percent


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("t pat", {"Pat Patient"}),  # part of a name
        ("PAT PATIENT", {"Pat Patient"}),  # capitals do not matter
        ("owe", {"Robin Lowe"}),
        ("  robin.lowe@  ", {"Robin Lowe"}),  # part of an address, spaces trimmed
        ("@patient.TEST", {"Pat Patient", "Robin Lowe", "Sam 100% Kept"}),
        ("100%", {"Sam 100% Kept"}),  # % and _ are themselves, not LIKE's wildcards
        ("%", {"Sam 100% Kept"}),
        ("_", set()),
        ("quinn", set()),  # Charlie's patient: never in Alice's results
        ("", {"Pat Patient", "Robin Lowe", "Sam 100% Kept"}),
    ],
)
def test_search_matches_part_of_a_name_or_address_ignoring_case(people, typed, expected):
    _search_people(people)
    rows = dashboard.triage(db.session, people.alice, T, dashboard.read_search(typed))
    assert {row.name for row in rows} == expected


def test_the_search_filter_is_sql_that_the_patient_list_can_use_too(people):
    """The filter narrows the statement (only matching rows are loaded), for the dashboard and the patient list."""
    from journal.access import patient_list

    _search_people(people)
    statement = dashboard.matching(patient_list(people.alice), dashboard.read_search("LOWE"))
    assert "like" in str(statement.compile()).lower()
    assert [p.user.name for p in db.session.scalars(statement)] == ["Robin Lowe"]
    outsider = dashboard.matching(patient_list(people.charlie), dashboard.read_search("robin"))
    assert db.session.scalars(outsider).all() == []


def test_a_search_takes_as_many_statements_as_the_whole_dashboard(client, auth, people):
    _search_people(people)
    auth.login(people.alice)
    whole, _ = _count_statements(client, "/clinician/dashboard")
    searched, page = _count_statements(client, "/clinician/dashboard?q=robin")
    assert searched == whole
    assert _table_names(page) == ["Robin Lowe"]


def test_the_dashboard_has_a_labelled_search_that_says_how_many_match(client, auth, people):
    _search_people(people)
    auth.login(people.alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)
    assert '<label for="q">Search by name or e-mail address</label>' in page
    assert 'type="search" id="q" name="q" value=""' in page
    assert "3 patients on your care teams" in page

    page = client.get("/clinician/dashboard?q=LOWE").get_data(as_text=True)
    assert "1 patient matches “LOWE”." in page
    assert "1 patient matching the search" in page
    assert 'name="q" value="LOWE"' in page  # the field keeps what was typed
    assert _table_names(page) == ["Robin Lowe"]

    page = client.get("/clinician/dashboard?q=patient.test").get_data(as_text=True)
    assert "3 patients match “patient.test”." in page


def test_a_search_that_matches_nobody_says_so(client, auth, people):
    auth.login(people.alice)
    page = client.get("/clinician/dashboard?q=quinn").get_data(as_text=True)  # Charlie's patient
    assert "No patient on your care teams matches “quinn”." in page
    assert _table_names(page) == []
    assert "Quinn" not in page.replace("“quinn”", "")
    assert "No patients yet" not in page  # Alice has patients: the search found none of them


def test_a_search_too_long_to_be_a_name_is_an_error_at_the_field(client, auth, people):
    auth.login(people.alice)
    response = client.get("/clinician/dashboard?q=" + "x" * (dashboard.SEARCH_MAX + 1))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<p class="field-error" id="q-error">Search for at most 100 characters.</p>' in page
    assert 'aria-invalid="true" aria-describedby="q-error q-hint"' in page
    assert 'href="#q"' in page  # the error summary links to the field
    assert _table_names(page) == [people.pat.name]  # the list is not narrowed by a term that was refused


def test_the_pages_of_a_search_keep_the_search(client, auth, people):
    now = utcnow()
    _bulk_patients(people.alice, PAGE_SIZE + 5, now, "found")
    _bulk_patients(people.alice, 10, now, "other")
    auth.login(people.alice)
    page = client.get("/clinician/dashboard?q=found").get_data(as_text=True)
    assert f"{PAGE_SIZE + 5} patients match “found”." in page
    following = re.search(r'<a href="([^"]+)" rel="next">', page).group(1).replace("&amp;", "&")
    assert "q=found" in following and "page=2" in following
    second = client.get(following).get_data(as_text=True)
    assert len(_table_names(second)) == 5 and all(name.startswith("Found") for name in _table_names(second))


def test_the_next_session_is_also_given_at_the_patients_own_clock_when_it_differs(client, auth, people):
    """Alice reads New York time; Pat's 10:00 in Chicago is 11:00 or so for Alice, and the row says both."""
    pat, alice, now = people.pat, people.alice, utcnow()
    chicago = ZoneInfo(pat.timezone)
    day = (now + timedelta(days=3)).astimezone(chicago).date()
    start = datetime(day.year, day.month, day.day, 10, 0, tzinfo=chicago).astimezone(UTC)
    _session(pat, "planned", start, alice, now)
    db.session.commit()
    auth.login(alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)
    ours = start.astimezone(ZoneInfo(alice.timezone)).strftime("%a %-d %b %Y, %H:%M %Z")
    assert ours + '<span class="cell-detail muted">10:00 the patient\'s time (America/Chicago)</span>' in page


def test_the_next_session_is_given_once_when_the_patient_shares_the_readers_clock(client, auth, people):
    alice, now = people.alice, utcnow()
    ny = make_patient(alice, "nora", "Nora York", zone="America/New_York")
    _session(ny, "planned", now + timedelta(days=2), alice, now)
    db.session.commit()
    auth.login(alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)
    assert "the patient's time (" not in page


def test_the_patient_list_has_the_same_search_and_still_names_every_alerted_patient(client, auth, people):
    _search_people(people)
    raise_alert(db.session, T, patient_id=people.pat.id, kind="craving", severity="medium", reason="r", dedup_key="s")
    db.session.commit()
    auth.login(people.alice)
    page = client.get("/clinician/patients?q=lowe").get_data(as_text=True)
    assert '<label for="q">Search by name or e-mail address</label>' in page
    assert "1 patient matches “lowe”." in page
    rows = re.findall(r'<th scope="row"><a href="/clinician/patients/\d+">([^<]+)</a></th>', page)
    assert rows == ["Robin Lowe"]
    assert f'href="/clinician/patients/{people.pat.id}">Pat Patient</a>:' in page  # his open alert, above the list

    page = client.get("/clinician/patients?q=quinn").get_data(as_text=True)  # Charlie's patient
    assert "No patient on your care teams matches “quinn”." in page
    assert "No patients yet" not in page


# --- The questionnaires of each patient's indications (issue 15) ---------------------------------------------------

PCL5_40 = [2] * 20  # every item endorsed: a provisional DSM-5 pattern, and 40 is at or above the cut-point 33
PCL5_28 = [2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1]  # 28; cluster C not endorsed


def _form(user: User, instrument: str, answers: list, at: datetime, by: User, now: datetime = T) -> Assessment:
    form, _ = submit(
        db.session, user.patient, {"instrument": instrument, "answers": answers, "completed_at": at}, now, by
    )
    return form


def _treated(user: User, by: User, session_at: datetime, now: datetime = T) -> None:
    """PTSD, chronic pain and alcohol: PCL-5, PEG, AUDIT-C and PACS five days before the first given session (each
    becomes its baseline by the rule), then a PCL-5 and a PEG after it; no PHQ-9 or GAD-7 at all."""
    user.patient.indications = ["ptsd", "chronic_pain", "alcohol"]
    user.patient.sex = "male"
    before = session_at - timedelta(days=5)
    _form(user, "pcl5", PCL5_40, before, by, now)
    _form(user, "peg", [7, 7, 7], before, by, now)  # sum 21: 7.0
    _form(user, "auditc", [2, 1, 1], before, by, now)  # 4: positive for a man (AUDC-R5)
    _form(user, "pacs", [3, 3, 3, 3, 3], before, by, now)  # 15
    _session(user, "given", session_at, by, now)
    _form(user, "pcl5", PCL5_28, session_at + timedelta(days=8), by, now)
    _form(user, "peg", [5, 5, 4], session_at + timedelta(days=8), by, now)  # sum 14: a third lower


def _details(user: User, clinician: User, now: datetime = T) -> dashboard.RowQuestionnaires:
    rows = dashboard.triage(db.session, clinician, now)
    return dashboard.page_details(db.session, rows, now).questionnaires[user.id]


def test_each_row_shows_the_questionnaires_of_the_patients_indications_by_their_own_rules(people):
    pat, alice = people.pat, people.alice
    _treated(pat, alice, datetime(2026, 3, 10, 16, 0, tzinfo=UTC))
    db.session.commit()

    cells = {cell.key: cell for cell in _details(pat, alice).cells}
    assert list(cells) == ["pcl5", "peg", "auditc", "pacs"]  # instruments.for_patient's order
    pcl5, peg, auditc, pacs = cells.values()
    # PCL-R8: 12 points lower is a clinically meaningful improvement; the latest result raises neither flag.
    assert (pcl5.shown, pcl5.baseline, pcl5.flags) == ("28", "40", ())
    assert (pcl5.change, pcl5.meaningful) == ("-12 from baseline: clinically meaningful improvement", True)
    # PEG-R3/R4: the score to one decimal; 14 against 21 is 33.3 % lower, at least 30 %: improved.
    assert (peg.shown, peg.baseline, peg.change, peg.meaningful) == (
        "4.7",
        "7.0",
        "33.3 % lower than baseline: improved",
        True,
    )
    # AUDC-R5 with the threshold stored with the result; the form is its own baseline: no change yet.
    assert (auditc.shown, auditc.flags, auditc.change) == ("4", ("positive screen (4 or more is positive)",), None)
    assert (pacs.shown, pacs.baseline, pacs.change) == ("15", "15", None)  # PACS: no change rule, no category


def test_a_pcl5_at_the_cut_point_and_a_worsening_are_said_in_the_pcl_r7_words(people):
    pat, alice = people.pat, people.alice
    pat.patient.indications = ["ptsd"]
    _form(pat, "pcl5", PCL5_28, datetime(2026, 3, 5, 15, 0, tzinfo=UTC), alice)
    _session(pat, "given", datetime(2026, 3, 10, 16, 0, tzinfo=UTC), alice)
    _form(pat, "pcl5", [2] * 17 + [0, 0, 0], datetime(2026, 3, 18, 15, 0, tzinfo=UTC), alice)  # 34
    db.session.commit()
    (cell,) = _details(pat, alice).cells
    assert cell.flags == ("score at or above screening cut-point (33)", "provisional DSM-5 symptom pattern")
    assert (cell.change, cell.meaningful) == ("+6 from baseline: worsening", True)


def test_a_course_without_a_qualifying_form_says_so_with_the_rules_reason(people):
    """PHQ-R9/PCL-R8: a PCL-5 twenty days before the first session is no baseline; no form at all is none either;
    a patient with no session given yet has none to be chosen."""
    pat, alice = people.pat, people.alice
    pat.patient.indications = ["ptsd"]
    _form(pat, "pcl5", PCL5_40, datetime(2026, 2, 18, 15, 0, tzinfo=UTC), alice)
    _session(pat, "given", datetime(2026, 3, 10, 16, 0, tzinfo=UTC), alice)
    nia = make_patient(alice, "nia", "Nia New")
    nia.patient.indications = ["chronic_pain"]
    db.session.commit()

    details = _details(pat, alice)
    assert details.no_baseline == ((baselines.REASONS[baselines.NO_FORM], ("PHQ-9", "GAD-7", "PCL-5")),)
    (cell,) = details.cells
    assert (cell.shown, cell.baseline, cell.change) == ("40", None, None)
    assert _details(nia, alice).no_baseline == ((baselines.REASONS[baselines.NO_SESSION], ("PHQ-9", "GAD-7", "PEG")),)
    assert [cell.shown for cell in _details(nia, alice).cells] == [None]  # no PEG yet


def test_the_page_writes_the_questionnaires_and_the_missing_baselines_in_each_row(client, auth, people):
    pat, alice, now = people.pat, people.alice, utcnow()
    _treated(pat, alice, now - timedelta(days=12), now)
    db.session.commit()
    auth.login(alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*>\s*<th scope="row"><a href="/clinician/patients/{pat.id}">.*?</tr>', page, re.S).group(
        0
    )
    assert '<th scope="col">Questionnaires of the indications</th>' in page
    assert (
        '<strong>PCL-5</strong> 28; <strong class="meaningful">-12 from baseline: clinically meaningful '
        "improvement</strong>" in row
    )
    assert '<strong>PEG</strong> 4.7; <strong class="meaningful">33.3 % lower than baseline: improved</strong>' in row
    assert "<strong>AUDIT-C</strong> 4, positive screen (4 or more is positive); baseline 4" in row
    assert "<strong>PACS</strong> 15; baseline 15" in row
    assert (
        '<span class="cell-detail no-baseline">No baseline: no form was completed in the 14 days before the first '
        "dosing session of the course. (PHQ-9, GAD-7)</span>"
    ) in row
    assert "PCL-5 (PTSD, 0 to 80) a response at 5 points lower" in page  # the legend names each rule
    assert "style=" not in page


def test_another_clinicians_patients_questionnaires_never_appear(client, auth, people):
    quinn, charlie, now = people.quinn, people.charlie, utcnow()
    quinn.patient.indications = ["ptsd"]
    _form(quinn, "pcl5", [4] * 19 + [1], now - timedelta(days=2), charlie, now)  # 77
    db.session.commit()
    rows = dashboard.triage(db.session, people.alice, now)
    assert quinn.id not in dashboard.page_details(db.session, rows, now).questionnaires
    auth.login(people.alice)
    assert "<strong>PCL-5</strong> 77" not in client.get("/clinician/dashboard").get_data(as_text=True)
    auth.logout()
    auth.login(charlie)  # Quinn's own clinician sees it: the absence above is the care team, not a missing cell
    assert "<strong>PCL-5</strong> 77" in client.get("/clinician/dashboard").get_data(as_text=True)


def test_the_questionnaires_take_as_many_statements_for_20_patients_as_for_1(client, auth, people):
    now = utcnow()
    _treated(people.pat, people.alice, now - timedelta(days=12), now)
    db.session.commit()
    auth.login(people.alice)
    one, page = _count_statements(client, "/clinician/dashboard")
    assert len(_table_names(page)) == 1 and page.count("<strong>PCL-5</strong>") == 1

    ids = _bulk_patients(people.alice, 19, now, "twenty")
    db.session.execute(update(Patient).where(Patient.user_id.in_(ids)).values(indications=["ptsd", "chronic_pain"]))
    db.session.execute(
        insert(Assessment),
        [
            {"patient_id": i, "instrument": instrument, "answers": [], "total": total, "scores": scores,
             "completed_at": now - timedelta(days=2), "source": EntrySource.CLINICIAN}
            for i in ids
            for instrument, total, scores in (("pcl5", 30 + i % 20, {"cut_point": 33}), ("peg", 12, {"score": 4.0}))
        ],
    )  # fmt: skip
    db.session.commit()
    twenty, page = _count_statements(client, "/clinician/dashboard")
    assert len(_table_names(page)) == 20 and page.count("<strong>PCL-5</strong>") == 20
    assert page.count("<strong>PEG</strong> 4.0") == 19
    assert twenty == one <= 10


def test_a_safe_r4_clinic_sees_the_phq8_in_the_phq9_columns(client, auth, people):
    pat, alice = people.pat, people.alice
    people.clinic.depression_instrument = "phq8"
    _form(pat, "phq8", [2] * 8, datetime(2026, 3, 5, 15, 0, tzinfo=UTC), alice)  # 16
    _session(pat, "given", datetime(2026, 3, 10, 16, 0, tzinfo=UTC), alice)
    _form(pat, "phq8", [1] * 8, datetime(2026, 3, 18, 15, 0, tzinfo=UTC), alice)  # 8: exactly 50 % lower
    db.session.commit()
    row = _row(dashboard.triage(db.session, alice, T), pat)
    assert (row.phq9.instrument, row.phq9.total, row.phq9.change_from_baseline) == ("phq8", 8, -8)
    assert (row.outcome.baseline_total, row.outcome.response, row.outcome.remission) == (16, True, False)
    auth.login(alice)
    page = client.get("/clinician/dashboard").get_data(as_text=True)
    assert '<th scope="col">PHQ-8</th>' in page and '<th scope="col">PHQ-9</th>' not in page
    assert "Your clinic uses the PHQ-8 in place of the PHQ-9" in page


def test_a_safe_r4_clinics_overview_counts_the_phq8_in_place_of_the_phq9(people):
    """The overview's response and remission rates (SPEC 1.6) for a clinic that records the PHQ-8 (SAFE-R4)."""
    alice = people.alice
    people.clinic.depression_instrument = "phq8"
    first = datetime(2026, 1, 1, 15, 0, tzinfo=UTC)
    for n, (baseline_each, later_each) in enumerate(((2, 1), (2, 2))):  # 16 then 8 (response), 16 then 16
        user = make_patient(alice, f"eight{n}", f"Eight {n}")
        _form(user, "phq8", [baseline_each] * 8, first - timedelta(days=1), alice)
        _session(user, "given", first, alice)
        _form(user, "phq8", [later_each] * 8, first + timedelta(days=7), alice)
    db.session.commit()
    figures = dashboard.overview(db.session, dashboard.visible_ids(alice), T)
    assert (figures.patients, figures.with_baseline, figures.usual_baseline) == (3, 2, 2)  # Pat has no form
    week_one = next(row for row in figures.rates if row.weeks == "0–2")
    assert (week_one.patients, week_one.responders, week_one.remitters) == (2, 1, 0)
