"""Around a dosing session: the neutral message the evening before (SPEC 7.5: the instructions stay inside the
app), the side-effect checks the morning after and at 72 hours (KET-R3), and no reminders during the post-dose
observation window (EMA-R3).

Pat (Alice's patient) lives in America/Chicago: CST (UTC-6) until the clocks go forward on 8 March 2026, CDT
(UTC-5) after. Quinn (Charlie's patient) lives in Asia/Kolkata (UTC+05:30). Scheduler runs take explicit
instants; the pages run at the real time, so their sessions are placed relative to it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from journal.checkins import SIDE_EFFECTS, save_checkin
from journal.db import db, utcnow
from journal.messages import render
from journal.models import (
    DosingSession,
    OutboxMessage,
    Patient,
    PushSubscription,
    ReminderSettings,
    SessionStatus,
    SideEffectCheck,
)
from journal.reminders import queue_daily_reminders
from journal.sessions import (
    DEFAULT_OBSERVATION,
    preparation_for,
    queue_session_messages,
    save_session,
)
from journal.views.patient_sessions import DROVE_QUESTION, when
from tests.conftest import NOW, make_patient, questionnaires_done
from tests.test_messages import FORBIDDEN, _says

CHICAGO = ZoneInfo("America/Chicago")


def _session(people, patient, start: datetime, status: str = "planned", route: str = "intranasal", **extra):
    data = {"status": status, "start": start, "route": route, "product": "Esketamine", "dose": 56, "dose_unit": "mg"}
    record = save_session(db.session, patient.patient, {**data, **extra}, max(start, NOW), people.alice)
    db.session.commit()
    return record


def _run(app, now: datetime) -> None:
    """Every scheduled job once, as `flask --app wsgi jobs run-once --now` runs them."""
    result = app.test_cli_runner().invoke(args=["jobs", "run-once", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output


def _messages(template: str) -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == template).order_by(OutboxMessage.id)
    ).all()


def _settings(user, **values) -> None:
    defaults = {"local_time": "20:00", "email": True, "webpush": False, "paused": False}
    db.session.add(ReminderSettings(patient_id=user.id, **{**defaults, **values}))
    db.session.commit()


# --- The evening before a planned session ------------------------------------------------------------------


def test_prep_message_goes_at_the_reminder_time_the_evening_before_in_the_patients_zone(app, people):
    visit = _session(people, people.pat, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))  # 10:00 CST on 4 March
    _run(app, datetime(2026, 3, 4, 1, 59, tzinfo=UTC))  # 19:59 on 3 March in Chicago
    assert _messages("session_prep") == []
    _run(app, datetime(2026, 3, 4, 2, 0, tzinfo=UTC))  # 20:00
    (message,) = _messages("session_prep")
    assert (message.recipient_id, message.channel, message.address) == (people.pat.id, "email", people.pat.email)
    assert message.dedup_key == f"prep:{visit.id}:email"
    assert message.link_path == f"/sessions/{visit.id}/prepare"
    assert message.expires_at == datetime(2026, 3, 4, 6, 0, tzinfo=UTC)  # local midnight


def test_prep_message_is_queued_once_however_many_runs_see_it(app, people):
    _session(people, people.pat, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))
    for minutes in (0, 15, 90, 200):
        queue_session_messages(db.session, datetime(2026, 3, 4, 2, 0, tzinfo=UTC) + timedelta(minutes=minutes))
    assert len(_messages("session_prep")) == 1


def test_prep_message_for_a_patient_in_kolkata_follows_her_half_hour_offset(app, people):
    visit = _session(people, people.quinn, datetime(2026, 3, 4, 5, 0, tzinfo=UTC))  # 10:30 IST on 4 March
    queue_session_messages(db.session, datetime(2026, 3, 3, 14, 29, tzinfo=UTC))  # 19:59 IST on 3 March
    assert _messages("session_prep") == []
    queue_session_messages(db.session, datetime(2026, 3, 3, 14, 30, tzinfo=UTC))  # 20:00 IST
    (message,) = _messages("session_prep")
    assert message.dedup_key == f"prep:{visit.id}:email"
    assert message.expires_at == datetime(2026, 3, 3, 18, 30, tzinfo=UTC)  # midnight in Kolkata


def test_prep_message_on_the_day_the_clocks_go_forward_goes_at_20_00_daylight_time(app, people):
    _session(people, people.pat, datetime(2026, 3, 9, 15, 0, tzinfo=UTC))  # 10:00 CDT on Monday 9 March
    queue_session_messages(db.session, datetime(2026, 3, 9, 0, 59, tzinfo=UTC))  # 19:59 CDT on 8 March
    assert _messages("session_prep") == []
    queue_session_messages(db.session, datetime(2026, 3, 9, 1, 0, tzinfo=UTC))  # 20:00 CDT (02:00 UTC in CST)
    assert len(_messages("session_prep")) == 1


def test_no_prep_message_two_evenings_before_nor_on_the_day(app, people):
    _session(people, people.pat, datetime(2026, 3, 5, 16, 0, tzinfo=UTC))  # 10:00 CST on 5 March
    queue_session_messages(db.session, datetime(2026, 3, 4, 2, 30, tzinfo=UTC))  # 20:30 on 3 March
    queue_session_messages(db.session, datetime(2026, 3, 5, 6, 30, tzinfo=UTC))  # 00:30 on the day itself
    assert _messages("session_prep") == []


@pytest.mark.parametrize("status", [SessionStatus.CANCELLED, SessionStatus.GIVEN])
def test_no_prep_message_for_a_session_that_is_not_planned(app, people, status):
    visit = _session(people, people.pat, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))
    visit.status = status  # what the job reads, however the record came to say it
    db.session.commit()
    queue_session_messages(db.session, datetime(2026, 3, 4, 2, 0, tzinfo=UTC))
    assert _messages("session_prep") == []


def test_paused_reminders_and_quiet_hours_hold_the_prep_message_back(app, people):
    _session(people, people.pat, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))
    _settings(people.pat, quiet_start="19:30", quiet_end="21:00")
    queue_session_messages(db.session, datetime(2026, 3, 4, 2, 0, tzinfo=UTC))  # 20:00: quiet
    assert _messages("session_prep") == []
    queue_session_messages(db.session, datetime(2026, 3, 4, 3, 0, tzinfo=UTC))  # 21:00: over
    assert len(_messages("session_prep")) == 1

    _session(people, people.quinn, datetime(2026, 3, 4, 5, 0, tzinfo=UTC))
    _settings(people.quinn, paused=True)
    queue_session_messages(db.session, datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # 20:30 IST
    assert [m.recipient_id for m in _messages("session_prep")] == [people.pat.id]


def test_prep_message_says_nothing_about_health_and_holds_none_of_the_instructions(app, people):
    _session(people, people.pat, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))
    queue_session_messages(db.session, datetime(2026, 3, 4, 2, 0, tzinfo=UTC))
    (message,) = _messages("session_prep")
    subject, text = render(message.template, link="http://journal.test/m/0123")
    for word in FORBIDDEN:
        assert not _says(word, subject) and not _says(word, text), word
    for step in preparation_for("intranasal"):
        assert step not in text


def test_prep_message_goes_to_each_push_device_as_well(app, people):
    _session(people, people.pat, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))
    _settings(people.pat, email=False, webpush=True)
    phones = [
        PushSubscription(user_id=people.pat.id, endpoint=f"https://push.test/{n}", p256dh="k", auth="a")
        for n in range(2)
    ]
    db.session.add_all(phones)
    db.session.commit()
    queue_session_messages(db.session, datetime(2026, 3, 4, 2, 0, tzinfo=UTC))
    rows = _messages("session_prep")
    assert sorted((m.channel, m.address) for m in rows) == [("webpush", str(p.id)) for p in phones]


# --- The side-effect checks after a given session (KET-R3) ---------------------------------------------------

GIVEN_AT = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 10:00 CST on Monday 2 March
MORNING_AFTER = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 09:00 CST on 3 March
SEVENTY_TWO = GIVEN_AT + timedelta(hours=72)


@pytest.fixture
def given(people) -> DosingSession:
    return _session(people, people.pat, GIVEN_AT, status="given", observation_minutes=120)


def _checks(template: str = "side_effect_check") -> list[tuple[str, str]]:
    return [(m.dedup_key, m.link_path) for m in _messages(template)]


def test_morning_after_check_comes_at_09_00_local_the_next_day(app, people, given):
    _run(app, MORNING_AFTER - timedelta(minutes=1))
    assert _checks() == []
    _run(app, MORNING_AFTER)
    assert _checks() == [(f"followup:{given.id}:morning_after:email", f"/sessions/{given.id}/check/morning_after")]
    (message,) = _messages("side_effect_check")
    assert message.expires_at == MORNING_AFTER + timedelta(hours=24)


def test_72_hour_check_comes_72_hours_after_the_start(app, people, given):
    queue_session_messages(db.session, MORNING_AFTER)
    queue_session_messages(db.session, SEVENTY_TWO - timedelta(minutes=1))
    assert len(_checks()) == 1
    queue_session_messages(db.session, SEVENTY_TWO)
    assert _checks()[1] == (f"followup:{given.id}:72h:email", f"/sessions/{given.id}/check/72h")
    queue_session_messages(db.session, SEVENTY_TWO + timedelta(hours=3))
    assert len(_checks()) == 2


def test_morning_after_for_a_session_in_kolkata_is_09_00_there(app, people):
    visit = _session(people, people.quinn, datetime(2026, 3, 2, 20, 0, tzinfo=UTC), status="given")  # 01:30 IST 3rd
    queue_session_messages(db.session, datetime(2026, 3, 4, 3, 29, tzinfo=UTC))  # 08:59 IST on 4 March
    assert _checks() == []
    queue_session_messages(db.session, datetime(2026, 3, 4, 3, 30, tzinfo=UTC))
    assert _checks()[0][0] == f"followup:{visit.id}:morning_after:email"


def test_no_check_message_once_the_check_is_answered_or_skipped(app, people, given):
    db.session.add(
        SideEffectCheck(session_id=given.id, patient_id=people.pat.id, kind="morning_after", skipped=True,
                        answers={}, completed_at=MORNING_AFTER - timedelta(hours=1))
    )  # fmt: skip
    db.session.commit()
    queue_session_messages(db.session, MORNING_AFTER)
    queue_session_messages(db.session, SEVENTY_TWO)
    assert [key for key, _ in _checks()] == [f"followup:{given.id}:72h:email"]


def test_no_check_message_a_day_after_it_fell_due(app, people, given):
    queue_session_messages(db.session, MORNING_AFTER + timedelta(hours=24))
    assert _checks() == []


def test_no_check_message_for_a_planned_or_cancelled_session(app, people):
    _session(people, people.pat, GIVEN_AT)
    _session(people, people.pat, GIVEN_AT + timedelta(hours=1), status="cancelled")
    queue_session_messages(db.session, MORNING_AFTER)
    queue_session_messages(db.session, SEVENTY_TWO + timedelta(hours=1))
    assert _checks() == []


def test_check_message_waits_for_the_end_of_quiet_hours(app, people, given):
    _settings(people.pat, quiet_start="07:00", quiet_end="10:00")
    queue_session_messages(db.session, MORNING_AFTER)
    assert _checks() == []
    queue_session_messages(db.session, MORNING_AFTER + timedelta(hours=1))
    assert len(_checks()) == 1


def test_check_message_text_is_neutral():
    subject, text = render("side_effect_check", link="http://journal.test/m/0123")
    assert [word for word in FORBIDDEN if _says(word, subject) or _says(word, text)] == []


def test_the_job_takes_a_fixed_number_of_statements_however_many_patients_have_sessions(app, people):
    def statements(now: datetime) -> int:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            queue_session_messages(db.session, now)
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return count

    _session(people, people.pat, GIVEN_AT, status="given")
    few = statements(MORNING_AFTER)
    for n in range(8):
        extra = make_patient(people.alice, f"extra{n}", f"Extra {n}")
        db.session.commit()
        _session(people, extra, GIVEN_AT, status="given")
    assert statements(MORNING_AFTER + timedelta(minutes=1)) == few
    assert len(_checks()) == 9


# --- EMA-R3: nothing during the post-dose observation window ----------------------------------------------

EVENING = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # 20:00 CST on 2 March


@pytest.fixture
def pat_due(people):
    """Pat checked in on the three days before 2 March and filled in her questionnaires last week, so the daily
    reminder is all that is due at 20:00."""
    people.pat.activated_at = EVENING - timedelta(days=30)
    questionnaires_done(people.pat, EVENING - timedelta(days=7))
    for lag in range(1, 4):
        day = date(2026, 3, 2) - timedelta(days=lag)
        save_checkin(
            db.session, people.pat.patient, day,
            {"mood": 5, "cravings": [{"substance": "alcohol", "intensity": 1}],
             "use": [{"substance": "alcohol", "used": False}]},
            EVENING - timedelta(days=lag), people.pat,
        )  # fmt: skip
    db.session.commit()
    return people.pat


@pytest.mark.parametrize("observation_minutes", [120, None])
def test_ema_r3_no_reminder_during_the_observation_window_then_one_at_the_first_run_after(
    app, people, pat_due, observation_minutes
):
    # 19:00 CST, observed for 120 minutes (recorded, or the default when none is).
    _session(people, pat_due, EVENING - timedelta(hours=1), status="given", observation_minutes=observation_minutes)
    assert timedelta(minutes=120) == DEFAULT_OBSERVATION
    for minutes in (0, 30, 59):
        _run(app, EVENING + timedelta(minutes=minutes))
    assert _messages("daily_reminder") == []
    _run(app, EVENING + timedelta(hours=1))  # 21:00: the window is over
    _run(app, EVENING + timedelta(hours=1, minutes=15))
    (reminder,) = _messages("daily_reminder")
    assert reminder.dedup_key == f"reminder:{pat_due.id}:2026-03-02:email"


def test_ema_r3_a_longer_observation_holds_the_reminder_longer_and_a_cancelled_session_not_at_all(app, people, pat_due):
    visit = _session(people, pat_due, EVENING - timedelta(hours=1), status="given", observation_minutes=180)
    queue_daily_reminders(db.session, EVENING + timedelta(hours=1))
    assert _messages("daily_reminder") == []
    visit.status = SessionStatus.CANCELLED
    db.session.commit()
    queue_daily_reminders(db.session, EVENING + timedelta(hours=1))
    assert len(_messages("daily_reminder")) == 1


def test_ema_r3_a_72_hour_check_falling_in_the_next_sessions_window_waits_for_its_end(app, people, given):
    # Monday and Thursday at 10:00: the 72-hour check of Monday's session falls at the start of Thursday's.
    _session(people, people.pat, SEVENTY_TWO, status="given", observation_minutes=120)
    queue_session_messages(db.session, SEVENTY_TWO + timedelta(minutes=30))
    assert all(":72h:" not in key for key, _ in _checks())
    queue_session_messages(db.session, SEVENTY_TWO + timedelta(hours=2))
    assert f"followup:{given.id}:72h:email" in [key for key, _ in _checks()]


# --- The pages ---------------------------------------------------------------------------------------------


def _page(response) -> str:
    return response.get_data(as_text=True)


def _stored(session_id: int, kind: str) -> SideEffectCheck | None:
    db.session.expire_all()
    return db.session.scalar(
        select(SideEffectCheck).where(SideEffectCheck.session_id == session_id, SideEffectCheck.kind == kind)
    )


@pytest.fixture
def recent(people) -> DosingSession:
    """Pat's session 34 hours ago: the morning-after check (09:00 the next day, at most 33 h after any start) is
    open and unanswered; the 72-hour one is not open yet."""
    return _session(people, people.pat, utcnow() - timedelta(hours=34), status="given")


@pytest.fixture
def three_days(people) -> DosingSession:
    """Pat's session 73 hours ago: the 72-hour check is open; the morning-after one closed when it opened."""
    return _session(people, people.pat, utcnow() - timedelta(hours=73), status="given")


def test_prepare_page_shows_the_time_in_the_patients_zone_and_the_instructions(client, auth, people):
    visit = _session(people, people.pat, utcnow() + timedelta(days=2))
    auth.login(people.pat)
    page = _page(client.get(f"/sessions/{visit.id}/prepare"))
    assert when(visit.start, CHICAGO) in page
    for step in preparation_for("intranasal"):
        assert step in page


def test_pages_about_another_patients_session_are_404(client, auth, people):
    theirs = _session(people, people.quinn, utcnow() - timedelta(days=4), status="given")
    auth.login(people.pat)
    assert client.get(f"/sessions/{theirs.id}/prepare").status_code == 404
    assert client.get(f"/sessions/{theirs.id}/check/morning_after").status_code == 404
    assert auth.post(f"/sessions/{theirs.id}/check/72h", {"drove": "no"}).status_code == 404
    assert _stored(theirs.id, "72h") is None


def test_check_page_asks_every_item_with_nothing_chosen(client, auth, people, recent):
    auth.login(people.pat)
    page = _page(client.get(f"/sessions/{recent.id}/check/morning_after"))
    for code, label in SIDE_EFFECTS.items():
        assert f'name="{code}"' in page and label in page
        assert len(re.findall(rf'<input type="radio" id="{code}-\d+" name="{code}"', page)) == 11
    assert DROVE_QUESTION in page
    assert re.search(r"<input[^>]* checked", page) is None
    assert "Skip this check" in page


def test_answers_are_stored_with_unanswered_items_left_out(client, auth, people, recent):
    version = db.session.get(Patient, people.pat.id).data_version
    auth.login(people.pat)
    response = auth.post(f"/sessions/{recent.id}/check/morning_after", {"nausea": "3", "headache": "0", "drove": "no"})
    assert response.status_code == 302
    check = _stored(recent.id, "morning_after")
    assert check.answers == {"nausea": 3, "headache": 0, "drove": False}
    assert (check.skipped, check.patient_id) == (False, people.pat.id)
    assert db.session.get(Patient, people.pat.id).data_version == version + 1
    assert "Thank you" in _page(client.get(response.headers["Location"]))


def test_skip_stores_the_check_as_skipped(client, auth, people, three_days):
    auth.login(people.pat)
    response = auth.post(f"/sessions/{three_days.id}/check/72h", {"action": "skip"})
    assert response.status_code == 302
    check = _stored(three_days.id, "72h")
    assert (check.skipped, check.answers) == (True, {})
    assert _stored(three_days.id, "morning_after") is None


def test_refused_values_are_shown_at_their_fields_and_nothing_is_stored(client, auth, people, recent):
    auth.login(people.pat)
    response = auth.post(f"/sessions/{recent.id}/check/morning_after", {"nausea": "11", "dizziness": "2"})
    assert response.status_code == 400
    page = _page(response)
    assert 'id="nausea-error"' in page and "Choose a number from 0 to 10." in page
    assert 'id="drove-error"' in page and "Answer yes or no." in page
    assert re.search(r'id="dizziness-2"[^>]* checked', page)  # what was answered stays answered
    assert _stored(recent.id, "morning_after") is None


def test_a_mistaken_skip_can_be_answered_within_a_day_and_not_after(client, auth, people, recent):
    auth.login(people.pat)
    url = f"/sessions/{recent.id}/check/morning_after"
    auth.post(url, {"action": "skip"})
    first = _stored(recent.id, "morning_after").completed_at
    assert "Answer it after all" in _page(client.get(url))
    assert auth.post(url, {"sleepiness": "6", "drove": "yes"}).status_code == 302
    check = _stored(recent.id, "morning_after")
    assert (check.skipped, check.answers, check.completed_at) == (False, {"sleepiness": 6, "drove": True}, first)
    assert len(db.session.scalars(select(SideEffectCheck)).all()) == 1

    check.completed_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    response = auth.post(url, {"action": "skip"})
    assert response.status_code == 409
    assert "can no longer be changed" in _page(response)
    assert _stored(recent.id, "morning_after").answers == {"sleepiness": 6, "drove": True}


def test_a_check_that_is_not_due_yet_shows_a_friendly_page_and_refuses_answers(client, auth, people):
    just_given = _session(people, people.pat, utcnow() - timedelta(hours=1), status="given")
    planned = _session(people, people.pat, utcnow() + timedelta(days=1))
    auth.login(people.pat)
    for visit in (just_given, planned):
        response = client.get(f"/sessions/{visit.id}/check/morning_after")
        assert response.status_code == 200 and "Not yet" in _page(response)
    assert "opens on" in _page(client.get(f"/sessions/{just_given.id}/check/72h"))
    assert auth.post(f"/sessions/{just_given.id}/check/morning_after", {"drove": "no"}).status_code == 409
    assert _stored(just_given.id, "morning_after") is None


def test_a_cancelled_session_has_no_check_page(client, auth, people):
    cancelled = _session(people, people.pat, utcnow() - timedelta(days=4), status="cancelled")
    auth.login(people.pat)
    assert client.get(f"/sessions/{cancelled.id}/check/morning_after").status_code == 404
    assert "cancelled" in _page(client.get(f"/sessions/{cancelled.id}/prepare"))


def test_home_shows_the_next_session_and_the_open_checks_until_they_are_answered(
    client, auth, people, recent, three_days
):
    upcoming = _session(people, people.pat, utcnow() + timedelta(days=3))
    auth.login(people.pat)
    page = _page(client.get("/home"))
    assert f'href="/sessions/{upcoming.id}/prepare"' in page and "How to prepare" in page
    assert when(upcoming.start, CHICAGO) in page
    assert f'href="/sessions/{recent.id}/check/morning_after"' in page
    assert f'href="/sessions/{recent.id}/check/72h"' not in page  # not open yet
    assert f'href="/sessions/{three_days.id}/check/72h"' in page
    assert f'href="/sessions/{three_days.id}/check/morning_after"' not in page  # closed when the 72-hour one opened
    auth.post(f"/sessions/{recent.id}/check/morning_after", {"drove": "no"})
    page = _page(client.get("/home"))
    assert f'href="/sessions/{recent.id}/check/morning_after"' not in page
    assert f'href="/sessions/{three_days.id}/check/72h"' in page
