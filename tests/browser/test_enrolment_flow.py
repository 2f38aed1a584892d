"""Enrolment end to end in Chromium: a clinician enrols a patient, the patient opens the link on a phone, sets
a password and lands on their home page. axe-core checks every page on the way; nothing leaves 127.0.0.1."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# How far the page can scroll sideways, and the width of the layout viewport it should fit. Not
# ``window.innerWidth``: in a mobile context Chromium zooms out to show content that overflows, and
# innerWidth grows with it (measured: a 600 px element made innerWidth 616 at a 320 px viewport), so
# ``scrollWidth <= innerWidth`` would hold even for a page that overflows. ``clientWidth`` stays 320.
SIDEWAYS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def set_password(page, password: str, again: str | None = None) -> None:
    page.get_by_label("New password").fill(password)
    page.get_by_label("The same password again").fill(password if again is None else again)
    page.get_by_role("button", name="Set password and continue").click()


def assert_fits_width(page, width: int) -> None:
    scroll_width, client_width = page.evaluate(SIDEWAYS)
    assert client_width == width, f"layout viewport is {client_width} px, expected {width}"
    assert scroll_width <= client_width, f"{page.url} scrolls sideways: {scroll_width} px wide at {width} px"


def test_clinician_enrols_patient_who_sets_password_on_phone_and_lands_home(
    live_server, phone, new_context, network, axe
):
    url = live_server.url
    clinician = phone.new_page()

    # The clinician signs in on a phone-sized screen, from the start page.
    clinician.goto("/")
    expect(clinician).to_have_url(f"{url}/login")
    expect(clinician.get_by_role("heading", level=1)).to_have_text("Sign in")
    axe(clinician)
    sign_in(clinician, live_server.clinician_email)
    expect(clinician).to_have_url(f"{url}/clinician/dashboard")

    clinician.get_by_role("link", name="Enrol a patient", exact=True).click()
    expect(clinician).to_have_url(f"{url}/clinician/patients/new")
    axe(clinician)

    # A first attempt with mistakes: the errors are shown, tied to their fields, and still accessible.
    clinician.get_by_label("Name").fill("")
    clinician.get_by_label("E-mail address").fill("robin at home")
    clinician.get_by_role("button", name="Enrol and create the link").click()
    expect(clinician.get_by_role("alert")).to_contain_text("There is a problem")
    expect(clinician.locator("#name-error")).to_be_visible()
    expect(clinician.locator("#email-error")).to_be_visible()
    expect(clinician.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    expect(clinician.get_by_label("E-mail address")).to_have_attribute("aria-describedby", "email-error")
    expect(clinician.get_by_label("E-mail address")).to_have_value("robin at home")
    axe(clinician)

    clinician.get_by_label("Name").fill("Robin Example")
    clinician.get_by_label("E-mail address").fill("robin@patient.test")
    clinician.get_by_label("Time zone").select_option("Europe/London")
    clinician.get_by_label("Depression", exact=True).check()
    clinician.get_by_label("Alcohol", exact=True).check()  # the substance: "Alcohol use" is the indication
    clinician.get_by_label("Cannabis").check()
    clinician.get_by_label("Pain (0–10)").check()
    clinician.get_by_role("button", name="Enrol and create the link").click()

    # The answer shows the link once, pointing at this server (in this page only: never in a cookie).
    expect(clinician.get_by_role("heading", level=1)).to_have_text("Robin Example is enrolled")
    link = clinician.locator("#invitation-url").input_value()
    assert re.fullmatch(rf"{re.escape(url)}/invite/[A-Za-z0-9_-]{{20,}}", link), link
    expect(clinician.locator("a.invitation-link")).to_have_attribute("href", link)
    axe(clinician)
    clinician.get_by_role("link", name="Open Robin Example's page").click()
    expect(clinician).to_have_url(re.compile(rf"^{re.escape(url)}/clinician/patients/\d+$"))
    expect(clinician.get_by_role("heading", level=1)).to_have_text("Robin Example")
    expect(clinician.locator("#invitation-url")).to_have_count(0)
    facts = clinician.get_by_label("Details", exact=True)  # the patient's details list (dl aria-labelledby)
    expect(facts).to_contain_text("Europe/London")
    expect(facts).to_contain_text("Alcohol, Cannabis")
    expect(facts).to_contain_text("Invited, not yet active")
    axe(clinician)

    # The patient opens the link on their own phone: a fresh context, no cookies from the clinician.
    patient = new_context(**PHONE).new_page()
    patient.goto(link)
    expect(patient.get_by_role("heading", level=1)).to_have_text("Welcome, Robin Example")
    axe(patient)
    set_password(patient, "a long enough passphrase")

    # Home, signed in as the patient, greeted by first name.
    expect(patient).to_have_url(f"{url}/home")
    expect(patient.get_by_role("heading", level=1)).to_have_text("Hello, Robin")
    expect(patient.get_by_role("region", name="Your care team")).to_contain_text("Alice Adams")
    axe(patient)

    patient.get_by_role("link", name="Need help now?").click()
    expect(patient).to_have_url(f"{url}/help")
    expect(patient.get_by_role("link", name=re.compile("Call 988"))).to_have_attribute("href", "tel:988")
    axe(patient)

    # The clinician now sees the account as active.
    clinician.reload()
    expect(clinician.get_by_label("Details", exact=True)).to_contain_text("Active since")

    network.assert_only_own_origin()
    network.assert_no_csp_violations()


def test_patient_who_mistypes_the_second_password_is_told_where_and_can_try_again(live_server, phone, network, axe):
    link = live_server.invite_patient("Sam Second", "sam@patient.test")
    page = phone.new_page()
    page.goto(link)

    set_password(page, "a long enough passphrase", again="a long enough passfrase")
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    confirm = page.get_by_label("The same password again")
    expect(confirm).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password_confirm-error")).to_have_text("The two passwords are not the same.")
    expect(page).to_have_url(link)
    axe(page)

    set_password(page, "a long enough passphrase")
    expect(page).to_have_url(f"{live_server.url}/home")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Sam")
    network.assert_only_own_origin()


def test_login_invitation_and_home_pages_fit_a_320px_phone_without_sideways_scrolling(live_server, narrow_phone):
    link = live_server.invite_patient("Kim Narrow", "kim.narrow@patient.test")
    page = narrow_phone.new_page()

    page.goto("/login")
    assert_fits_width(page, 320)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Kim Narrow")
    assert_fits_width(page, 320)

    set_password(page, "a long enough passphrase")
    expect(page).to_have_url(f"{live_server.url}/home")
    assert_fits_width(page, 320)


def test_clinician_sees_patient_list_and_patient_page_accessibly_on_a_desktop(live_server, desktop, network, axe):
    page = desktop.new_page()
    page.goto("/login")
    sign_in(page, live_server.clinician_email)
    expect(page).to_have_url(f"{live_server.url}/clinician/dashboard")
    triage = page.get_by_role("table", name=re.compile("^Your patients, most in need first"))
    expect(triage.get_by_role("img", name=re.compile("^Mood over the last 14 days"))).not_to_have_count(0)
    axe(page)
    network.assert_no_csp_violations()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/clinician/patients")
    patients = page.get_by_role("table", name="Patients on your care teams")
    expect(patients).to_contain_text("Pat Patient")
    axe(page)

    patients.get_by_role("link", name="Pat Patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pat Patient")
    expect(page.get_by_label("Add a clinician")).to_contain_text("Bob Brown")
    expect(page.locator("#invitation-url")).to_have_count(0)  # the link is shown only right after enrolment
    axe(page)
    network.assert_only_own_origin()
    network.assert_no_csp_violations()


def test_signed_out_visitor_reaches_crisis_help_from_the_login_page(live_server, phone, network, axe):
    page = phone.new_page()
    page.goto("/login")
    page.get_by_role("link", name="Need help now?").click()
    expect(page).to_have_url(f"{live_server.url}/help")
    expect(page.get_by_role("heading", level=1)).to_have_text("Help, right now")
    axe(page)
    network.assert_only_own_origin()


def test_network_guard_notices_a_request_to_another_origin(phone, network):
    """The guard the other tests rely on is not vacuous: a page that reaches out is caught."""
    page = phone.new_page()
    page.goto("/login")
    with pytest.raises(PlaywrightError, match="ERR_NAME_NOT_RESOLVED"):  # the resolver rules keep it on this machine
        page.goto("http://cdn.example.com/library.js")
    # Chromium also tries the https:// address (HTTPS-first), so the same file may appear more than once.
    assert network.foreign()
    assert {urlsplit(url).netloc for url in network.foreign()} == {"cdn.example.com"}
    with pytest.raises(AssertionError, match="another origin"):
        network.assert_only_own_origin()
