"""No 500 under concurrency: every write path that can race on a unique key answers the loser as a sequential
second request would be answered (the same clear 4xx, or the idempotent success with the stored record),
and stores one row.

Each test sends two or three requests at the same instant, each from its own thread with its own test client,
and holds every one of them just before its first write to the database until all of them are there
(``FirstWrites``). So each has done its "is it there already?" reads before any writes: the race the issue saw
(201, 409 and 500 for one e-mail), staged every time rather than by luck. The app runs with ``TESTING``, so an
unhandled error comes out of the client as an exception; ``race`` counts it as the 500 it would be.

The people are conftest's: Alice is a clinician with patient Pat, Bob a colleague Alice adds to Pat's care team.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from journal.accounts import ADDRESS_UNAVAILABLE
from journal.alerts import raise_alert
from journal.checkins import local_today
from journal.db import db, utcnow
from journal.models import (
    Alert,
    Assessment,
    AuditEvent,
    CareTeamMember,
    CheckIn,
    Invitation,
    Patient,
    PushSubscription,
    ReminderSettings,
    Role,
    SideEffectCheck,
    User,
)
from journal.sessions import save_session
from tests.conftest import NOW, AuthActions, bearer, csrf_token, make_staff

HOLD_SECONDS = 10  # how long a request waits at its first write for the others before the staging counts as failed
WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Answer:
    status: int
    text: str
    location: str | None = None
    json: dict | list | None = None


class FirstWrites:
    """An engine hook that holds each racing request just before its first INSERT, UPDATE or DELETE until every
    racer has reached its own; later writes, and requests outside the race, pass straight through."""

    def __init__(self, racers: int):
        self._barrier = threading.Barrier(racers, timeout=HOLD_SECONDS)
        self._local = threading.local()
        self.broken = False

    def join(self) -> None:
        """Called by each racing thread before it sends its request."""
        self._local.racing, self._local.written = True, False

    def __call__(self, _connection, _cursor, statement: str, *_args) -> None:
        local = self._local
        if not getattr(local, "racing", False) or local.written or not statement.lstrip().upper().startswith(WRITES):
            return
        local.written = True
        try:
            self._barrier.wait()
        except threading.BrokenBarrierError:
            self.broken = True  # some request never came to a write: let it go, and fail the test in race()


def race(*requests: Callable[[], object]) -> list[Answer]:
    """Send the requests at once, each held at its first write until all are; their answers in the same order."""
    db.session.commit()  # the test's own session holds nothing that a racer would wait for
    gate = FirstWrites(len(requests))
    answers: list[Answer | None] = [None] * len(requests)

    def send(index: int, request: Callable[[], object]) -> None:
        gate.join()
        try:
            response = request()
        except Exception as error:  # with TESTING, an unhandled error is raised here instead of answered 500
            answers[index] = Answer(500, "".join(traceback.format_exception(error)))
            return
        answers[index] = Answer(
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("Location"),
            response.get_json(silent=True),
        )

    engine = db.engine
    event.listen(engine, "before_cursor_execute", gate)
    try:
        threads = [threading.Thread(target=send, args=pair) for pair in enumerate(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        event.remove(engine, "before_cursor_execute", gate)
    assert not gate.broken, "not every request came to a write: the race was not staged"
    assert all(answer is not None for answer in answers), "a request did not finish"
    server_errors = [answer.text for answer in answers if answer.status >= 500]
    assert not server_errors, "\n\n".join(server_errors)
    db.session.expire_all()
    return answers


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@dataclass
class Browser:
    """A signed-in browser: its own cookies and the CSRF token its forms carry."""

    client: FlaskClient
    token: str

    def post(self, url: str, data: dict) -> Callable[[], object]:
        return lambda: self.client.post(url, data={**data, "csrf_token": self.token})


def browser(app: Flask, user: User) -> Browser:
    client = app.test_client()
    AuthActions(client).login(user)
    return Browser(client, csrf_token(client, "/help"))


def api(app: Flask, method: str, url: str, body: dict, headers: dict) -> Callable[[], object]:
    return lambda: app.test_client().open(url, method=method, json=body, headers=headers)


# --- Enrolment ----------------------------------------------------------------------------------------------

ROBIN = {
    "name": "Robin Reed",
    "email": "robin@patient.test",
    "timezone": "Europe/London",
    "substances": ["alcohol"],
    "indications": ["alcohol"],
}
TAKEN = ADDRESS_UNAVAILABLE


def _one_robin() -> None:
    robin = db.session.scalar(select(User).where(User.email == ROBIN["email"]))
    assert count(User, User.email == ROBIN["email"]) == 1
    assert count(Patient, Patient.user_id == robin.id) == 1
    assert count(CareTeamMember, CareTeamMember.patient_id == robin.id) == 1
    assert count(Invitation, Invitation.user_id == robin.id) == 1
    assert count(AuditEvent, AuditEvent.action == "patient.create") == 1


def test_three_simultaneous_enrolments_of_one_email_give_one_patient_and_409s(app, client, people):
    enrol = api(app, "POST", "/api/v1/patients", ROBIN, bearer(client, people.alice))
    answers = race(enrol, enrol, enrol)
    assert sorted(answer.status for answer in answers) == [201, 409, 409]
    for loser in (answer for answer in answers if answer.status == 409):
        assert loser.json["message"] == TAKEN
        assert loser.json["errors"]["json"]["email"] == [TAKEN]
    _one_robin()


def test_enrolments_of_one_email_by_form_and_api_at_once_give_one_patient_and_the_form_error(app, client, people):
    forms = [browser(app, people.alice) for _ in range(2)]
    answers = race(
        *(form.post("/clinician/patients/new", ROBIN) for form in forms),
        api(app, "POST", "/api/v1/patients", ROBIN, bearer(client, people.alice)),
    )
    *by_form, by_api = answers
    robin_id = db.session.scalar(select(User.id).where(User.email == ROBIN["email"]))
    assert [answer.status in (200, 201) for answer in answers].count(True) == 1
    for answer in by_form:
        if answer.status == 200:  # the new link, shown in the answer to the enrolment (never kept in a cookie)
            assert f"/clinician/patients/{robin_id}" in answer.text and "/invite/" in answer.text
        else:
            assert answer.status == 400 and TAKEN in answer.text  # the form again, with the e-mail marked
    assert by_api.status == 201 or (by_api.status == 409 and by_api.json["message"] == TAKEN)
    _one_robin()


DEE = {"name": "Dee Nurse", "email": "dee@clinic.test", "role": "clinician", "timezone": "America/New_York"}


def test_two_admins_adding_one_staff_email_at_once_give_one_account_and_the_form_error(app, people):
    ava = make_staff(people.clinic, "ava", "Ava Admin", Role.ADMIN)
    db.session.commit()
    answers = race(*(browser(app, admin).post("/admin/staff/new", DEE) for admin in (people.ada, ava)))
    assert sorted(answer.status for answer in answers) == [200, 400]
    added, refused = sorted(answers, key=lambda answer: answer.status)
    assert "Dee Nurse is added" in added.text and "/invite/" in added.text  # the one link, shown once
    assert TAKEN in refused.text  # the form again, with the e-mail marked, as a second request gets it
    dee = db.session.scalar(select(User).where(User.email == DEE["email"]))
    assert count(User, User.email == DEE["email"]) == 1
    assert count(Invitation, Invitation.user_id == dee.id) == 1
    assert count(AuditEvent, AuditEvent.action == "staff.create", AuditEvent.detail == f"user {dee.id}") == 1


# --- Questionnaires ---------------------------------------------------------------------------------------------

PHQ9_ITEM9 = [1, 0, 0, 0, 0, 0, 0, 0, 1]  # item 9 answered "several days": the safety pathway
RECENTLY = "You filled this in recently. It opens again on"


def test_one_questionnaire_sent_three_times_at_once_is_stored_once_and_each_answer_carries_it(app, client, people):
    body = {"instrument": "phq9", "answers": PHQ9_ITEM9, "submission_id": "phq9-phone-0001"}
    submit = api(app, "POST", "/api/v1/assessments", body, bearer(client, people.pat))
    answers = race(submit, submit, submit)
    assert sorted(answer.status for answer in answers) == [200, 200, 201]
    assert len({answer.json["id"] for answer in answers}) == 1
    assert all(answer.json["crisis"] for answer in answers)  # SAFE-R1: the retried request shows it too
    assert count(Assessment) == 1
    assert count(Alert, Alert.kind == "safety_item9") == 1


def test_two_questionnaires_sent_at_once_from_two_devices_keep_one_and_the_other_hears_when_it_opens(
    app, client, people
):
    headers = bearer(client, people.pat)
    forms = ({"instrument": "phq9", "answers": [0] * 9, "submission_id": f"phq9-{device}-0001"} for device in "AB")
    answers = race(*(api(app, "POST", "/api/v1/assessments", form, headers) for form in forms))
    assert sorted(answer.status for answer in answers) == [201, 409]
    (loser,) = (answer for answer in answers if answer.status == 409)
    assert loser.json["message"].startswith(RECENTLY)  # SPEC 1.10: never twice in 7 days
    assert count(Assessment) == 1


def test_a_questionnaire_form_sent_twice_at_once_leads_both_to_the_one_stored_form(app, people):
    form = {f"item-{number}": "0" for number in range(1, 10)} | {"submission_id": "phq9-form-0001"}
    answers = race(*(browser(app, people.pat).post("/assessments/phq9", form) for _ in range(2)))
    stored = db.session.scalar(select(Assessment.id))
    assert [(answer.status, answer.location) for answer in answers] == [(302, f"/assessments/{stored}/done")] * 2
    assert count(Assessment) == 1


# --- Push subscriptions and reminder settings ---------------------------------------------------------------------

DEVICE = {"endpoint": "https://fcm.googleapis.com/fcm/send/pat-phone", "keys": {"p256dh": "BAAA", "auth": "AAAA"}}


def test_one_device_registered_three_times_at_once_is_stored_once(app, client, people):
    headers = bearer(client, people.pat)
    page = browser(app, people.pat)
    answers = race(
        api(app, "POST", "/api/v1/me/push-subscriptions", DEVICE, headers),
        api(app, "POST", "/api/v1/me/push-subscriptions", DEVICE, headers),
        lambda: page.client.post("/settings/push-subscriptions", json=DEVICE, headers={"X-CSRFToken": page.token}),
    )
    stored = db.session.scalar(select(PushSubscription.id))
    assert [(answer.status, answer.json) for answer in answers] == [(201, {"id": stored})] * 3
    assert count(PushSubscription) == 1


def test_first_reminder_settings_saved_at_once_by_api_and_page_are_stored_once(app, client, people):
    headers = bearer(client, people.pat)
    settings = {"time": "21:15", "channels": ["email"]}
    answers = race(
        api(app, "PUT", "/api/v1/me/reminders", settings, headers),
        api(app, "PUT", "/api/v1/me/reminders", settings, headers),
        browser(app, people.pat).post("/settings/reminders", settings),
    )
    assert [answer.status for answer in answers] == [200, 200, 302]
    assert count(ReminderSettings) == 1
    assert db.session.get(ReminderSettings, people.pat.id).local_time == "21:15"


# --- Acknowledgements ----------------------------------------------------------------------------------------

ACKNOWLEDGED = "This alert has already been acknowledged."


def test_a_double_acknowledgement_keeps_the_first_note_and_answers_the_others_409(app, client, people):
    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=people.bob.id, added_at=NOW))
    alert = raise_alert(
        db.session,
        utcnow() - timedelta(hours=1),
        patient_id=people.pat.id,
        kind="craving",
        severity="medium",
        reason="Craving 9 of 10.",
        dedup_key=f"test:{people.pat.id}:craving",
    )
    db.session.commit()
    url = f"/api/v1/alerts/{alert.id}/ack"
    notes = ["Alice called Pat by API.", "Bob called Pat by API.", "Bob called Pat from the inbox."]
    answers = race(
        api(app, "POST", url, {"note": notes[0]}, bearer(client, people.alice)),
        api(app, "POST", url, {"note": notes[1]}, bearer(client, people.bob)),
        browser(app, people.bob).post(f"/clinician/alerts/{alert.id}/ack", {"note": notes[2]}),
    )
    *by_api, by_form = answers
    assert [answer.status in (200, 302) for answer in answers].count(True) == 1
    for answer in by_api:
        assert answer.status == 200 or (answer.status == 409 and answer.json["message"] == ACKNOWLEDGED)
    assert by_form.status == 302 or (by_form.status == 409 and "has already been acknowledged" in by_form.text)
    stored = db.session.get(Alert, alert.id)
    winner = next(index for index, answer in enumerate(answers) if answer.status in (200, 302))
    assert stored.note == notes[winner]
    if by_form.status == 409:
        assert notes[2] in by_form.text  # the loser's own note is shown back, so it is not lost
    assert count(AuditEvent, AuditEvent.action == "alert.ack") == 1


# --- Check-ins ----------------------------------------------------------------------------------------------

# One entry, sent more than once: by a double tap, or by the page and the app's queue. Its submission_id makes
# every answer independent of which save of a day is kept when two different ones meet (journal/checkins.py).
DAY = {
    "mood": 6,
    "cravings": [{"substance": "alcohol", "intensity": 3}],
    "use": [{"substance": "alcohol", "used": False}],
    "submission_id": "checkin-0001",
}
DAY_FORM = {"mood": "6", "craving-alcohol": "3", "used-alcohol": "no", "submission_id": "checkin-0001"}


def _today(people) -> date:
    return local_today(people.pat, utcnow())


def test_three_simultaneous_first_check_ins_by_api_store_one_day(app, client, people):
    day = _today(people)
    put = api(app, "PUT", f"/api/v1/checkins/{day}", DAY, bearer(client, people.pat))
    answers = race(put, put, put)
    assert sorted(answer.status for answer in answers) == [200, 200, 201]
    assert all(answer.json["date"] == day.isoformat() and answer.json["mood"] == 6 for answer in answers)
    assert count(CheckIn) == 1


def test_first_check_ins_by_form_and_api_at_once_store_one_day(app, client, people):
    day = _today(people)
    answers = race(
        *(browser(app, people.pat).post(f"/checkin/{day}", DAY_FORM) for _ in range(2)),
        api(app, "PUT", f"/api/v1/checkins/{day}", DAY, bearer(client, people.pat)),
    )
    *by_form, by_api = answers
    assert [(answer.status, answer.location) for answer in by_form] == [(302, f"/checkin/{day}/saved")] * 2
    assert by_api.status in (200, 201) and by_api.json["mood"] == 6
    assert count(CheckIn) == 1


# --- Side-effect checks after a session (KET-R3) -----------------------------------------------------------------


def test_a_side_effect_check_sent_twice_at_once_is_stored_once(app, people):
    start = utcnow() - timedelta(days=4)
    data = {"status": "given", "start": start, "route": "intranasal", "product": "Esketamine", "dose": 56}
    given = save_session(db.session, people.pat.patient, {**data, "dose_unit": "mg"}, utcnow(), people.alice)
    db.session.commit()
    url = f"/sessions/{given.id}/check/72h"
    answers = race(*(browser(app, people.pat).post(url, {"nausea": "2", "drove": "no"}) for _ in range(2)))
    assert [(answer.status, answer.location) for answer in answers] == [(302, url)] * 2
    assert count(SideEffectCheck) == 1


def test_a_colleague_added_to_the_care_team_twice_at_once_is_added_once(app, people):
    url = f"/clinician/patients/{people.pat.id}/care-team"
    answers = race(
        browser(app, people.alice).post(url, {"clinician_id": str(people.bob.id)}),
        browser(app, people.alice).post(url, {"clinician_id": str(people.bob.id)}),
    )
    assert [answer.status for answer in answers] == [302, 302]
    assert count(CareTeamMember, CareTeamMember.patient_id == people.pat.id) == 2  # Alice and Bob
    assert count(AuditEvent, AuditEvent.action == "careteam.add") == 1


def test_a_baseline_chosen_twice_at_once_is_stored_once(app, client, people):
    from journal.assessments import submit
    from journal.models import Baseline

    first, *_ = submit(db.session, people.pat.patient, {"instrument": "phq9", "answers": [2] * 9}, NOW, people.pat)
    second, *_ = submit(
        db.session, people.pat.patient, {"instrument": "phq9", "answers": [1] * 9}, NOW + timedelta(days=8), people.pat
    )
    db.session.commit()
    url = f"/api/v1/patients/{people.pat.id}/baselines/phq9"
    headers = bearer(client, people.alice)
    answers = race(
        api(app, "PUT", url, {"assessment_id": first.id}, headers),
        api(app, "PUT", url, {"assessment_id": second.id}, headers),
    )
    assert [answer.status for answer in answers] == [200, 200]
    (stored,) = db.session.scalars(select(Baseline).where(Baseline.patient_id == people.pat.id))
    assert stored.assessment_id in (first.id, second.id)
