"""One browser profile, several people: a shared phone in Chromium, looked at offline after each step, and inside
``caches`` and IndexedDB rather than only at what the page shows.

Ines and Jon are two patients of Alice's (the clinician) who share one phone. Each writes a note nobody else should
ever read; the tests search everything the browser keeps for those notes, names and pages.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from journal import device
from journal.db import db, utcnow
from journal.models import CheckIn, DosingSession, SessionStatus
from tests.browser import test_checkin_flow
from tests.browser.phone_storage import QUEUE_RECORDS, kept_on_the_phone, person_caches
from tests.browser.test_checkin_flow import (
    LAST_NIGHT,
    Patient,
    fill_checkin,
    long_date,
    save,
    sign_in_as,
    wait_for_offline_form,
    wait_for_service_worker,
)
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
enrol = test_checkin_flow.enrol  # the fixture: a patient of Alice's in a zone where it is now afternoon

INES_NOTE = "Ines saw a blue heron at the window"
JON_NOTE = "Jon walked the long way round"


def notes_of(live_server, patient: Patient) -> list[tuple[int, str]]:
    with live_server.app.app_context():
        rows = db.session.execute(
            select(CheckIn.mood, CheckIn.note).where(CheckIn.patient_id == patient.id).order_by(CheckIn.saved_at)
        )
        return [tuple(row) for row in rows]


def write_note(page, text: str) -> None:
    page.get_by_label(re.compile(r"^Note")).fill(text)


def check_in(page, mood: int, note: str) -> None:
    fill_checkin(page, mood=mood, craving=2, used="No", night=LAST_NIGHT)
    write_note(page, note)
    save(page)


def sign_out(page) -> None:
    """Tap "Sign out" and wait for the sign-in page (the page asks first when entries are waiting)."""
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def assert_nothing_of(page, *words: str) -> None:
    kept = kept_on_the_phone(page)
    for word in words:
        assert word not in kept, f"{word!r} is still kept on the phone"


def offline_page_at(context, page, path: str) -> str:
    """Go to ``path`` with no connection; what the worker served, as the page's text."""
    context.set_offline(True)
    page.goto(path)
    return page.locator("main").inner_text()


def with_a_session(live_server, patient: Patient) -> None:
    """A planned session tomorrow, so the home page shows something of the patient's own."""
    with live_server.app.app_context():
        db.session.add(
            DosingSession(
                patient_id=patient.id, start=utcnow() + timedelta(days=1), status=SessionStatus.PLANNED,
                route="intranasal", product="esketamine", dose=56, dose_unit="mg",
            )
        )  # fmt: skip
        db.session.commit()


def test_a_patients_answers_name_and_sessions_leave_the_phone_at_sign_out_and_when_the_cookie_goes(
    live_server, enrol, phone, network
):
    ines = enrol("ines.shared", "Ines Shared")
    page = sign_in_as(phone, ines)
    wait_for_service_worker(page)
    wait_for_offline_form(page)
    page.get_by_role("link", name="Check in now").tap()
    check_in(page, mood=4, note=INES_NOTE)
    expect(page.get_by_role("status")).to_contain_text("Your check-in for today is saved.")
    page.get_by_role("link", name="Done").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ines")

    # Signed in, offline: the saved page and home are not kept (no-store, honoured); only the blank form is.
    assert "No connection" in offline_page_at(phone, page, f"/checkin/{ines.today()}/saved")
    assert "No connection" in offline_page_at(phone, page, "/home")
    assert_nothing_of(page, INES_NOTE, "Hello, Ines", "4 out of 10")
    assert len(person_caches(page)) == 1
    phone.set_offline(False)

    # She queues a second answer offline, then signs out: she is told it will be deleted and asked first.
    page.goto("/checkin")
    phone.set_offline(True)
    page.goto("/checkin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today's check-in")
    check_in(page, mood=6, note="second thoughts")
    expect(page.locator("#outbox")).to_contain_text(f"Your check-in for {long_date(ines.today())} is saved")
    with page.expect_event("dialog") as asked:
        page.get_by_role("button", name="Sign out").click()
    question = asked.value.message
    asked.value.dismiss()
    assert "not been sent yet" in question and "deletes it" in question and long_date(ines.today()) in question
    expect(page.get_by_role("heading", level=1)).to_have_text("Today's check-in")  # she stayed
    assert len(page.evaluate(QUEUE_RECORDS)) == 1
    phone.set_offline(False)  # online again: the queue is sent
    expect(page.locator("#outbox")).to_contain_text("has been sent")
    page.goto("/home")
    sign_out(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    # Signed out: offline, nothing of hers is served, kept in a cache, or in IndexedDB.
    assert "No connection" in offline_page_at(phone, page, "/checkin")
    assert "No connection" in offline_page_at(phone, page, "/home")
    assert_nothing_of(page, INES_NOTE, "second thoughts", "Ines", "out of 10")
    assert person_caches(page) == []
    phone.set_offline(False)
    assert notes_of(live_server, ines) == [(6, "second thoughts")]

    # She signs in again, a session is planned; then her cookies are cleared (as when the session expires).
    with_a_session(live_server, ines)
    page.goto("/login")
    sign_in(page, ines.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ines")
    expect(page.get_by_role("heading", name="Your next session")).to_be_visible()
    wait_for_offline_form(page)
    phone.set_offline(True)
    page.goto("/checkin")
    check_in(page, mood=7, note="queued before the cookie went")  # waits, encrypted, under her account
    expect(page.locator("#outbox")).to_contain_text("waiting to be sent")
    phone.clear_cookies()
    assert "No connection" in offline_page_at(phone, page, "/checkin")
    assert_nothing_of(page, INES_NOTE, "queued before the cookie went", "Ines", "next session", "Your next session")
    assert person_caches(page) == []
    assert len(page.evaluate(QUEUE_RECORDS)) == 1  # still hers, unreadable without her sign-in

    # Online again with no cookie: the sign-in page, and her session is over for good.
    phone.set_offline(False)
    page.goto("/home")
    expect(page).to_have_url(re.compile(r"/login"))
    network.assert_only_own_origin()
    network.assert_no_csp_violations()


def test_the_next_person_on_the_phone_never_sees_or_sends_what_the_first_left(live_server, enrol, phone, network):
    ines = enrol("ines.first", "Ines First")
    jon = enrol("jon.second", "Jon Second")

    # Ines checks in offline on the kept form, then leaves the phone without signing out; her session ends.
    page = sign_in_as(phone, ines)
    wait_for_service_worker(page)
    wait_for_offline_form(page)
    phone.set_offline(True)
    page.goto("/checkin")
    check_in(page, mood=3, note=INES_NOTE)
    expect(page.locator("#outbox")).to_contain_text("waiting to be sent")
    (ines_record,) = page.evaluate(QUEUE_RECORDS)
    phone.clear_cookies()
    phone.set_offline(False)

    # Jon signs in on the same browser, online: Ines's entry is neither shown to him nor sent as his.
    page.goto("/login")
    sign_in(page, jon.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Jon")
    wait_for_offline_form(page)
    expect(page.locator("#outbox")).to_be_hidden()
    assert page.evaluate(QUEUE_RECORDS) == [ines_record]
    assert notes_of(live_server, ines) == notes_of(live_server, jon) == []

    # Offline, Jon gets his own blank form (his account's tag), never Ines's pages.
    phone.set_offline(True)
    page.goto("/checkin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today's check-in")
    with live_server.app.app_context():
        jon_tag = device.queue_owner(live_server.user(jon.email))
        ines_tag = device.queue_owner(live_server.user(ines.email))
    assert page.locator('input[name="author"]').input_value() == jon_tag != ines_tag
    assert "Hello, Ines" not in kept_on_the_phone(page) and INES_NOTE not in kept_on_the_phone(page)
    check_in(page, mood=8, note=JON_NOTE)
    expect(page.locator("#outbox")).to_have_text(
        f"Your check-in for {long_date(jon.today())} is saved on this phone and waiting to be sent."
    )  # his one entry, not hers

    # Online: Jon's entry is stored as his; Ines's stays on the phone, untouched.
    phone.set_offline(False)
    expect(page.locator("#outbox")).to_contain_text("has been sent")
    assert notes_of(live_server, jon) == [(8, JON_NOTE)]
    assert notes_of(live_server, ines) == []
    assert page.evaluate(QUEUE_RECORDS) == [ines_record]

    # Ines comes back and signs in: her entry is sent, as hers.
    page.goto("/home")
    sign_out(page)
    sign_in(page, ines.email)
    expect(page.locator("#outbox")).to_contain_text(f"Your check-in for {long_date(ines.today())} has been sent.")
    assert notes_of(live_server, ines) == [(3, INES_NOTE)]
    assert notes_of(live_server, jon) == [(8, JON_NOTE)]
    assert page.evaluate(QUEUE_RECORDS) == []
    network.assert_only_own_origin()


def test_a_clinician_after_a_patient_leaves_nothing_of_the_staff_pages_in_any_cache(live_server, enrol, phone, network):
    ines = enrol("ines.before.staff", "Ines Before Staff")
    page = sign_in_as(phone, ines)
    wait_for_service_worker(page)
    wait_for_offline_form(page)
    sign_out(page)

    page.goto("/login")
    sign_in(page, live_server.clinician_email)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    page.goto(f"/clinician/patients/{ines.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ines Before Staff")
    assert person_caches(page) == []  # Ines's kept form went as soon as someone else signed in

    phone.set_offline(True)
    page.goto(f"/clinician/patients/{ines.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("No connection")
    assert_nothing_of(page, "Ines Before Staff", "Dashboard", "PHQ-9", "Alice")
    phone.set_offline(False)
    page.goto("/clinician/dashboard")
    sign_out(page)
    phone.set_offline(True)
    assert_nothing_of(page, "Ines Before Staff", "Dashboard", "Alice")
    network.assert_only_own_origin()


def test_two_offline_saves_of_one_day_arrive_in_saved_order_and_the_later_is_kept(live_server, enrol, phone, network):
    """The queue's keys are random ids; here the first save gets the larger id, so sending in key order would
    deliver the newer answer first and let the older replace it."""
    phone.add_init_script(
        """(() => { const original = crypto.getRandomValues.bind(crypto);
           crypto.getRandomValues = (array) => {
             if (array.length !== 16) { return original(array); }  // a submission id (IVs are 12 bytes)
             const n = Number(localStorage.getItem("ids-given") || 0);
             localStorage.setItem("ids-given", String(n + 1));
             return array.fill(n === 0 ? 0xff : 0x00); }; })()"""
    )
    ines = enrol("ines.twice", "Ines Twice")
    posted = []
    # What reached the server: a send tried while the phone wrongly thinks it is online fails on the phone.
    phone.on(
        "requestfinished", lambda r: posted.append(r.post_data) if r.method == "POST" and "/checkin/" in r.url else None
    )
    page = sign_in_as(phone, ines)
    wait_for_service_worker(page)
    wait_for_offline_form(page)
    phone.set_offline(True)
    for mood, note in ((3, "first try"), (8, "second thoughts, later")):
        page.goto("/checkin")
        check_in(page, mood=mood, note=note)
        expect(page.locator("#outbox")).to_contain_text("waiting to be sent")
        page.wait_for_timeout(20)  # two distinct instants
    ids = sorted(record["id"] for record in page.evaluate(QUEUE_RECORDS))
    assert ids == ["0" * 32, "f" * 32]

    phone.set_offline(False)
    expect(page.locator("#outbox")).not_to_contain_text("waiting")
    assert [("first try" in body, "later" in body) for body in posted] == [(True, False), (False, True)]
    assert notes_of(live_server, ines) == [(8, "second thoughts, later")]
    network.assert_only_own_origin()


def test_a_queued_save_older_than_the_stored_answer_is_not_kept_and_the_page_says_so(
    live_server, enrol, phone, network
):
    ines = enrol("ines.stale", "Ines Stale")
    page = sign_in_as(phone, ines)
    wait_for_service_worker(page)
    wait_for_offline_form(page)
    phone.set_offline(True)
    page.goto("/checkin")
    check_in(page, mood=2, note="from the phone, offline")
    expect(page.locator("#outbox")).to_contain_text("waiting to be sent")

    # Later, from another device, she saves the same day online.
    laptop = live_server.app.test_client()  # requests in their own app contexts, as a real server's are
    token = laptop.post("/api/v1/auth/token", json={"email": ines.email, "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "mood": 9,
        "cravings": [{"substance": "alcohol", "intensity": 1}],
        "use": [{"substance": "alcohol", "used": False}],
        "note": "from the laptop",
    }
    assert laptop.put(f"/api/v1/checkins/{ines.today()}", json=body, headers=headers).status_code == 201

    phone.set_offline(False)
    expect(page.locator("#outbox")).to_have_text(f"A newer answer for {long_date(ines.today())} was kept.")
    assert page.evaluate(QUEUE_RECORDS) == []
    assert notes_of(live_server, ines) == [(9, "from the laptop")]
    network.assert_only_own_origin()
