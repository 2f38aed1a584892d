"""Factories for a patient's outcome data (check-ins, PHQ-9 forms, a baseline, sessions), dated relative to an
explicit ``now``, for the chart, summary and patient-page tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from journal.assessments import set_baseline, submit
from journal.checkins import save_checkin
from journal.db import db
from journal.models import Assessment, DosingSession, User
from journal.sessions import save_session

# PHQ-9 answers with the totals the tests need, item 9 always 0 (so no safety alert joins in).
PHQ9_ANSWERS = {
    18: [3, 3, 3, 3, 3, 3, 0, 0, 0],
    17: [3, 3, 3, 3, 3, 2, 0, 0, 0],
    9: [1, 1, 1, 1, 1, 1, 1, 2, 0],
    5: [1, 1, 1, 1, 1, 0, 0, 0, 0],
    4: [1, 1, 1, 1, 0, 0, 0, 0, 0],
}


def local_today(user: User, now: datetime) -> date:
    return now.astimezone(ZoneInfo(user.timezone)).date()


def at_local(user: User, day: date, hour: int = 12) -> datetime:
    """``hour`` o'clock on ``day`` in the patient's zone, as a UTC instant."""
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(user.timezone)).astimezone(UTC)


def active_since(user: User, now: datetime, days: int) -> None:
    """The patient's account has been active for ``days`` days before ``now``."""
    user.activated_at = now - timedelta(days=days)
    db.session.flush()


def checkin(user: User, day: date, mood: int, *, craving: int = 2, used: bool = False) -> None:
    """The patient's own check-in for ``day``, made that evening (on time), with their one substance (alcohol)."""
    data = {
        "mood": mood,
        "cravings": [{"substance": "alcohol", "intensity": craving}],
        "use": [{"substance": "alcohol", "used": used}],
    }
    save_checkin(db.session, user.patient, day, data, at_local(user, day, 20), user)


def paper_phq9(user: User, clinician: User, completed_at: datetime, total: int) -> Assessment:
    """A paper PHQ-9 entered by the clinician, with the given total."""
    form, _ = submit(
        db.session,
        user.patient,
        {"instrument": "phq9", "answers": PHQ9_ANSWERS[total], "completed_at": completed_at},
        completed_at + timedelta(hours=1),
        clinician,
    )
    return form


def baseline(user: User, clinician: User, form: Assessment, now: datetime) -> None:
    set_baseline(db.session, user.patient, form.id, clinician, now)


def given_session(user: User, clinician: User, start: datetime, now: datetime, **extra) -> DosingSession:
    data = {
        "status": "given",
        "start": start,
        "route": "iv",
        "product": "Racemic ketamine",
        "dose": 0.5,
        "dose_unit": "mg/kg",
        **extra,
    }
    return save_session(db.session, user.patient, data, now, clinician)
