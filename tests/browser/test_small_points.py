"""Issue 14's smaller points in Chromium: the dashboard's search, "Mark all new notes seen" on a patient's page,
the admin's Deliveries page and the patient's own progress chart on a phone; axe-core finds nothing on them and
nothing is loaded from another origin.

The live server is shared by every browser test: the patients made here have names of their own (Nina Notes,
Perry Phone) and nothing here changes Pat."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from journal.checkins import save_checkin
from journal.db import db, utcnow
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser

NOTE = "Rough evening; talked to my sponsor."


def _patient_with_a_note(live_server) -> int:
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        user = live_server.user("nina@patient.test") or make_patient(alice, "nina", "Nina Notes", zone="UTC")
        day = utcnow().date() - timedelta(days=1)
        data = {"mood": 4, "cravings": [{"substance": "alcohol", "intensity": 3}],
                "use": [{"substance": "alcohol", "used": False}], "note": NOTE}  # fmt: skip
        save_checkin(db.session, user.patient, day, data, utcnow(), alice)
        db.session.commit()
        return user.id


def test_a_clinician_searches_the_dashboard_and_marks_a_patients_notes_seen(live_server, desktop, network, axe):
    patient_id = _patient_with_a_note(live_server)
    page = desktop.new_page()
    page.goto("/login")
    sign_in(page, "alice@clinic.test")
    expect(page).to_have_url(re.compile(r"/clinician/dashboard$"))

    search = page.get_by_role("search", name="Search your patients")
    search.get_by_label("Search by name or e-mail address").fill("NINA")
    search.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"\?q=NINA$"))
    expect(page.get_by_role("status")).to_contain_text("1 patient matches “NINA”.")
    row = page.get_by_role("table").get_by_role("row").filter(has_text="Nina Notes")
    expect(row).to_contain_text("1 new note")
    axe(page)

    page.get_by_label("Search by name or e-mail address").fill("nobody by this name")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_contain_text("No patient on your care teams matches")
    axe(page)

    page.goto("/clinician/dashboard?q=" + "x" * 101)
    expect(page.locator("#q-error")).to_have_text("Search for at most 100 characters.")
    axe(page)

    page.goto(f"/clinician/patients/{patient_id}")
    days = page.locator("#days")
    expect(days).to_contain_text("1 new note")
    axe(page)
    days.get_by_role("button", name="Mark all new notes seen").click()
    expect(page).to_have_url(re.compile(rf"/clinician/patients/{patient_id}#days$"))
    expect(page.get_by_role("status").filter(has_text="marked seen")).to_have_text("1 new note marked seen.")
    expect(page.locator("#days").get_by_role("button", name="Mark all new notes seen")).to_have_count(0)
    axe(page)
    network.assert_only_own_origin()
    network.assert_no_csp_violations()


def test_an_admin_reads_deliveries_newest_first(live_server, desktop, network, axe):
    page = desktop.new_page()
    page.goto("/login")
    sign_in(page, "ada@clinic.test")
    page.goto("/admin/deliveries")
    expect(page.get_by_text("Both tables list the newest message first")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("newest first")).first).to_be_visible()
    axe(page)
    network.assert_only_own_origin()


def test_the_patients_progress_chart_has_at_least_two_device_pixels_for_each_css_pixel_on_a_phone(
    live_server, phone, network, axe
):
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        user = live_server.user("perry@patient.test") or make_patient(alice, "perry", "Perry Phone", zone="UTC")
        for back in (1, 2, 4):
            day = utcnow().date() - timedelta(days=back)
            data = {"mood": 5 + back, "cravings": [{"substance": "alcohol", "intensity": 2}],
                    "use": [{"substance": "alcohol", "used": False}]}  # fmt: skip
            save_checkin(db.session, user.patient, day, data, utcnow(), alice)
        db.session.commit()
    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "perry@patient.test")
    chart = page.locator('img[src$="/home/progress.png"]')
    page.wait_for_function(
        "() => { const img = document.querySelector('img[src$=\"/home/progress.png\"]');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    natural, shown, card = chart.evaluate(
        "img => [img.naturalWidth, img.getBoundingClientRect().width,"
        " img.closest('section').getBoundingClientRect().width]"
    )
    assert natural / shown >= 2, (natural, shown)
    assert shown <= card, (shown, card)  # nothing cut off at the card's edge
    axe(page)
    network.assert_only_own_origin()
