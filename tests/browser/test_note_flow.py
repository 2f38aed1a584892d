"""What a patient tells the journal reaches a person, in Chromium, end to end.

On a phone (390x844) Drew saves today's check-in with a note and answers the 72-hour check after his session with
"drove: yes". On a desktop (1440x900) Alice, his clinician, finds the unseen note counted on her dashboard, both on
his page, an alert for the driving answer with his phone number as a ``tel:`` link, and both in the PDF report;
opening the day marks the note seen. axe-core finds nothing on any of those pages.
"""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from journal.db import utcnow
from tests.browser.test_checkin_flow import LAST_NIGHT, fill_checkin, save
from tests.browser.test_enrolment_flow import sign_in
from tests.browser.test_session_check_flow import seed_72_hour_check

pytestmark = pytest.mark.browser

NOTE = "I don't see the point any more some evenings"
PHONE_E164 = "+16175550123"
WIDE_DESKTOP = {"viewport": {"width": 1440, "height": 900}}


def _report_text(page, patient_id: int) -> str:
    response = page.request.get(f"/clinician/patients/{patient_id}/report.pdf")
    assert response.ok, response.status
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(response.body())).pages)


def test_a_note_and_a_driving_answer_reach_the_clinician_who_can_call_the_patient(
    live_server, phone, new_context, network, axe
):
    patient_id, session_id = seed_72_hour_check(live_server, "drew.notes", "Drew Notes", PHONE_E164)

    # Drew, on his phone: today's check-in with a note, then the 72-hour check.
    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "drew.notes@patient.test")
    page.get_by_role("link", name="Check in now").tap()
    fill_checkin(page, mood=2, craving=8, used="No", night=LAST_NIGHT)
    page.get_by_label(re.compile(r"^Note")).fill(NOTE)
    axe(page)
    save(page)
    expect(page.get_by_role("status")).to_contain_text("Your check-in for today is saved.")
    axe(page)
    page.goto("/home")
    page.locator(f'a[href="/sessions/{session_id}/check/72h"]').tap()
    page.locator('label[for="drove-yes"]').tap()
    page.get_by_role("button", name="Send my answers").tap()
    expect(page.get_by_text("Your care team will see your answers at their next review")).to_be_visible()
    axe(page)

    # Alice, at her desk.
    desk = new_context(**WIDE_DESKTOP).new_page()
    desk.goto("/login")
    sign_in(desk, live_server.clinician_email)
    expect(desk).to_have_url(re.compile(r"/clinician/dashboard$"))
    row = desk.get_by_role("row").filter(has_text="Drew Notes")
    expect(row.get_by_role("link", name="1 new note")).to_be_visible()
    axe(desk)

    row.get_by_role("link", name="1 new note").click()
    expect(desk).to_have_url(re.compile(rf"/clinician/patients/{patient_id}#days$"))
    days = desk.locator("#days")
    expect(days.get_by_text("New note", exact=True)).to_be_visible()
    expect(days.get_by_text(NOTE[:30])).to_be_visible()
    expect(desk.locator("#sessions").get_by_text("drove on the session day")).to_be_visible()
    expect(desk.locator(f'a[href="tel:{PHONE_E164}"]').first).to_be_visible()
    axe(desk)

    report = _report_text(desk, patient_id)
    assert NOTE in report
    assert "DROVE on the day of the session" in report

    desk.goto("/clinician/alerts")
    card = desk.locator("article").filter(has_text="Drew Notes").filter(has_text="Drove on the day of the session")
    expect(card).to_be_visible()
    expect(card.locator(f'a[href="tel:{PHONE_E164}"]')).to_be_visible()
    axe(desk)

    # Opening the day reads the whole note and marks it seen: the dashboard no longer counts it.
    desk.goto(f"/clinician/patients/{patient_id}")
    desk.locator("#days").get_by_role("link", name=re.compile(utcnow().strftime("%-d %b"))).first.click()
    expect(desk.get_by_text(NOTE)).to_be_visible()
    axe(desk)
    desk.goto("/clinician/dashboard")
    row = desk.get_by_role("row").filter(has_text="Drew Notes")
    expect(row).to_be_visible()
    expect(row.get_by_text("new note")).to_have_count(0)
    network.assert_only_own_origin()
