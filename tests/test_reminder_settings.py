"""Reminder settings that could never deliver are refused, each at its field, by the page and the API alike;
and the page says which time zone its times are in.

Pat is in America/Chicago and tracks alcohol; Quinn (Charlie's patient) is in Asia/Kolkata (tests/conftest.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from journal.db import db
from journal.models import PushSubscription, ReminderSettings
from journal.reminders import NO_CHANNEL, NO_DEVICE, problems, zone_label
from tests.conftest import bearer

EMAIL_AT_EIGHT = {"time": "20:00", "channels": ["email"], "quiet_start": None, "quiet_end": None, "paused": False}


def _device(user) -> None:
    db.session.add(
        PushSubscription(
            user_id=user.id, endpoint=f"https://fcm.googleapis.com/fcm/send/{user.id}", p256dh="BAAA", auth="AAAA"
        )
    )
    db.session.commit()


# --- The rules, as plain data --------------------------------------------------------------------------------


def test_settings_that_can_deliver_have_no_problems():
    assert problems(EMAIL_AT_EIGHT, devices=0) == {}
    assert problems({**EMAIL_AT_EIGHT, "channels": ["webpush"]}, devices=1) == {}
    assert problems({**EMAIL_AT_EIGHT, "quiet_start": "22:00", "quiet_end": "07:00"}, devices=0) == {}


def test_no_channel_while_on_is_a_problem_at_channels_but_a_paused_reminder_may_have_none():
    assert problems({**EMAIL_AT_EIGHT, "channels": []}, devices=3) == {"channels": [NO_CHANNEL]}
    assert problems({**EMAIL_AT_EIGHT, "channels": [], "paused": True}, devices=0) == {}


def test_notifications_with_no_device_subscribed_are_a_problem_at_channels_even_beside_email():
    assert problems({**EMAIL_AT_EIGHT, "channels": ["webpush"]}, devices=0) == {"channels": [NO_DEVICE]}
    assert problems({**EMAIL_AT_EIGHT, "channels": ["email", "webpush"]}, devices=0) == {"channels": [NO_DEVICE]}


@pytest.mark.parametrize(
    ("time", "start", "end", "inside"),
    [
        ("23:30", "22:00", "07:00", True),  # across midnight, before it
        ("06:59", "22:00", "07:00", True),  # across midnight, after it
        ("22:00", "22:00", "07:00", True),  # the start is quiet
        ("07:00", "22:00", "07:00", False),  # the end is not
        ("13:00", "12:00", "14:00", True),
        ("20:00", "12:00", "14:00", False),
        ("20:00", "09:00", "09:00", False),  # equal ends mean no quiet hours
    ],
)
def test_a_reminder_time_inside_quiet_hours_is_a_problem_at_time(time, start, end, inside):
    found = problems({**EMAIL_AT_EIGHT, "time": time, "quiet_start": start, "quiet_end": end}, devices=0)
    assert ("time" in found) is inside
    if inside:
        assert found["time"][0].startswith(f"{time} is inside your quiet hours ({start} to {end})")


def test_the_zone_is_named_with_its_abbreviation_at_that_instant():
    assert zone_label("America/New_York", datetime(2026, 1, 15, 12, tzinfo=UTC)) == "America/New_York (EST)"
    assert zone_label("America/New_York", datetime(2026, 7, 15, 12, tzinfo=UTC)) == "America/New_York (EDT)"
    assert zone_label("Asia/Dubai", datetime(2026, 7, 15, 12, tzinfo=UTC)) == "Asia/Dubai (UTC+04)"


# --- The page ------------------------------------------------------------------------------------------------


def _form(**overrides) -> dict:
    return {"time": "20:00", "channels": ["email"], **overrides}


def _error_at(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert found, f"no error at {field}"
    return found.group(1).replace("&#34;", '"').replace("&#39;", "'")


def _stored(user) -> ReminderSettings | None:
    db.session.expire_all()
    return db.session.get(ReminderSettings, user.id)


def test_page_refuses_notifications_when_no_device_of_the_patient_is_subscribed(client, auth, people):
    _device(people.quinn)  # another patient's device does not count for Pat
    auth.login(people.pat)
    response = auth.post("/settings/reminders", _form(channels=["webpush"]))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _error_at(page, "channels") == NO_DEVICE
    assert 'href="#channels"' in page and '<fieldset id="channels" aria-invalid="true"' in page
    assert _stored(people.pat) is None  # nothing half-saved

    _device(people.pat)  # the page's "Turn on notifications here" registers this device first
    assert auth.post("/settings/reminders", _form(channels=["webpush"])).status_code == 302
    assert _stored(people.pat).webpush is True


def test_page_refuses_no_channel_unless_paused(client, auth, people):
    auth.login(people.pat)
    response = auth.post("/settings/reminders", _form(channels=[]))
    assert response.status_code == 400
    assert _error_at(response.get_data(as_text=True), "channels") == NO_CHANNEL
    assert _stored(people.pat) is None
    assert auth.post("/settings/reminders", _form(channels=[], paused="yes")).status_code == 302
    assert _stored(people.pat).paused is True


def test_page_refuses_a_time_inside_quiet_hours_at_the_time_field(client, auth, people):
    auth.login(people.pat)
    response = auth.post("/settings/reminders", _form(time="23:15", quiet_start="22:00", quiet_end="07:00"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _error_at(page, "time").startswith("23:15 is inside your quiet hours (22:00 to 07:00)")
    assert 'href="#time"' in page
    assert _stored(people.pat) is None


def test_page_names_the_patients_time_zone_and_links_to_where_it_is_changed(client, auth, people):
    auth.login(people.quinn)
    page = client.get("/settings/reminders").get_data(as_text=True)
    assert "Times are in Asia/Kolkata (IST)." in page
    link = re.search(r'<p id="timezone-note">.*?<a href="([^"]+)">Change your time zone</a>', page)
    assert link and link.group(1) == "/settings/contact"
    auth.logout()
    auth.login(people.pat)
    page = client.get("/settings/reminders").get_data(as_text=True)
    assert re.search(r"Times are in America/Chicago \(C[SD]T\)\.", page)
    assert 'aria-describedby="timezone-note"' in page  # read with the time field


# --- The API -------------------------------------------------------------------------------------------------


def _put(client, headers, **overrides):
    return client.put("/api/v1/me/reminders", json={**EMAIL_AT_EIGHT, **overrides}, headers=headers)


def test_api_refuses_webpush_without_a_device_with_422_naming_channels(client, people):
    headers = bearer(client, people.pat)
    response = _put(client, headers, channels=["webpush"])
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {"channels": [NO_DEVICE]}
    assert _stored(people.pat) is None
    _device(people.pat)
    assert _put(client, headers, channels=["webpush"]).status_code == 200


def test_api_refuses_no_channel_while_on_with_422_naming_channels(client, people):
    headers = bearer(client, people.pat)
    response = _put(client, headers, channels=[])
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {"channels": [NO_CHANNEL]}
    assert _put(client, headers, channels=[], paused=True).status_code == 200


def test_api_refuses_a_time_inside_quiet_hours_with_422_naming_time_and_keeps_what_was_stored(client, people):
    headers = bearer(client, people.pat)
    assert _put(client, headers, time="21:00").status_code == 200
    response = _put(client, headers, time="03:00", quiet_start="22:00", quiet_end="07:00")
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["time"]
    stored = _stored(people.pat)
    assert (stored.local_time, stored.quiet_start) == ("21:00", None)


def test_api_reports_every_problem_at_once(client, people):
    headers = bearer(client, people.pat)
    response = _put(client, headers, time="23:00", channels=[], quiet_start="22:00", quiet_end="07:00")
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"channels", "time"}


def test_reminder_settings_stay_the_patients_own(client, people):
    """Staff have no reminder settings to change: the routes are for patients only."""
    headers = bearer(client, people.alice)
    assert _put(client, headers).status_code in (403, 404)
    assert _stored(people.alice) is None
