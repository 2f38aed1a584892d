"""The at-session record in Chromium on a desktop (SPEC 7.4, KET-R8): Alice opens a given esketamine session from the
patient's page, sees the measures to look at again, completes the record (the time of the SpO2 reading, who
monitored, the medication) and downloads the one-page session record; axe-core finds nothing on the page, and
nothing is loaded from another origin."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from journal.db import db, utcnow
from journal.models import AuditEvent
from journal.sessions import save_session
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def _seed_session(live_server) -> tuple[int, int, datetime]:
    """A patient of Alice's with an esketamine session of three hours ago whose SpO2 fell to 88 % after dosing."""
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        user = make_patient(alice, "robin.record", "Robin Record", zone="UTC")
        start = utcnow() - timedelta(hours=3)
        record = save_session(
            db.session, user.patient,
            {"status": "given", "start": start, "route": "intranasal", "product": "Esketamine (Spravato)", "dose": 56,
             "dose_unit": "mg", "bp_systolic_pre": 128, "bp_diastolic_pre": 82, "spo2_pre": 98, "spo2_post": 88,
             "sedation": 5, "observation_minutes": 125, "lot_number": "AB12-345", "transport_arranged": True,
             "escort": "Sam Carter"},
            utcnow(), alice,
        )  # fmt: skip
        db.session.commit()
        return user.id, record.id, start


def test_clinician_sees_the_sessions_warning_and_downloads_its_one_page_record(live_server, desktop, network, axe):
    patient_id, session_id, start = _seed_session(live_server)
    page = desktop.new_page()
    page.goto("/login")
    sign_in(page, "alice@clinic.test")
    page.goto(f"/clinician/patients/{patient_id}#sessions")
    page.locator(f'a[href="/clinician/patients/{patient_id}/sessions/{session_id}"]').click()
    warnings = page.get_by_role("region", name="Measures to look at again")
    expect(warnings).to_contain_text("Oxygen saturation after dosing is 88 %, below 90 %")
    expect(page.get_by_label("Sedation at discharge (MOAA/S)")).to_have_value("5")
    expect(page.get_by_label("Transport home arranged")).to_have_value("yes")
    axe(page)

    # The rest of the record: when the SpO2 before dosing was read (on Alice's clock), who monitored, the medication.
    read_at = (start - timedelta(minutes=10)).astimezone(ZoneInfo("America/New_York"))
    page.get_by_label("SpO2 before: time read").fill(read_at.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Monitored by").select_option(label="Alice Adams")
    page.get_by_label("Benzodiazepines").select_option("yes")
    page.get_by_label("Opioids").select_option("no")
    page.get_by_label("Medication relevant to the session").fill("Lorazepam 1 mg at night")
    page.get_by_role("button", name="Save the changes").click()
    page.get_by_label("These values are right: save them as they are").check()  # the SpO2 of 88 % is confirmed
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_text("is saved")).to_be_visible()
    page.locator(f'a[href="/clinician/patients/{patient_id}/sessions/{session_id}"]').click()
    expect(page.get_by_label("Monitored by")).to_have_value(re.compile(r"^\d+$"))
    axe(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download the session record")).click()
    download = download_info.value
    assert download.suggested_filename == f"patient-{patient_id}-session-{session_id}.pdf"
    reader = PdfReader(io.BytesIO(Path(download.path()).read_bytes()))
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    assert "Session record: Robin Record" in text and "Lot number AB12-345" in text
    clock = read_at.astimezone(ZoneInfo("UTC")).strftime("%H:%M")  # the record is on Robin's clock (UTC)
    for expected in (
        f"SpO2 98 % at {clock}", "Healthcare provider conducting the monitoring Alice Adams (alice@clinic.test)",
        "Benzodiazepines Yes", "Opioids No", "Medication relevant to the session Lorazepam 1 mg at night",
    ):  # fmt: skip
        assert expected in text, (expected, text)
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        reads = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.actor_id == alice.id, AuditEvent.action == "session_record.read")
        ).all()
        assert reads == [f"session {session_id}"]
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
