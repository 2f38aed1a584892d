"""A paper form in Chromium (1440x900): a clinician opens the PACS from the patient's page, enters a form completed
on the clinic's own copy, and is back on the page with the PACS's card; both pages are axe-clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from journal.db import db
from journal.models import Patient
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def _alcohol_patient_of_alice(live_server) -> int:
    with live_server.app.app_context():
        user = make_patient(live_server.user("alice@clinic.test"), "avery.paper", "Avery Paper", zone="UTC")
        db.session.get(Patient, user.id).indications = ["alcohol"]
        db.session.commit()
        return user.id


def test_a_clinician_enters_a_paper_pacs_from_the_patients_page(live_server, desktop, axe):
    patient_id = _alcohol_patient_of_alice(live_server)
    page = desktop.new_page()
    page.goto("/login")
    sign_in(page, live_server.clinician_email)
    page.goto(f"/clinician/patients/{patient_id}#questionnaires")
    page.locator(".paper-forms").get_by_role("link", name="PACS", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/clinician/patients/{patient_id}/assessments/pacs")
    axe(page)
    page.get_by_label("Completed on").fill("2026-01-05T09:30")
    # The radio buttons are drawn as their labels (static/app.css), so a person clicks the label.
    item1 = page.get_by_role("group", name="1. During the past week how often")
    item1.locator("label", has_text="Sometimes (5 to 10 times during the past week").click()
    expect(item1.get_by_label("Sometimes (5 to 10 times during the past week", exact=False)).to_be_checked()
    for number in range(2, 6):
        group = page.get_by_role("group", name=f"{number}. Item {number}, as worded on the clinic's own copy")
        group.locator(f"label[for=item-{number}-2]").click()
    page.get_by_role("button", name="Record the paper PACS").click()

    expect(page).to_have_url(f"{live_server.url}/clinician/patients/{patient_id}#questionnaires")
    card = page.locator("#instrument-pacs")
    expect(card).to_contain_text("11 of 30, completed 5 Jan 2026")
    expect(card).to_contain_text("non-treatment-seeking heavy drinkers")
    axe(page)
