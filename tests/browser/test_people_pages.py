"""People's pages in Chromium: a patient sets their phone and emergency contact on a phone (a mistake shown at
its field first); the clinician sees both as tel: links on the patient page and changes the programme on the
Edit details page, whose history then names the change. axe-core checks each page; nothing leaves 127.0.0.1."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from journal.db import db
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def rowan(live_server) -> int:
    """A patient of Alice's of this module's own, so no other browser test meets the details set here."""
    with live_server.app.app_context():
        user = make_patient(live_server.user(live_server.clinician_email), "rowan", "Rowan Reyes")
        db.session.commit()
        return user.id


def test_patient_sets_contact_details_on_a_phone_and_the_clinician_calls_them_from_the_patient_page(
    live_server, rowan, phone, desktop, network, axe
):
    url = live_server.url
    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "rowan@patient.test")
    expect(page).to_have_url(f"{url}/home")
    page.get_by_role("link", name="Contact details and time zone").click()
    expect(page).to_have_url(f"{url}/settings/contact")
    expect(page.get_by_text("Now: America/Chicago")).to_be_visible()
    axe(page)

    page.get_by_label("Your phone number").fill("555 01")
    page.get_by_label("Who to call").fill("Sam Reed")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{url}/settings/contact")  # the form's own address, with what to fix
    expect(page.locator("#phone-error")).to_contain_text("too short")
    expect(page.locator("#emergency_contact_phone-error")).to_contain_text("Give both the name and the phone")
    expect(page.locator(".error-summary")).to_be_focused()
    axe(page)

    page.get_by_label("Your phone number").fill("(312) 555-0123")
    page.locator("#emergency_contact_phone").fill("+44 7400 123456")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your details are saved.")).to_be_visible()
    expect(page.get_by_label("Your phone number")).to_have_value("(312) 555-0123")

    clinician = desktop.new_page()
    clinician.goto("/login")
    sign_in(clinician, live_server.clinician_email)
    clinician.goto(f"/clinician/patients/{rowan}")
    header = clinician.locator("#contact-line")
    expect(header.get_by_role("link", name="(312) 555-0123")).to_have_attribute("href", "tel:+13125550123")
    expect(header.get_by_role("link", name="+44 7400 123456")).to_have_attribute("href", "tel:+447400123456")

    header.get_by_role("link", name="Edit details").click()
    expect(clinician).to_have_url(f"{url}/clinician/patients/{rowan}/details")
    axe(clinician)
    clinician.get_by_label("Other substance use", exact=True).check()  # a treated indication is required
    clinician.get_by_label("Opioids").check()
    clinician.get_by_role("button", name="Save the details").click()
    expect(clinician).to_have_url(f"{url}/clinician/patients/{rowan}#details-heading")
    clinician.goto(f"/clinician/patients/{rowan}/details")
    history = clinician.get_by_role("table")
    expect(history.locator("tbody tr").first).to_contain_text("Started tracking Opioids")
    expect(history.locator("tbody tr").first).to_contain_text("Alice Adams")
    network.assert_only_own_origin()
