"""The clinician's review before a session, on a desktop in Chromium: the triage dashboard, then one
patient's page with its charts, then the visit report as a PDF download; axe-core finds nothing on the pages,
and nothing is loaded from another origin."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from journal.alerts import raise_alert
from journal.assessments import set_baseline, submit
from journal.db import db, utcnow
from journal.models import AuditEvent
from journal.sessions import save_session
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def _seed_history(live_server) -> str:
    """A patient of Alice's with a month of check-ins, a series of sessions, two PHQ-9s and an open alert."""
    from journal.checkins import save_checkin

    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        user = make_patient(alice, "morgan", "Morgan Review", zone="UTC")
        user.activated_at = utcnow() - timedelta(days=40)
        patient = user.patient
        now = utcnow()
        for back in range(30, 0, -1):
            day = (now - timedelta(days=back)).date()
            if back % 6:
                save_checkin(
                    db.session, patient, day,
                    {"mood": 3 + (30 - back) // 6, "cravings": [{"substance": "alcohol", "intensity": 5}],
                     "use": [{"substance": "alcohol", "used": False}]},
                    now - timedelta(days=back - 1, hours=-1), user,
                )  # fmt: skip
        for back in (21, 18, 15):
            save_session(
                db.session, patient,
                {"status": "given", "start": now - timedelta(days=back), "route": "iv", "product": "Racemic ketamine",
                 "dose": 0.5, "dose_unit": "mg/kg", "course": "induction"},
                now, alice,
            )  # fmt: skip
        # Item 9 stays 0: a positive one would put a high-priority alert in the shared live server's inboxes.
        first = {"instrument": "phq9", "answers": [2] * 8 + [0]}  # 16
        baseline, _ = submit(db.session, patient, first, now - timedelta(days=23), user)
        later = {"instrument": "phq9", "answers": [1] * 8 + [0]}  # 8: exactly half the baseline
        submit(db.session, patient, later, now - timedelta(days=2), user)
        set_baseline(db.session, patient, baseline.id, alice, now)
        raise_alert(
            db.session, now, patient_id=user.id, kind="craving", severity="medium",
            reason="Strongest craving 7/10 or more on 3 days in a row.", dedup_key=f"review:{user.id}",
        )  # fmt: skip
        db.session.commit()
        return user.name


def test_clinician_opens_dashboard_then_patient_charts_then_downloads_the_visit_report(
    live_server, desktop, network, axe
):
    name = _seed_history(live_server)
    page = desktop.new_page()
    page.goto("/login")
    sign_in(page, "alice@clinic.test")
    expect(page).to_have_url(re.compile(r"/clinician/dashboard$"))
    table = page.get_by_role("table")
    row = table.get_by_role("row").filter(has_text=name)
    expect(row).to_be_visible()
    expect(row.get_by_role("img")).to_have_attribute("aria-label", re.compile("mood", re.I))  # the sparkline
    axe(page)

    row.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    for chart in ("outcomes", "assessments", "adherence"):
        selector = f'img[src*="/charts/{chart}.png"]'
        expect(page.locator(selector)).to_have_attribute("alt", re.compile(r"\w+"))
        # The picture arrived and decoded: a broken image has no natural width.
        page.wait_for_function(
            "selector => { const img = document.querySelector(selector);"
            " return img && img.complete && img.naturalWidth > 0; }",
            arg=selector,
        )
    summary = page.get_by_role("region", name="Summary")
    expect(summary).to_contain_text("Yes: 8 against the baseline of 16 (50.0 % lower)")  # exactly 50 % (PHQ-R9)
    expect(summary).to_contain_text("15 days since the last session")
    axe(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Visit report (PDF)").click()
    download = download_info.value
    assert re.fullmatch(r"patient-\d+-\d{4}-\d{2}-\d{2}\.pdf", download.suggested_filename)
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        downloads = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_id == alice.id, AuditEvent.action == "report.read")
        ).all()
        assert downloads == ["report.read"]
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
