"""Real-browser fixtures: the app served on 127.0.0.1, Debian's Chromium driven by Playwright, axe-core.

The live server is the real app (CSP, CSRF, sessions and all) on a SQLite file built by the real migrations,
answering on a free port of 127.0.0.1; its ``BASE_URL`` is that address, so the invitation links it shows
lead back to it. Every browser context records the requests its pages make, and a test can assert that none
went to another origin.

People on the live server: Alice is a clinician with one patient, Pat; Bob is a clinician colleague; Ada is
the clinic's admin. All of them sign in with ``PASSWORD``.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from journal import create_app
from journal.accounts import PatientDetails, enrol_patient
from journal.db import db, utcnow
from journal.models import Clinic, Role, User
from tests.conftest import make_patient, make_staff, skip_or_fail_in_ci

CHROMIUM = Path("/usr/bin/chromium")
# From docs/TESTING.md: without these Chromium tries to reach outside hosts. The resolver rule sends
# every name but 127.0.0.1 to NOTFOUND, so even a slip in the app cannot leave the machine.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# The narrowest phone the layout promises to fit (static/app.css: "one column at 320 px and up").
NARROW_PHONE = {**PHONE, "viewport": {"width": 320, "height": 640}, "device_scale_factor": 2}

AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


# --- The live server ---------------------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    app: Flask
    clinician_email: str = "alice@clinic.test"

    def user(self, email: str) -> User:
        return db.session.scalar(select(User).where(User.email == email))

    def invite_patient(self, name: str, email: str) -> str:
        """Enrol a patient on Alice's care team directly in the database; return their invitation link."""
        with self.app.app_context():
            clinician = self.user(self.clinician_email)
            details = PatientDetails(name=name, email=email, timezone="Europe/London", substances=["alcohol"])
            _patient, token = enrol_patient(db.session, clinician, details, utcnow(), invitation_days=7)
            db.session.commit()
            return f"{self.url}/invite/{token}"


def _seed(app: Flask) -> None:
    with app.app_context():
        clinic = Clinic(name="Riverside Clinic", created_at=utcnow())
        db.session.add(clinic)
        db.session.flush()
        alice = make_staff(clinic, "alice", "Alice Adams")
        make_staff(clinic, "bob", "Bob Brown")
        make_staff(clinic, "ada", "Ada Admin", Role.ADMIN)
        make_patient(alice, "pat", "Pat Patient")
        db.session.commit()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, sqlite_template, _cheap_password_hashing) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("live") / "journal.sqlite3"
    shutil.copy(sqlite_template, path)  # built by the real migrations (tests/conftest.py::_upgrade)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            "SECRET_KEY": "browser-test-secret-key",
            "BASE_URL": "http://127.0.0.1",  # replaced below, once the port is known
            "RATELIMIT_ENABLED": False,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url  # invitation links must lead back to this server
    _seed(app)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


# --- The browser -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        skip_or_fail_in_ci("Chromium not installed: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class NetworkLog:
    """Every request the pages of the watched contexts made (documents, styles, icons, fetches, workers),
    and every Content-Security-Policy complaint they printed to the console."""

    origin: str
    requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def watch(self, context) -> None:
        # On the context rather than each page: it also sees pages opened later (pop-ups, new tabs).
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def foreign(self) -> list[str]:
        # A tel: or sms: link hands the number to the phone's dialler or messaging app: no host is contacted.
        handed_to_the_phone = ("tel:", "sms:")
        return [url for url in self.requests if _origin(url) != self.origin and not url.startswith(handed_to_the_phone)]

    def assert_only_own_origin(self) -> None:
        assert self.requests, "no requests were recorded: is the guard attached?"
        foreign = self.foreign()
        assert not foreign, f"requests to another origin than {self.origin}:\n" + "\n".join(foreign)

    def assert_no_csp_violations(self) -> None:
        assert not self.csp_violations, "the page broke its own CSP:\n" + "\n".join(self.csp_violations)


@pytest.fixture
def network(live_server) -> NetworkLog:
    return NetworkLog(origin=live_server.url)


@pytest.fixture
def new_context(browser, live_server, network) -> Iterator[Callable[..., object]]:
    """A factory of fresh contexts (no cookies), watched by ``network``; ``page.goto("/login")`` works."""
    contexts = []

    def open_context(**options):
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(10_000)
        network.watch(context)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def phone(new_context):
    return new_context(**PHONE)


@pytest.fixture
def desktop(new_context):
    return new_context(**DESKTOP)


@pytest.fixture
def narrow_phone(new_context):
    return new_context(**NARROW_PHONE)


# --- Accessibility -----------------------------------------------------------------------------------------
#
# How axe gets into the page: TESTING.md suggests ``page.add_script_tag(path=...)``, but that inserts an
# inline <script>, and the app's CSP (script-src 'self', no 'unsafe-inline') blocks it: Playwright raises
# "Executing inline script violates the following Content Security Policy directive". We do not weaken the
# CSP, and we do not use ``new_context(bypass_csp=True)`` either: that would also hide any real CSP breakage
# (an inline style or script the app itself adds) on exactly the pages we check. Instead the source is
# evaluated with ``page.evaluate``: Playwright runs it through the DevTools protocol (Runtime.evaluate), which
# a page's CSP does not govern, so axe arrives while the page keeps its real policy. axe-core needs no eval
# of its own, and ``NetworkLog.assert_no_csp_violations`` would show it if that ever changed.


def axe_violations(page) -> list[dict]:
    if not AXE_JS.exists():
        skip_or_fail_in_ci("axe-core not installed: run `npm ci` in tests/browser (`make test` does; needs npm)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;undefined")  # "undefined": the value of the script, not a function
    return page.evaluate("() => axe.run()")["violations"]


_axe_cache: dict[str, str] = {}


def _axe_source() -> str:
    if "source" not in _axe_cache:
        _axe_cache["source"] = AXE_JS.read_text(encoding="utf-8")
    return _axe_cache["source"]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        lines.extend(f"    {' '.join(node['target'])}" for node in violation["nodes"])
    return "\n".join(lines)


def assert_accessible(page) -> None:
    """axe-core's rules (WCAG 2 A and AA, best practices) find nothing on the page as it is now."""
    violations = axe_violations(page)
    assert not violations, f"axe-core found problems on {page.url}:\n{describe_violations(violations)}"


@pytest.fixture
def axe() -> Callable[[object], None]:
    """``axe(page)`` asserts the page has no axe-core violations; skips the test early when axe is missing."""
    if not AXE_JS.exists():
        skip_or_fail_in_ci("axe-core not installed: run `npm ci` in tests/browser (`make test` does; needs npm)")
    return assert_accessible
