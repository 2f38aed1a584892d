"""On a phone, reminder settings that could never deliver are refused with the error at its field, the page
passes axe in that state, and it names the time zone its times are in (the patient's, where it is now afternoon)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from journal.db import db, utcnow
from journal.models import ReminderSettings
from journal.reminders import NO_CHANNEL, NO_DEVICE, zone_label
from tests.browser.test_checkin_flow import enrol, sign_in_as

__all__ = ["enrol"]  # the fixture, shared with the check-in flow


def test_reminders_that_could_never_arrive_are_refused_at_their_field(live_server, enrol, phone, network, axe):
    patient = enrol("rita.reminders", "Rita Reminders")
    page = sign_in_as(phone, patient)
    page.get_by_role("link", name="Reminders").click()
    expect(page.locator("#timezone-note")).to_have_text(
        f"Times are in {zone_label(patient.zone, utcnow())}. Change your time zone"
    )
    expect(page.get_by_role("link", name="Change your time zone")).to_have_attribute("href", "/settings/contact")
    expect(page.get_by_label("Remind me each day at")).to_have_accessible_description(
        re.compile(rf"^Times are in {re.escape(patient.zone)} ")
    )

    # Notifications only, and no device of hers has them turned on.
    page.get_by_label("E-mail").uncheck()
    page.get_by_label("Notification on my devices").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#channels-error")).to_have_text(NO_DEVICE)
    expect(page.get_by_role("group", name="How")).to_have_attribute("aria-invalid", "true")
    axe(page)

    # No way at all.
    page.get_by_label("Notification on my devices").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#channels-error")).to_have_text(NO_CHANNEL)

    # E-mail, at a time inside the quiet hours.
    page.get_by_label("E-mail").check()
    page.get_by_label("Remind me each day at").fill("23:30")
    page.get_by_label("From").fill("22:00")
    page.get_by_label("Until").fill("07:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#time-error")).to_have_text(
        re.compile(r"^23:30 is inside your quiet hours \(22:00 to 07:00\)")
    )
    page.get_by_role("link", name=re.compile("^23:30 is inside")).click()
    expect(page.get_by_label("Remind me each day at")).to_be_focused()
    axe(page)
    with live_server.app.app_context():
        assert db.session.get(ReminderSettings, patient.id) is None  # nothing was saved along the way

    page.get_by_label("Remind me each day at").fill("21:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Reminder settings saved.")).to_be_visible()
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
