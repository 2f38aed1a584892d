"""Thirty-one days of scheduler runs, every 15 minutes, through `flask --app wsgi jobs run-once --now`, for
patients in five zones: New York and London (northern clock changes on 8 and 29 March 2026), Sydney (southern,
5 April 2026), Kolkata (+05:30) and Kathmandu (+05:45).

The expected reminders are worked out here from the rules as the issue states them, not from the code: on each
local date, at the first run at or after the patient's local reminder time and outside quiet hours, once, and
not at all on a day the patient checked in before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from journal.checkins import save_checkin
from journal.db import db
from journal.models import OutboxMessage, OutboxStatus, ReminderSettings
from tests.conftest import make_patient

START = datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
END = datetime(2026, 4, 7, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)


@dataclass(frozen=True)
class Plan:
    local: str
    zone: str
    at: time
    quiet: tuple[time, time] | None = None


PLANS = [
    Plan("ny", "America/New_York", time(20, 0)),
    Plan("ny-night", "America/New_York", time(2, 30)),  # 02:30 did not exist on 8 March
    Plan("london", "Europe/London", time(1, 30)),  # nor 01:30 on 29 March
    Plan("sydney", "Australia/Sydney", time(2, 30)),  # 02:30 happened twice on 5 April
    Plan("kolkata", "Asia/Kolkata", time(20, 0), quiet=(time(19, 0), time(20, 30))),
    Plan("kathmandu", "Asia/Kathmandu", time(20, 0)),
]


def _runs():
    t = START
    while t <= END:
        yield t
        t += STEP


def _in_quiet(local: time, quiet) -> bool:
    return quiet is not None and quiet[0] <= local < quiet[1]


def _early_day(day: date) -> bool:
    """On these days the patient checks in two hours before the reminder time, so none is due."""
    return day.toordinal() % 4 == 0


def _checkin_instant(plan: Plan, day: date) -> datetime:
    """Before the reminder on early days (but on the same local date), ninety minutes after it otherwise
    (fold=0 in an ambiguous hour)."""
    zone = ZoneInfo(plan.zone)
    reminder = datetime.combine(day, plan.at)
    if _early_day(day):
        at = max(datetime.combine(day, time(0, 10)), reminder - timedelta(hours=2))
    else:
        at = reminder + timedelta(minutes=90)
    return at.replace(tzinfo=zone).astimezone(UTC)


def _expected_send(plan: Plan, day: date) -> datetime | None:
    if _early_day(day):
        return None
    zone = ZoneInfo(plan.zone)
    for run in _runs():
        local = run.astimezone(zone)
        if local.date() == day and local.time() >= plan.at and not _in_quiet(local.time(), plan.quiet):
            return run
    return None


@pytest.fixture
def simulated(app, people):
    patients = {}
    for plan in PLANS:
        user = make_patient(people.alice, plan.local, plan.local.title(), zone=plan.zone, substances=[])
        user.activated_at = START - timedelta(days=2)
        db.session.add(
            ReminderSettings(
                patient_id=user.id,
                local_time=plan.at.strftime("%H:%M"),
                email=True,
                webpush=False,
                quiet_start=plan.quiet[0].strftime("%H:%M") if plan.quiet else None,
                quiet_end=plan.quiet[1].strftime("%H:%M") if plan.quiet else None,
                paused=False,
            )
        )
        patients[plan.local] = user
    # Pat and Quinn from the shared fixture have no check-ins; keep them out of the count.
    for user in (people.pat, people.quinn):
        user.disabled_at = START
    db.session.commit()

    checkins = sorted(
        (_checkin_instant(plan, START.date() + timedelta(days=n)), plan.local, START.date() + timedelta(days=n))
        for plan in PLANS
        for n in range(-1, (END - START).days + 2)
    )
    runner = app.test_cli_runner()
    for run in _runs():
        while checkins and checkins[0][0] <= run:
            at, local, day = checkins.pop(0)
            user = patients[local]
            if at.astimezone(ZoneInfo(user.timezone)).date() == day:
                save_checkin(db.session, user.patient, day, {"mood": 5}, at, user)
                db.session.commit()
        result = runner.invoke(args=["jobs", "run-once", "--now", run.isoformat()])
        assert result.exit_code == 0, result.output
    db.session.expire_all()
    return patients


def test_thirty_one_days_of_runs_remind_each_due_day_once_at_the_right_instant(simulated):
    """One simulation (about 3,000 runs), two checks: every day against the rule, then the clock-change days."""
    _every_due_reminder_is_sent_once_at_the_first_run_after_its_local_time(simulated)
    _clock_change_days_are_reminded_once_at_the_right_instant(simulated)


def _every_due_reminder_is_sent_once_at_the_first_run_after_its_local_time(simulated):
    for plan in PLANS:
        user = simulated[plan.local]
        zone = ZoneInfo(plan.zone)
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_id == user.id)).all()
        sent = {row.dedup_key: row for row in rows if row.template == "daily_reminder"}
        first_day = START.astimezone(zone).date() + timedelta(days=1)
        last_day = END.astimezone(zone).date() - timedelta(days=1)
        expected_keys = set()
        day = first_day
        while day <= last_day:
            when = _expected_send(plan, day)
            key = f"reminder:{user.id}:{day.isoformat()}:email"
            if when is None:
                assert key not in sent, f"{plan.local} {day}: reminded on a day already checked in"
            else:
                expected_keys.add(key)
                assert key in sent, f"{plan.local} {day}: no reminder"
                row = sent[key]
                assert row.status == OutboxStatus.SENT
                assert row.sent_at == when, f"{plan.local} {day}: sent {row.sent_at}, expected {when}"
                assert not _in_quiet(row.sent_at.astimezone(zone).time(), plan.quiet)
            day += timedelta(days=1)
        inside = {key for key in sent if first_day.isoformat() <= key.split(":")[2] <= last_day.isoformat()}
        assert inside == expected_keys, f"{plan.local}: unexpected reminders {sorted(inside - expected_keys)}"
        assert len(expected_keys) >= 20


def _clock_change_days_are_reminded_once_at_the_right_instant(simulated):
    def sent_on(local: str, day: str) -> list[OutboxMessage]:
        user = simulated[local]
        return db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedup_key.startswith(f"reminder:{user.id}:{day}:"))
        ).all()

    # New York, 8 March: 02:30 never showed; the first run after the jump is 03:00 EDT = 07:00 UTC.
    (ny,) = sent_on("ny-night", "2026-03-08")
    assert ny.sent_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    # New York 20:00 that evening is EDT: 00:00 UTC on the 9th, not 01:00 as it was the day before.
    (evening,) = sent_on("ny", "2026-03-08")
    assert evening.sent_at == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    # Sydney, 5 April: 02:30 came twice (AEDT, then AEST); one reminder, at the first, 15:30 UTC on the 4th.
    (sydney,) = sent_on("sydney", "2026-04-05")
    assert sydney.sent_at == datetime(2026, 4, 4, 15, 30, tzinfo=UTC)
    # Kathmandu's 20:00 is 14:15 UTC; runs are at quarter hours, so exactly then.
    (kathmandu,) = sent_on("kathmandu", "2026-03-10")
    assert kathmandu.sent_at == datetime(2026, 3, 10, 14, 15, tzinfo=UTC)
    # Kolkata's 20:00 falls in quiet hours until 20:30 (15:00 UTC).
    (kolkata,) = sent_on("kolkata", "2026-03-10")
    assert kolkata.sent_at == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
