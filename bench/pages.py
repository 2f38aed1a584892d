"""Patient pages as transferred on a first visit, measured in Debian's Chromium (headless, nothing leaves
127.0.0.1): the page and everything it loads, header bytes plus body bytes, with an empty cache and the
service worker blocked (so it is the page's own weight, not the offline copies the worker adds once). Compressed
bodies (the stylesheet and scripts) count as sent, encoded; the rest by their length."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from werkzeug.serving import make_server

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE

PASSWORD = "bench password 1"


def _seed(app) -> tuple[str, str]:
    from journal.accounts import PatientDetails, accept_invitation, create_staff, enrol_patient
    from journal.db import db
    from journal.models import Clinic, Role

    now = datetime.now(UTC)
    with app.app_context():
        clinic = Clinic(name="Bench Clinic", created_at=now)
        db.session.add(clinic)
        db.session.flush()
        clinician = create_staff(
            db.session, clinic.id, email="c@bench.test", name="C", role=Role.CLINICIAN, timezone="UTC", now=now,
            password=PASSWORD,
        )  # fmt: skip
        details = PatientDetails(
            name="Pat Bench", email="pat@bench.test", timezone="Asia/Tokyo", substances=["alcohol"], tracks_pain=True
        )
        user, token = enrol_patient(db.session, clinician, details, now - timedelta(days=3), invitation_days=7)
        accept_invitation(db.session, token, PASSWORD, now - timedelta(days=3))
        db.session.commit()
        return user.email, now.astimezone(ZoneInfo("Asia/Tokyo")).date().isoformat()


def _origin(url: str) -> str | None:
    """scheme://host:port, or None for a link that is not a request (data:, tel:, sms:)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https", "ws", "wss") else None


def _transferred(request) -> int:
    """Header bytes plus body bytes as sent: the encoded size for a compressed body (CSS, JavaScript), the
    body's length otherwise (as tests/browser/test_checkin_flow.py measures the check-in page)."""
    response = request.response()
    sizes = request.sizes()
    if response is None or response.status in (204, 304):
        return sizes["responseHeadersSize"]
    if response.header_value("content-encoding"):
        return sizes["responseHeadersSize"] + sizes["responseBodySize"]
    return sizes["responseHeadersSize"] + len(response.body())


def measure_patient_pages(database_url: str) -> list[tuple[str, int, int]]:
    from playwright.sync_api import sync_playwright

    from bench.run import app_for

    app = app_for(database_url)
    email, today = _seed(app)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request in the bench's output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    origin = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pages = ["/home", f"/checkin/{today}", "/assessments/phq9", "/settings/reminders", "/help", "/offline"]
    results = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            signing_in = browser.new_context(base_url=origin, **PHONE)
            page = signing_in.new_page()
            page.goto("/login")
            page.get_by_label("E-mail address").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/home")
            state = signing_in.storage_state()
            signing_in.close()
            for path in pages:
                context = browser.new_context(base_url=origin, storage_state=state, service_workers="block", **PHONE)
                requests, finished = [], []
                # Every request counts towards "other origins", also one that failed (no response at all).
                context.on("request", lambda request, seen=requests: seen.append(request.url))
                context.on("requestfinished", lambda request, done=finished: done.append(request))
                visit = context.new_page()
                visit.goto(path, wait_until="networkidle")
                foreign = sum(1 for url in requests if _origin(url) not in (origin, None))
                total = sum(_transferred(request) for request in finished if _origin(request.url) == origin)
                results.append((path, total, foreign))
                context.close()
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
    return results
