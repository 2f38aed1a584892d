"""The programme's history: one row at enrolment and one per change, the programme in force on a day, when each
substance started and stopped, and per-substance figures (SUD-R3) that count a substance's days only while it
was in the programme."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from journal import analytics
from journal.checkins import save_checkin, use_day
from journal.db import db, utcnow
from journal.models import CheckIn, EntrySource, ProgrammeChange, ReportMode, SubstanceUse
from journal.people import (
    Programme,
    describe_history,
    programme_history,
    programme_on,
    set_programme,
    substance_periods,
    substance_started,
)
from tests.conftest import NOW, bearer
from tests.outcome_data import active_since, at_local, local_today

CHICAGO = ZoneInfo("America/Chicago")


def _row(
    at: datetime,
    substances: list[str],
    pain: bool = False,
    sleep: bool = True,
    by: int | None = 1,
    indications: list[str] | None = None,
):
    return ProgrammeChange(
        effective_at=at,
        substances=substances,
        tracks_pain=pain,
        sleep_detail=sleep,
        changed_by_id=by,
        indications=indications,
    )


def _at(day: int, hour: int = 16) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)  # 10:00 in Chicago for hour 16


HISTORY = [
    _row(_at(2), ["alcohol"]),
    _row(_at(10), ["alcohol", "opioids"], pain=True),
    _row(_at(20), ["opioids"]),
]


# --- Pure ------------------------------------------------------------------------------------------------------


def test_the_programme_in_force_on_a_day_is_the_last_change_made_by_that_day():
    assert programme_on(HISTORY, date(2026, 3, 1), CHICAGO) is None
    assert programme_on(HISTORY, date(2026, 3, 2), CHICAGO) == Programme(("alcohol",), False, True)
    assert programme_on(HISTORY, date(2026, 3, 9), CHICAGO) == Programme(("alcohol",), False, True)
    assert programme_on(HISTORY, date(2026, 3, 10), CHICAGO) == Programme(("alcohol", "opioids"), True, True)
    assert programme_on(HISTORY, date(2026, 4, 1), CHICAGO) == Programme(("opioids",), False, True)


def test_the_day_of_a_change_is_the_patients_local_day():
    late = [_row(datetime(2026, 3, 11, 3, 0, tzinfo=UTC), ["nicotine"])]  # 21:00 on 10 March in Chicago
    assert programme_on(late, date(2026, 3, 10), CHICAGO) == Programme(("nicotine",), False, True)
    assert programme_on(late, date(2026, 3, 10), ZoneInfo("Europe/Paris")) is None


def test_each_substance_has_the_runs_of_days_it_was_in_the_programme():
    assert substance_periods(HISTORY, CHICAGO) == {
        "alcohol": [(date(2026, 3, 2), date(2026, 3, 19))],
        "opioids": [(date(2026, 3, 10), None)],
    }
    assert substance_started(HISTORY, CHICAGO) == {"opioids": date(2026, 3, 10)}  # alcohol is no longer tracked


def test_a_substance_that_leaves_and_comes_back_has_two_runs_and_one_undone_the_same_day_none():
    history = [
        _row(_at(2), ["alcohol"]),
        _row(_at(5), []),
        _row(_at(8), ["alcohol"]),
        _row(_at(8, 18), ["alcohol", "cannabis"]),
        _row(_at(8, 20), ["alcohol"]),  # cannabis ticked by mistake and taken off within the day
    ]
    periods = substance_periods(history, CHICAGO)
    assert periods == {"alcohol": [(date(2026, 3, 2), date(2026, 3, 4)), (date(2026, 3, 8), None)]}
    assert substance_started(history, CHICAGO) == {"alcohol": date(2026, 3, 8)}


def test_history_in_words_says_what_each_change_added_and_removed_newest_first():
    entries = describe_history(HISTORY, {1: "Alice Adams"})
    assert [entry.changes for entry in entries] == [
        ("Stopped tracking Alcohol", "Stopped tracking pain"),
        ("Started tracking Opioids", "Started tracking pain"),
        ("Substances: Alcohol", "Pain: not tracked", "Sleep diary: tracked", "Indications: none recorded"),
    ]
    assert {entry.by for entry in entries} == {"Alice Adams"}


def test_history_in_words_says_which_indications_were_there_and_which_were_added_or_removed():
    history = [
        _row(_at(2), ["alcohol"], indications=["depression", "alcohol"]),
        _row(_at(10), ["alcohol"], pain=True, indications=["depression", "alcohol", "chronic_pain"]),
        _row(_at(20), ["alcohol"], pain=True, indications=["alcohol", "chronic_pain", "ptsd"]),
    ]
    entries = describe_history(history, {1: "Alice Adams"})
    assert [entry.changes for entry in entries] == [
        ("Added the indication PTSD", "Removed the indication Depression"),
        ("Added the indication Chronic pain", "Started tracking pain"),
        ("Substances: Alcohol", "Pain: not tracked", "Sleep diary: tracked", "Indications: Depression, Alcohol use"),
    ]
    assert programme_on(history, date(2026, 3, 15), CHICAGO).indications == ("depression", "alcohol", "chronic_pain")


def test_sud_r3_a_substances_days_count_only_while_it_was_in_the_programme():
    reports = {
        "opioids": {
            date(2026, 3, 8): (True, None),  # back-filled on a form that asked about opioids before they were added
            date(2026, 3, 9): (True, None),
            date(2026, 3, 12): (False, None),
            date(2026, 3, 13): (False, None),
        },
        "alcohol": {date(2026, 3, 18): (True, "6"), date(2026, 3, 19): (False, None), date(2026, 3, 21): (True, "5")},
    }
    periods = {
        "opioids": [(date(2026, 3, 10), None)],
        "alcohol": [(date(2026, 3, 2), date(2026, 3, 19))],
    }
    without = {f.substance: f for f in analytics.substance_use(reports)}
    assert (without["opioids"].pda, without["opioids"].use_days) == (50.0, 2)
    counted = {f.substance: f for f in analytics.substance_use(reports, "unknown", periods)}
    assert (counted["opioids"].pda, counted["opioids"].use_days, counted["opioids"].reported_days) == (100.0, 0, 2)
    assert (counted["alcohol"].use_days, counted["alcohol"].reported_days, counted["alcohol"].heavy_days) == (1, 2, 1)
    assert analytics.substance_use({"cannabis": {date(2026, 3, 12): (True, None)}}, None, periods)[0].reported_days == 0


def test_periods_shift_with_the_day_the_answers_are_filed_under():
    shifted = analytics.shift_periods({"opioids": [(date(2026, 3, 10), date(2026, 3, 19))]}, -1)
    assert shifted == {"opioids": [(date(2026, 3, 9), date(2026, 3, 18))]}
    assert analytics.shift_periods({"opioids": [(date(2026, 3, 10), None)]}, -1) == {
        "opioids": [(date(2026, 3, 9), None)]
    }


# --- With the database -----------------------------------------------------------------------------------------


def test_set_programme_appends_a_row_only_when_something_changed(app, people):
    patient = people.pat.patient
    later = NOW + timedelta(days=3)
    assert (
        set_programme(db.session, patient, {"substances": ["alcohol"], "tracks_pain": False}, people.alice, later) == []
    )
    assert set_programme(db.session, patient, {"tracks_pain": True}, people.bob, later) == ["tracks_pain"]
    db.session.commit()
    rows = programme_history(db.session, patient)
    assert [(r.effective_at, r.changed_by_id, r.tracks_pain) for r in rows] == [
        (NOW, people.alice.id, False),
        (later, people.bob.id, True),
    ]


def test_a_patient_without_stored_history_gets_their_enrolment_programme_as_the_first_row(app, people):
    patient = people.pat.patient
    db.session.execute(ProgrammeChange.__table__.delete())
    db.session.commit()
    assert [(r.effective_at, r.substances, r.id) for r in programme_history(db.session, patient)] == [
        (NOW, ["alcohol"], None)  # stands in, unsaved
    ]
    set_programme(db.session, patient, {"substances": ["opioids"]}, people.alice, NOW + timedelta(days=5))
    db.session.commit()
    rows = programme_history(db.session, patient)
    assert [(r.effective_at, r.substances, r.changed_by_id) for r in rows] == [
        (NOW, ["alcohol"], people.alice.id),  # the programme until the change, kept as it was
        (NOW + timedelta(days=5), ["opioids"], people.alice.id),
    ]


def _checkin(patient_id: int, day: date, uses: dict[str, bool]) -> None:
    checkin = CheckIn(
        patient_id=patient_id, local_date=day, mood=5, report_mode=ReportMode.ON_TIME, source=EntrySource.PATIENT
    )
    checkin.uses = [SubstanceUse(substance=code, used=used) for code, used in uses.items()]
    db.session.add(checkin)


def test_per_substance_pda_over_stored_history_counts_opioids_only_from_the_day_they_were_added(app, people):
    """Pat (Chicago) tracks alcohol from 2 March; opioids are added on 10 March at 10:00. A check-in's use
    answers are about its own day (SUD-R1, ``checkins.use_day``), so the check-in of 10 March is the first to
    report opioids; an opioid answer filed for 6 March (before they were tracked) is not counted."""
    patient = people.pat.patient
    set_programme(db.session, patient, {"substances": ["alcohol", "opioids"]}, people.alice, _at(10))
    for day in range(3, 14):
        uses = {"alcohol": False}
        if day >= 10 or day == 6:  # 6 March: an API client that reported opioids before they were tracked
            uses["opioids"] = day in (6, 12)
        _checkin(people.pat.id, date(2026, 3, day), uses)
    db.session.commit()
    reports: dict[str, dict[date, tuple[bool, None]]] = {}
    for checkin in db.session.scalars(select(CheckIn).where(CheckIn.patient_id == people.pat.id)):
        for use in checkin.uses:
            reports.setdefault(use.substance, {})[use_day(checkin)] = (use.used, None)
    periods = substance_periods(programme_history(db.session, patient), CHICAGO)
    figures = {f.substance: f for f in analytics.substance_use(reports, patient.sex, periods)}
    assert (figures["opioids"].reported_days, figures["opioids"].use_days, figures["opioids"].pda) == (4, 1, 75.0)
    assert (figures["alcohol"].reported_days, figures["alcohol"].pda) == (11, 100.0)


def test_summary_counts_a_substance_added_later_only_from_the_day_it_was_added(client, people):
    """Opioids join Pat's programme five days ago. The forms Pat back-fills after that ask about opioids for
    days before it too (each answers the current programme): those days are not opioid days."""
    pat, now = people.pat, utcnow()
    today = local_today(pat, now)
    active_since(pat, now, 30)
    added = at_local(pat, today - timedelta(days=5), 9)
    set_programme(db.session, pat.patient, {"substances": ["alcohol", "opioids"]}, people.alice, added)
    for days_ago in range(1, 8):
        day = today - timedelta(days=days_ago)
        uses = [{"substance": "alcohol", "used": False}, {"substance": "opioids", "used": days_ago in (6, 7)}]
        data = {"mood": 5, "cravings": [{"substance": c, "intensity": 1} for c in ("alcohol", "opioids")], "use": uses}
        save_checkin(db.session, pat.patient, day, data, now, pat)
    db.session.commit()
    body = client.get(f"/api/v1/patients/{pat.id}/summary", headers=bearer(client, people.alice)).get_json()
    opioids = next(item for item in body["substances"] if item["substance"] == "opioids")
    assert (opioids["reported_days"], opioids["use_days"], opioids["pda"]) == (5, 0, 100.0)
    alcohol = next(item for item in body["substances"] if item["substance"] == "alcohol")
    assert alcohol["reported_days"] == 7
