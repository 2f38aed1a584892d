"""A forgotten password on a phone, in Chromium: "Forgot your password?", the e-mail's link (read from the outbox, as
the scheduler would send it), a new password, home; then a change of password in the settings. axe-core checks
every new page on the way; nothing leaves 127.0.0.1."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from journal.accounts import PatientDetails, accept_invitation, enrol_patient
from journal.db import db, utcnow
from journal.models import OutboxMessage
from journal.outbox import LINK_PURPOSE
from journal.sealing import unseal
from tests.browser.test_enrolment_flow import set_password, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

EMAIL = "rory.reset@patient.test"


def active_patient(live_server, name: str = "Rory Reset", email: str = EMAIL) -> None:
    """A patient on Alice's care team who set a password long ago (Rory has forgotten it)."""
    with live_server.app.app_context():
        clinician = live_server.user(live_server.clinician_email)
        details = PatientDetails(name=name, email=email, timezone="Europe/London", substances=["alcohol"])
        _, token = enrol_patient(db.session, clinician, details, utcnow(), invitation_days=7)
        accept_invitation(db.session, token, PASSWORD, utcnow())
        db.session.commit()


def emailed_link(live_server) -> str:
    """The link of the newest password-reset e-mail to Rory, as the outbox would put it in the e-mail."""
    with live_server.app.app_context():
        message = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.address == EMAIL, OutboxMessage.template == "password_reset")
            .order_by(OutboxMessage.id.desc())
        ).first()
        return live_server.url + unseal(message.sealed_link, LINK_PURPOSE)


def test_patient_resets_a_forgotten_password_on_the_phone_and_lands_home(live_server, phone, network, axe):
    active_patient(live_server)
    page = phone.new_page()
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(f"{live_server.url}/password-reset")
    expect(page.get_by_role("heading", level=1)).to_have_text("Forgot your password?")
    axe(page)

    page.get_by_label("E-mail address").fill("not an address")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    axe(page)

    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    expect(page.get_by_role("status").first).to_contain_text("If an account uses this e-mail address")
    axe(page)

    link = emailed_link(live_server)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set a new password")
    axe(page)
    set_password(page, "a fresh river passphrase", again="a fresh river passfrase")
    expect(page.locator("#password_confirm-error")).to_have_text("The two passwords are not the same.")
    axe(page)
    set_password(page, "a fresh river passphrase")
    expect(page).to_have_url(f"{live_server.url}/home")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Rory")

    # The link worked once.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    axe(page)
    network.assert_only_own_origin()
    network.assert_no_csp_violations()


def test_patient_changes_the_password_in_the_settings_on_the_phone(live_server, phone, network, axe):
    active_patient(live_server, "Casey Change", "casey.change@patient.test")
    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "casey.change@patient.test", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/home")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Password").click()
    expect(page).to_have_url(f"{live_server.url}/settings/password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    axe(page)

    page.locator("#current_password").fill("not the password at all")
    page.locator("#new_password").fill("a quiet harbour lantern")
    page.locator("#new_password_confirm").fill("a quiet harbour lantern")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#current_password-error")).to_contain_text("This is not your current password.")
    axe(page)

    page.locator("#current_password").fill(PASSWORD)
    page.locator("#new_password").fill("a quiet harbour lantern")
    page.locator("#new_password_confirm").fill("a quiet harbour lantern")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status").first).to_contain_text("Your password is changed")
    axe(page)
    page.goto("/home")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Casey")  # still signed in here
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
