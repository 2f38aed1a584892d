"""Two-step sign-in on a desktop in Chromium: a clinician sets it up from the settings page (reading the key
shown for typing in, as someone without a phone camera would, and computing its code with pyotp), keeps the
recovery codes, signs out, and signs in with a code. axe-core finds nothing on any of the new pages, and
nothing is loaded from another origin (the QR code is drawn by the server)."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import expect

from journal.db import db, utcnow
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_staff

pytestmark = pytest.mark.browser

DESKTOP_1440 = {"viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def mira(live_server) -> str:
    """A clinician of her own: the live server is shared, and the other tests sign Alice in with a password."""
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        make_staff(alice.clinic, "mira", "Mira Moss")
        db.session.commit()
    return "mira@clinic.test"


def test_a_clinician_sets_up_two_step_sign_in_and_signs_in_with_a_code(new_context, network, axe, mira):
    page = new_context(**DESKTOP_1440).new_page()
    page.goto("/login")
    sign_in(page, mira)
    expect(page).to_have_url(re.compile(r"/clinician/dashboard$"))

    page.get_by_role("link", name="Two-step sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step sign-in")
    expect(page.get_by_role("img", name="QR code to scan with an authenticator app")).to_be_visible()
    axe(page)
    secret = page.get_by_label("Or type this key into the app").input_value().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("6-digit code").fill(totp.at(utcnow()))
    page.get_by_role("button", name="Turn on two-step sign-in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step sign-in is on")
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    axe(page)
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page).to_have_url(re.compile(r"/clinician/dashboard$"))

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    sign_in(page, mira)
    expect(page).to_have_url(re.compile(r"/login/verify$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    axe(page)
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That code is not right").first).to_be_visible()
    axe(page)  # the page with its error
    # The code of the next 30-second step: the one above was used to set it up, and no code works twice.
    page.get_by_label("Code from your authenticator app").fill(totp.at(utcnow() + timedelta(seconds=30)))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/clinician/dashboard$"))

    page.get_by_role("link", name="Two-step sign-in").click()
    expect(page.get_by_text("You have 10 unused recovery codes.")).to_be_visible()
    axe(page)
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
