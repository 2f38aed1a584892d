"""EMA-R2: at most one follow-up reminder per diary per day, the clinic's ``follow_up_minutes`` after the first,
only while that day's check-in is still not saved; under the first reminder's rules (quiet hours, pause, the
post-dose observation window, EMA-R3), through the outbox with its own unique key, and with the same neutral
text (PRIV-R1). Nothing beyond it.

Pat (America/Chicago, CDT from 8 March) is reminded at 20:00 local; 20:00 on 10 March is 01:00 UTC on the 11th.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from journal.checkins import save_checkin
from journal.db import db
from journal.messages import render
from journal.models import DosingSession, OutboxMessage, ReminderSettings, SessionStatus
from journal.reminders import follow_up_due, queue_daily_reminders
from tests.conftest import questionnaires_done

CHICAGO = ZoneInfo("America/Chicago")
DAY = date(2026, 3, 10)
ENTRY = {  # Pat's programme tracks alcohol (tests/conftest.py)
    "mood": 5,
    "cravings": [{"substance": "alcohol", "intensity": 1}],
    "use": [{"substance": "alcohol", "used": False}],
}


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHICAGO).astimezone(UTC)


@pytest.fixture
def pat(people):
    """Pat, active for weeks, checked in on each of the three days before, questionnaires not due."""
    user = people.pat
    user.activated_at = local(9, day=DAY - timedelta(days=30))
    people.quinn.disabled_at = user.activated_at  # not part of these tests
    questionnaires_done(user, local(9, day=DAY - timedelta(days=3)))
    for lag in range(1, 4):
        day = DAY - timedelta(days=lag)
        save_checkin(db.session, user.patient, day, ENTRY, local(19, day=day), user)
    db.session.commit()
    return user


def _reminders(user) -> list[str]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage.dedup_key)
        .where(OutboxMessage.recipient_id == user.id, OutboxMessage.template == "daily_reminder")
        .order_by(OutboxMessage.id)
    ).all()


def _runs(*instants: datetime) -> None:
    for instant in instants:
        queue_daily_reminders(db.session, instant)


def test_ema_r2_one_follow_up_ninety_minutes_after_the_first_and_never_another(app, pat):
    _runs(local(20, 0), local(21, 29))
    assert _reminders(pat) == [f"reminder:{pat.id}:{DAY}:email"]
    _runs(local(21, 30))
    assert _reminders(pat) == [f"reminder:{pat.id}:{DAY}:email", f"follow-up:{pat.id}:{DAY}:email"]
    _runs(local(21, 30), local(22, 0), local(23, 59))  # a rerun, and later runs the same evening
    assert len(_reminders(pat)) == 2
    (follow_up,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key.startswith("follow-up:")))
    assert follow_up.link_path == "/checkin"
    assert follow_up.expires_at == local(0, day=DAY + timedelta(days=1))  # the day's reminders end at midnight
    # the first reminder's neutral words (tests/test_messages.py checks them for health words: PRIV-R1)
    (first,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key.startswith("reminder:")))
    link = "https://journal.example/m/token"
    assert render(follow_up.template, link=link) == render(first.template, link=link)
    assert render(follow_up.template, link=link)[0] == "You have a new check-in"


def test_no_follow_up_once_the_check_in_is_saved(app, pat):
    _runs(local(20, 0))
    save_checkin(db.session, pat.patient, DAY, ENTRY, local(21, 0), pat)
    db.session.commit()
    _runs(local(21, 30), local(22, 30))
    assert _reminders(pat) == [f"reminder:{pat.id}:{DAY}:email"]


def test_the_follow_up_waits_for_the_end_of_quiet_hours_on_the_same_day(app, pat):
    db.session.add(
        ReminderSettings(
            patient_id=pat.id, local_time="20:00", email=True, webpush=False, quiet_start="21:00",
            quiet_end="23:00", paused=False,
        )
    )  # fmt: skip
    db.session.commit()
    _runs(local(20, 0), local(21, 30), local(22, 59))
    assert _reminders(pat) == [f"reminder:{pat.id}:{DAY}:email"]
    _runs(local(23, 0))
    assert _reminders(pat)[-1] == f"follow-up:{pat.id}:{DAY}:email"


def test_the_follow_up_counts_from_when_the_first_was_queued(app, pat):
    """A first reminder held back by quiet hours until 21:00 brings its follow-up at 22:30, not 21:30."""
    db.session.add(
        ReminderSettings(
            patient_id=pat.id, local_time="20:00", email=True, webpush=False, quiet_start="19:00",
            quiet_end="21:00", paused=False,
        )
    )  # fmt: skip
    db.session.commit()
    _runs(local(20, 0), local(21, 0), local(22, 29))
    assert _reminders(pat) == [f"reminder:{pat.id}:{DAY}:email"]
    _runs(local(22, 30))
    assert len(_reminders(pat)) == 2


def test_the_clinic_chooses_the_minutes_or_no_follow_up(app, people, pat):
    people.clinic.follow_up_minutes = 30
    db.session.commit()
    _runs(local(20, 0), local(20, 29))
    assert len(_reminders(pat)) == 1
    _runs(local(20, 30))
    assert len(_reminders(pat)) == 2

    people.clinic.follow_up_minutes = None
    db.session.commit()
    next_day = DAY + timedelta(days=1)
    _runs(local(20, 0, next_day), local(22, 0, next_day), local(23, 50, next_day))
    assert [key for key in _reminders(pat) if str(next_day) in key] == [f"reminder:{pat.id}:{next_day}:email"]


def test_a_pause_after_the_first_reminder_stops_the_follow_up(app, pat):
    _runs(local(20, 0))
    db.session.add(ReminderSettings(patient_id=pat.id, local_time="20:00", email=True, webpush=False, paused=True))
    db.session.commit()
    _runs(local(21, 30), local(23, 0))
    assert _reminders(pat) == [f"reminder:{pat.id}:{DAY}:email"]


def test_ema_r3_no_follow_up_during_a_post_dose_observation_window(app, pat):
    _runs(local(20, 0))
    db.session.add(
        DosingSession(
            patient_id=pat.id, status=SessionStatus.GIVEN, start=local(21, 0), route="intranasal",
            product="esketamine", dose=56, dose_unit="mg", observation_minutes=120,
        )
    )  # fmt: skip
    db.session.commit()
    _runs(local(21, 30), local(22, 59))
    assert _reminders(pat) == [f"reminder:{pat.id}:{DAY}:email"]
    _runs(local(23, 0))  # the window is over: the follow-up goes, still once
    assert _reminders(pat)[-1] == f"follow-up:{pat.id}:{DAY}:email"


def test_follow_up_rule_as_a_function():
    first = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    assert follow_up_due(90, first, first + timedelta(minutes=90))
    assert not follow_up_due(90, first, first + timedelta(minutes=89))
    assert not follow_up_due(None, first, first + timedelta(hours=3))  # the clinic sends none
    assert not follow_up_due(90, None, first + timedelta(hours=3))  # no first reminder that day, no follow-up
