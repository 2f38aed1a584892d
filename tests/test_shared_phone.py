"""One phone, several people: what the server does so that what one person entered reaches nobody else, and a
later answer is never replaced by an earlier one.

Pat (Alice's patient, America/Chicago) and Quinn (Charlie's patient) share a phone in some of these tests.
What the browser itself keeps (caches, IndexedDB) is tested in Chromium: tests/browser/test_shared_phone.py.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from journal import device
from journal.db import db
from journal.models import CheckIn
from tests.conftest import AuthActions, bearer

BODY = {
    "mood": 2,
    "cravings": [{"substance": "alcohol", "intensity": 3}],
    "use": [{"substance": "alcohol", "used": False}],
}


def _today(user) -> str:
    return datetime.now(UTC).astimezone(ZoneInfo(user.timezone)).date().isoformat()


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _stored_moods() -> list[int]:
    return list(db.session.scalars(select(CheckIn.mood)))


# --- Newest answer wins ---------------------------------------------------------------------------------------


def test_an_earlier_save_arriving_last_is_409_with_the_stored_entry_and_changes_nothing(client, people):
    headers = bearer(client, people.pat)
    day, now = _today(people.pat), datetime.now(UTC)
    save_a = {**BODY, "mood": 2, "submission_id": "submission-a-0001", "saved_at": _iso(now - timedelta(minutes=5))}
    save_b = {**BODY, "mood": 9, "submission_id": "submission-b-0001", "saved_at": _iso(now - timedelta(minutes=1))}
    assert client.put(f"/api/v1/checkins/{day}", json=save_a, headers=headers).status_code == 201
    assert client.put(f"/api/v1/checkins/{day}", json=save_b, headers=headers).status_code == 200

    retry_of_a = client.put(f"/api/v1/checkins/{day}", json=save_a, headers=headers)

    assert retry_of_a.status_code == 409
    body = retry_of_a.get_json()
    assert body["stored"]["mood"] == 9 and body["errors"]["json"]["saved_at"]
    assert body["stored"]["saved_at"].startswith(save_b["saved_at"][:19])
    assert _stored_moods() == [9]


def test_a_repeated_submission_id_is_still_answered_with_the_stored_entry(client, people):
    headers = bearer(client, people.pat)
    day = _today(people.pat)
    save = {**BODY, "mood": 7, "submission_id": "submission-a-0002", "saved_at": _iso(datetime.now(UTC))}
    assert client.put(f"/api/v1/checkins/{day}", json=save, headers=headers).status_code == 201
    again = client.put(f"/api/v1/checkins/{day}", json=save, headers=headers)
    assert again.status_code == 200 and again.get_json()["mood"] == 7
    assert _stored_moods() == [7]


def test_a_later_save_replaces_an_earlier_one_whatever_order_they_were_made_in(client, people):
    headers = bearer(client, people.pat)
    day, now = _today(people.pat), datetime.now(UTC)
    first = {**BODY, "mood": 3, "saved_at": _iso(now - timedelta(minutes=2))}
    second = {**BODY, "mood": 5, "saved_at": _iso(now - timedelta(minutes=1))}
    client.put(f"/api/v1/checkins/{day}", json=first, headers=headers)
    response = client.put(f"/api/v1/checkins/{day}", json=second, headers=headers)
    assert response.status_code == 200 and _stored_moods() == [5]


def test_a_save_time_well_ahead_of_the_servers_clock_is_refused(client, people):
    ahead = {**BODY, "saved_at": _iso(datetime.now(UTC) + timedelta(hours=1))}
    response = client.put(f"/api/v1/checkins/{_today(people.pat)}", json=ahead, headers=bearer(client, people.pat))
    assert response.status_code == 422 and "saved_at" in response.get_json()["errors"]["json"]
    assert _stored_moods() == []


def test_a_save_time_without_an_offset_is_refused(client, people):
    naive = {**BODY, "saved_at": "2026-03-10T20:00:00"}
    response = client.put(f"/api/v1/checkins/{_today(people.pat)}", json=naive, headers=bearer(client, people.pat))
    assert response.status_code == 422 and "saved_at" in response.get_json()["errors"]["json"]


def _form(**overrides) -> dict:
    form = {"mood": "6", "craving-alcohol": "3", "used-alcohol": "no", "submission_id": "form-submission-01"}
    return {**form, **overrides}


def test_the_form_answers_an_older_queued_save_with_the_kept_answer_named_by_its_date(client, auth, people):
    auth.login(people.pat)
    day, now = _today(people.pat), datetime.now(UTC)
    newer = _form(mood="9", submission_id="form-newer-0001", saved_at=_iso(now - timedelta(minutes=1)))
    older = _form(mood="2", submission_id="form-older-0001", saved_at=_iso(now - timedelta(minutes=30)))
    assert auth.post(f"/checkin/{day}", newer).status_code == 302

    response = auth.post(f"/checkin/{day}", older)

    assert response.status_code == 409 and response.headers["X-Journal-Outcome"] == "stale"
    page = html.unescape(response.get_data(as_text=True))
    long_date = datetime.fromisoformat(day).strftime("%A %-d %B")
    assert f"A newer answer for {long_date} was kept" in page and "9 out of 10" in page
    assert _stored_moods() == [9]


def test_the_form_without_javascript_saves_at_the_servers_time(client, auth, people):
    auth.login(people.pat)
    before = datetime.now(UTC)
    assert auth.post(f"/checkin/{_today(people.pat)}", _form(saved_at="")).status_code == 302
    assert db.session.scalar(select(CheckIn.saved_at)) >= before


# --- An entry belongs to the account that made it --------------------------------------------------------------


def test_each_form_carries_its_accounts_owner_tag_and_no_one_elses(client, auth, people):
    auth.login(people.pat)
    page = client.get(f"/checkin/{_today(people.pat)}").get_data(as_text=True)
    assert f'name="author" value="{device.queue_owner(people.pat)}"' in page
    assert device.queue_owner(people.pat) != device.queue_owner(people.quinn)
    assert device.queue_key(people.pat) != device.queue_key(people.quinn)
    assert f'data-queue-key="{device.queue_key(people.pat)}"' in page


def test_an_entry_queued_by_another_account_is_refused_and_nothing_is_written(client, auth, people):
    auth.login(people.quinn)
    pats_entry = _form(author=device.queue_owner(people.pat), note="Pat's words")
    response = auth.post(f"/checkin/{_today(people.quinn)}", pats_entry)
    assert response.status_code == 403 and response.headers["X-Journal-Outcome"] == "other-account"
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 0


def test_an_entry_queued_by_the_same_account_in_an_earlier_sign_in_is_accepted(client, auth, people):
    auth.login(people.pat)
    auth.logout()
    auth.login(people.pat)
    response = auth.post(f"/checkin/{_today(people.pat)}", _form(author=device.queue_owner(people.pat)))
    assert response.status_code == 302 and _stored_moods() == [6]


def test_the_offline_form_asks_todays_questions_with_no_earlier_answers(client, auth, people):
    auth.login(people.pat)
    day = _today(people.pat)
    auth.post(f"/checkin/{day}", _form(mood="4", note="a distinctive note"))
    page = client.get("/checkin/offline-form").get_data(as_text=True)
    assert "data-offline-form" in page and 'name="craving-alcohol"' in page
    assert "a distinctive note" not in page and "checked" not in page


def test_the_offline_form_is_only_for_patients(client, auth, people):
    auth.login(people.alice)
    assert client.get("/checkin/offline-form").status_code == 404


# --- Nothing kept by a browser, nothing outliving the sign-in ---------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/home",
        "/checkin",
        "/checkin/offline-form",
        "/home/progress.png",
        "/settings/data",
        "/settings/reminders",
        "/api/v1/me",
        "/api/v1/checkins",
    ],
)
def test_every_response_to_a_signed_in_patient_says_no_store(client, auth, people, path):
    auth.login(people.pat)
    headers = bearer(client, people.pat) if path.startswith("/api/") else {}
    response = client.get(path, headers=headers, follow_redirects=True)
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "path",
    [
        "/clinician/dashboard",
        "/clinician/patients/{pat}",
        "/clinician/patients/{pat}/charts/outcomes.png",
        "/clinician/patients/{pat}/report.pdf",
        "/clinician/patients/{pat}/export.csv",
        "/clinician/patients/{pat}/export.fhir.json",
        "/clinician/alerts",
    ],
)
def test_every_staff_page_chart_and_download_says_no_store(client, auth, people, path):
    auth.login(people.alice)
    response = client.get(path.format(pat=people.pat.id))
    assert response.status_code == 200, path
    assert "no-store" in response.headers["Cache-Control"]


def test_sign_in_sets_a_person_cookie_the_worker_can_read_and_sign_out_removes_it(client, auth, people):
    response = auth.login(people.pat)
    cookies = response.headers.getlist("Set-Cookie")
    person = next(cookie for cookie in cookies if cookie.startswith(f"{device.PERSON_COOKIE}="))
    assert "HttpOnly" not in person and "SameSite=Lax" in person and "Max-Age=" in person
    signed_out = auth.logout()
    assert any(
        c.startswith(f"{device.PERSON_COOKIE}=;") or "Max-Age=0" in c
        for c in signed_out.headers.getlist("Set-Cookie")
        if c.startswith(device.PERSON_COOKIE)
    )
    assert client.get_cookie(device.PERSON_COOKIE) is None


def test_a_new_sign_in_gets_a_new_person_cookie(client, auth, people):
    auth.login(people.pat)
    first = client.get_cookie(device.PERSON_COOKIE).value
    auth.logout()
    auth.login(people.pat)
    assert client.get_cookie(device.PERSON_COOKIE).value != first


def test_a_session_whose_person_cookie_was_cleared_is_signed_out(client, auth, people):
    auth.login(people.pat)
    client.delete_cookie(device.PERSON_COOKIE)
    response = client.get("/home")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    # The session itself is over: the cookie coming back does not reopen it.
    auth.login(people.quinn)
    quinns = client.get_cookie(device.PERSON_COOKIE).value
    assert "Quinn" in client.get("/home").get_data(as_text=True)
    assert quinns


def test_a_session_presented_with_another_sign_ins_person_cookie_is_signed_out(app, client, auth, people):
    auth.login(people.pat)
    other = app.test_client()
    AuthActions(other).login(people.quinn)
    client.set_cookie(device.PERSON_COOKIE, other.get_cookie(device.PERSON_COOKIE).value)
    assert client.get("/home").status_code == 302
