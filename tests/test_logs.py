"""No log line carries a check-in's answers, a statement's values, a token or a secret link.

The error log is read from a handler on the root logger (as a deployment's would be); the access log from a real
gunicorn started with the journal's logger class, as `make run` starts it.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import journal.api.checkins
from journal.db import db
from journal.logs import redact, safe_traceback
from tests.conftest import bearer

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
NOTE = "Told my sister about the relapse on Friday"
CHECKIN = {
    "mood": 2,
    "cravings": [{"substance": "alcohol", "intensity": 9}],
    "use": [{"substance": "alcohol", "used": True}],
    "note": NOTE,
}


class Collected(logging.Handler):
    """Every record that reaches the root logger, formatted in full (message and traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def logged():
    handler = Collected()
    root = logging.getLogger()
    engine_logger = logging.getLogger("sqlalchemy.engine")
    levels = root.level, engine_logger.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    engine_logger.setLevel(logging.INFO)  # every statement logged, as echo=True would
    yield handler
    root.removeHandler(handler)
    root.setLevel(levels[0])
    engine_logger.setLevel(levels[1])


class TestAFailedCheckIn:
    @pytest.fixture
    def app_config(self, app_config):
        # Not TESTING: the unexpected error is then answered 500 and logged, as in production.
        return {**app_config, "TESTING": False}

    @pytest.fixture
    def refused_by_the_database(self, monkeypatch):
        """The check-in row reaches the database without its report mode, which the database refuses (NOT NULL):
        a real IntegrityError over a row holding every answer (PostgreSQL's message quotes the whole row)."""
        original = journal.api.checkins.save_checkin

        def save_checkin(*args, **kwargs):
            checkin, created = original(*args, **kwargs)
            checkin.report_mode = None
            return checkin, created

        monkeypatch.setattr(journal.api.checkins, "save_checkin", save_checkin)

    def test_the_error_log_of_a_failed_check_in_holds_none_of_its_answers(
        self, client, people, logged, refused_by_the_database
    ):
        day = datetime.now(ZoneInfo(people.pat.timezone)).date()
        response = client.put(f"/api/v1/checkins/{day}", json=CHECKIN, headers=bearer(client, people.pat))

        assert response.status_code == 500
        errors = [line for line in logged.lines if line.startswith("journal.errors ERROR")]
        assert len(errors) == 1
        assert "IntegrityError" in errors[0] and "Traceback" in errors[0]  # still says what failed, and where
        assert "/api/v1/checkins/<day>" in errors[0]
        assert "INSERT INTO checkin" in logged.text  # the statements were logged ...
        assert NOTE not in logged.text  # ... but never the values bound to them
        assert "Failing row contains" not in logged.text
        assert "[parameters:" not in logged.text
        assert "SQL parameters hidden" in logged.text


def test_a_database_errors_logged_form_holds_neither_its_parameters_nor_the_row_it_refused(app, people):
    with pytest.raises(IntegrityError) as failure:  # NOT NULL columns left out: refused, with the row
        db.session.execute(text("INSERT INTO user_account (id, email) VALUES (:id, :email)"), {"id": 1, "email": NOTE})
    db.session.rollback()

    assert "SQL parameters hidden" in str(failure.value)  # the engine hides what was bound ...
    logged = safe_traceback(failure.value)  # ... and the log leaves out the driver's message (PostgreSQL quotes
    assert NOTE not in logged  # the refused row in it)
    assert "INSERT INTO user_account" in logged and "IntegrityError" in logged


def test_redact_hides_every_token_in_a_secret_path_or_query():
    assert redact("GET /invite/abcDEF123_-x HTTP/1.1") == "GET /invite/[redacted] HTTP/1.1"
    assert redact("POST /api/v1/invitations/tok?x=1") == "POST /api/v1/invitations/[redacted]?x=1"
    assert redact("/password-reset/tok/") == "/password-reset/[redacted]/"
    assert redact("/api/v1/auth/password-reset/tok") == "/api/v1/auth/password-reset/[redacted]"
    assert redact("https://journal.test/m/0123abcd") == "https://journal.test/m/[redacted]"
    assert redact("/login?next=/home&token=abc") == "/login?next=/home&token=[redacted]"
    assert redact("GET /api/v1/me HTTP/1.1") == "GET /api/v1/me HTTP/1.1"
    assert redact("/clinician/patients/12/sessions") == "/clinician/patients/12/sessions"


# --- gunicorn's access log -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn_with_access_log(database_url: str, access_log: Path, log_format: str | None = None):
    """``gunicorn wsgi:app`` as `make run` starts it (its logger class, an access log), on 127.0.0.1."""
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("JOURNAL_")}
    env.update(
        JOURNAL_DATABASE_URL=database_url,
        JOURNAL_SECRET_KEY="test-secret-key",
        JOURNAL_RATELIMIT_ENABLED="false",
        JOURNAL_BASE_URL=f"http://127.0.0.1:{port}",
    )
    command = [
        str(GUNICORN), "wsgi:app", "--workers", "1", "--bind", f"127.0.0.1:{port}", "--no-control-socket",
        "--access-logfile", str(access_log), "--logger-class", "journal.logs.GunicornLogger",
    ]  # fmt: skip
    if log_format:
        command += ["--access-logformat", log_format]
    output = access_log.with_suffix(".out")
    with output.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited ({process.returncode}):\n{output.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{output.read_text()}")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _request(port: int, method: str, path: str, headers: dict | None = None, body: str | None = None) -> int:
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=30)) as connection:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status


def _wait_for_lines(path: Path, count: int) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            break
        time.sleep(0.1)
    return path.read_text()


@pytest.mark.parametrize("log_format", [None, '%(h)s "%(r)s" %(s)s "%(f)s" "%({authorization}i)s" %(U)s?%(q)s'])
def test_gunicorns_access_log_holds_no_token_or_secret_link(sqlite_template, tmp_path, log_format):
    database = tmp_path / "journal.sqlite3"
    shutil.copy(sqlite_template, database)
    access_log = tmp_path / "access.log"
    secrets = {name: f"{name}Secret{n:02d}xyz" for n, name in enumerate(["invite", "api", "reset", "open", "query"])}

    with gunicorn_with_access_log(f"sqlite:///{database}", access_log, log_format) as port:
        referrer = {"Referer": f"http://127.0.0.1:{port}/invite/{secrets['invite']}"}
        _request(port, "GET", f"/invite/{secrets['invite']}", referrer)
        _request(
            port,
            "POST",
            f"/api/v1/invitations/{secrets['api']}",
            {"Content-Type": "application/json", "Authorization": "Bearer bearerSecretToken99"},
            '{"password": "a long enough password"}',
        )
        _request(port, "GET", f"/password-reset/{secrets['reset']}")
        _request(port, "GET", f"/m/{secrets['open']}")
        _request(port, "GET", f"/login?token={secrets['query']}")
        log = _wait_for_lines(access_log, 5)

    assert len(log.splitlines()) == 5, log
    for secret in [*secrets.values(), "bearerSecretToken99"]:
        assert secret not in log
    assert "/invite/[redacted]" in log and "/api/v1/invitations/[redacted]" in log
    assert "/password-reset/[redacted]" in log and "/m/[redacted]" in log and "token=[redacted]" in log


def test_delivering_an_invitation_logs_neither_its_link_nor_its_token(app, people, logged):
    from journal.accounts import create_invitation, create_staff
    from journal.models import Role
    from journal.scheduled import deliver_messages
    from tests.conftest import NOW

    dee = create_staff(
        db.session, people.clinic.id, email="dee@clinic.test", name="Dee", role=Role.CLINICIAN,
        timezone="UTC", now=NOW,
    )  # fmt: skip
    token = create_invitation(db.session, dee, people.ada, NOW, 7)
    db.session.commit()

    deliver_messages(NOW)  # no SMTP server configured: the development log channel "sends" it

    assert "outbox message" in logged.text and "dee@clinic.test" in logged.text  # it was delivered, to the log
    assert token not in logged.text and "/invite/" not in logged.text
