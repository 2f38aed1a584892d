"""The alert card in the clinician's inbox (SAFE-R3): the real last and next session, the patient's phone and
emergency contact as tel: links, and whom a routed alert was sent to first.

Alice is on Pat's care team; Bob is on call with Charlie as backup (tests/conftest.py). The pages run on the
real clock, so times are made relative to ``utcnow()``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from journal.alerts import raise_alert
from journal.db import db, utcnow
from journal.models import DosingSession, OnCallShift, SessionStatus


@pytest.fixture
def card(people):
    """Pat with a phone and an emergency contact, and a high-priority alert raised an hour ago."""
    patient = people.pat.patient
    patient.phone = "+13125550142"
    patient.emergency_contact_name = "Sam Patient"
    patient.emergency_contact_phone = "+13125550199"
    db.session.commit()
    return people


def _alert(people, patient=None, at=None):
    alert = raise_alert(
        db.session,
        at or utcnow() - timedelta(hours=1),
        patient_id=(patient or people.pat).id,
        kind="safety_item9",
        severity="high",
        reason="test",
        dedup_key=f"card:{(patient or people.pat).id}",
    )
    db.session.commit()
    return alert


def _session(people, status: SessionStatus, start) -> DosingSession:
    record = DosingSession(
        patient_id=people.pat.id,
        status=status,
        start=start,
        route="iv",
        product="Ketamine",
        dose=0.5,
        dose_unit="mg/kg",
        entered_by_id=people.alice.id,
    )
    db.session.add(record)
    db.session.commit()
    return record


def _card(page: str, alert_id: int) -> str:
    found = re.search(rf'<article[^>]*aria-labelledby="alert-{alert_id}-heading">(.*?)</article>', page, re.S)
    assert found, "no card for the alert"
    return found.group(1)


def _field(card: str, name: str) -> str:
    found = re.search(rf'<dd class="alert-{name}">(.*?)</dd>', card, re.S)
    assert found, name
    return " ".join(found.group(1).split())


def test_card_shows_the_real_last_given_and_next_planned_session_in_the_readers_zone(client, auth, card):
    now = utcnow()
    zone = ZoneInfo(card.alice.timezone)
    last = _session(card, SessionStatus.GIVEN, now - timedelta(days=3, hours=2))
    _session(card, SessionStatus.GIVEN, now - timedelta(days=10))  # an older one
    _session(card, SessionStatus.CANCELLED, now - timedelta(days=1))  # cancelled: not a session given
    _session(card, SessionStatus.PLANNED, now - timedelta(hours=5))  # past and never marked given: neither
    upcoming = _session(card, SessionStatus.PLANNED, now + timedelta(days=4, hours=1))
    _session(card, SessionStatus.PLANNED, now + timedelta(days=11))
    alert = _alert(card)
    auth.login(card.alice)
    page = client.get("/clinician/alerts").get_data(as_text=True)
    body = _card(page, alert.id)
    assert "no sessions recorded yet" not in page
    last_text = _field(body, "last-session")
    assert last.start.astimezone(zone).strftime("%a %-d %b %Y, %H:%M %Z") in last_text
    assert "(given, 3 days 2 hours ago)" in last_text
    next_text = _field(body, "next-session")
    assert upcoming.start.astimezone(zone).strftime("%a %-d %b %Y, %H:%M %Z") in next_text
    assert "(planned, in 4 days" in next_text


def test_card_says_when_there_is_no_session_either_way(client, auth, card):
    alert = _alert(card)
    auth.login(card.alice)
    body = _card(client.get("/clinician/alerts").get_data(as_text=True), alert.id)
    assert _field(body, "last-session") == "None given yet"
    assert _field(body, "next-session") == "None planned"


def test_card_gives_the_patients_phone_and_emergency_contact_as_tel_links(client, auth, card):
    alert = _alert(card)
    auth.login(card.alice)
    body = _card(client.get("/clinician/alerts").get_data(as_text=True), alert.id)
    assert _field(body, "phone") == '<a href="tel:+13125550142">+13125550142</a>'
    assert _field(body, "emergency-contact") == 'Sam Patient: <a href="tel:+13125550199">+13125550199</a>'


def test_card_without_a_phone_says_so_and_links_the_patient_page(client, auth, people):
    alert = _alert(people)
    auth.login(people.alice)
    body = _card(client.get("/clinician/alerts").get_data(as_text=True), alert.id)
    page_link = f'<a href="/clinician/patients/{people.pat.id}">Open Pat Patient\'s page</a>'
    assert _field(body, "phone") == f"No phone number on record. {page_link}"
    assert _field(body, "emergency-contact") == f"None on record. {page_link}"
    assert "tel:" not in body


def test_a_routed_alert_card_says_whom_it_was_sent_to_first_and_the_backup(client, auth, card):
    now = utcnow()
    db.session.add(
        OnCallShift(
            clinic_id=card.clinic.id,
            clinician_id=card.bob.id,
            backup_id=card.charlie.id,
            starts_at=now - timedelta(hours=4),
            ends_at=now + timedelta(hours=4),
        )
    )
    db.session.commit()
    alert = _alert(card)
    auth.login(card.alice)
    body = _card(client.get("/clinician/alerts").get_data(as_text=True), alert.id)
    assert "Sent first to Bob Brown, on call; backup Charlie Clark" in body
    alert.escalated_at = now - timedelta(minutes=5)
    db.session.commit()
    body = _card(client.get("/clinician/alerts").get_data(as_text=True), alert.id)
    assert "first to the backup, Charlie Clark, then to the care team and the clinic's admins" in body


def test_an_alert_raised_outside_any_shift_names_no_on_call_clinician(client, auth, card):
    alert = _alert(card)
    auth.login(card.alice)
    body = _card(client.get("/clinician/alerts").get_data(as_text=True), alert.id)
    assert "Sent first to" not in body
