"""Forms in Chromium: a failed session save on a desktop (1440x900) comes back at the form's own address, opening
at the error summary, which has the focus and links to each field; the page is axe-clean. On a phone (390x844)
the "Sign out" button is a tap target of at least 44x44 CSS px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from journal.db import db
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def _patient_of_alice(live_server, local: str, name: str) -> int:
    with live_server.app.app_context():
        user = make_patient(live_server.user("alice@clinic.test"), local, name, zone="UTC")
        db.session.commit()
        return user.id


def test_a_failed_session_save_opens_at_the_focused_summary_with_links_to_the_fields(live_server, desktop, axe):
    patient_id = _patient_of_alice(live_server, "riley", "Riley Forms")
    page = desktop.new_page()
    page.goto("/login")
    sign_in(page, live_server.clinician_email)
    page.goto(f"/clinician/patients/{patient_id}#sessions")
    form = page.locator("form.session-form")
    form.get_by_label("Product").fill("Racemic ketamine")
    form.get_by_label("Dose", exact=True).fill("35")
    form.get_by_role("button", name="Record the session").click()

    expect(page).to_have_url(f"{live_server.url}/clinician/patients/{patient_id}/sessions")
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    box = summary.bounding_box()
    assert box is not None and box["y"] < 300, box  # at the top, in view, not thousands of px below
    assert page.evaluate("window.scrollY") < 100
    for name, field in (("Start", "session-start"), ("Status", "session-status"), ("Route", "session-route")):
        link = summary.get_by_role("link", name=f"{name}:")
        expect(link).to_have_attribute("href", f"#{field}")
    axe(page)
    summary.get_by_role("link", name="Status:").click()
    expect(page.locator("#session-status")).to_be_focused()


def test_sign_out_is_a_tap_target_of_at_least_44_px_on_a_phone(live_server, phone):
    page = phone.new_page()
    page.goto("/login")
    sign_in(page, live_server.clinician_email)
    box = page.get_by_role("button", name="Sign out").bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44, box
