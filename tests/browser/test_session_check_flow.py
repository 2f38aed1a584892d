"""A post-session check that reaches a person, in Chromium: on a phone (390x844) the patient answers the 72-hour
check with "drove: yes"; on a desktop Alice sees the answer beside the session on the patient's page and an alert
for it in her inbox. axe-core finds nothing on the pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from journal.db import db, utcnow
from journal.sessions import save_session
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def seed_72_hour_check(live_server, local: str = "drew", name: str = "Drew Driver", phone: str | None = None):
    """A patient of Alice's (zone UTC) with a session given 73 hours ago, so the 72-hour check is open; their
    id and the session's."""
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        user = make_patient(alice, local, name, zone="UTC")
        user.patient.phone = phone
        now = utcnow()
        record = save_session(
            db.session, user.patient,
            {"status": "given", "start": now - timedelta(hours=73), "route": "intranasal", "product": "Esketamine",
             "dose": 56, "dose_unit": "mg"},
            now, alice,
        )  # fmt: skip
        db.session.commit()
        return user.id, record.id


def test_a_72_hour_check_with_driving_reaches_the_care_team(live_server, phone, desktop, axe):
    patient_id, session_id = seed_72_hour_check(live_server)

    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "drew@patient.test")
    page.goto("/home")
    page.locator(f'a[href="/sessions/{session_id}/check/72h"]').click()
    expect(page.get_by_role("heading", name="Three days after your session")).to_be_visible()
    axe(page)
    page.locator('label[for="dissociation-10"]').click()
    page.locator('label[for="nausea-10"]').click()
    page.locator('label[for="drove-yes"]').click()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("Your care team will see your answers at their next review")).to_be_visible()
    expect(page.get_by_text("sent to your care team")).to_have_count(0)
    axe(page)

    page = desktop.new_page()
    page.goto("/login")
    sign_in(page, "alice@clinic.test")
    expect(page).to_have_url(re.compile(r"/clinician/dashboard$"))
    page.goto(f"/clinician/patients/{patient_id}")
    sessions = page.locator("#sessions")
    expect(sessions.get_by_text("drove on the session day")).to_be_visible()
    expect(sessions.get_by_text("10/10 (severe)").first).to_be_visible()
    axe(page)
    page.goto(f"/clinician/patients/{patient_id}/sessions/{session_id}")
    expect(page.locator("#checks").get_by_text("drove on the session day")).to_be_visible()
    axe(page)
    page.goto("/clinician/alerts")
    card = page.locator("article").filter(has_text="Drew Driver")  # other tests' patients have alerts too
    expect(card.get_by_text("Drove on the day of the session (72-hour check)")).to_be_visible()
    axe(page)
