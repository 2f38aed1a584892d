"""Faults a deployment meets, with real parts: a gunicorn worker killed in the middle of a check-in, and a SQLite
file whose write lock another connection holds.

- A worker SIGKILLed while it is inside a check-in's transaction (blocked on a lock the test holds, so the kill
  lands there every time) loses the request; the phone tries again, as a real client does, and every check-in
  the server acknowledged is stored once with the answers sent, while other phones go on checking in.
- A check-in that meets another writer's lock waits for it (SQLite's busy handler) and succeeds once the lock is
  released; a lock held past the busy timeout answers a clean 503 with Retry-After (JSON from the API, the error
  page from a form) and writes nothing; the same request succeeds after the lock is released.

Every wait is bounded and generous (the machines have two cores, shared); nothing asserts how long anything took.
The process and lock helpers read Linux's /proc.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, func, select

from journal.accounts import issue_api_token
from journal.checkins import local_today
from journal.db import db, utcnow
from journal.errors import PAGE_MESSAGES
from journal.models import Alert, CheckIn, Clinic, CravingRating, Patient, SubstanceUse, User
from tests.conftest import bearer, csrf_token, make_patient, make_staff

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")  # the venv's console script, beside its python
SECRET_KEY = "test-secret-key"

START_TIMEOUT = 90.0  # gunicorn and its workers importing the app, on a busy machine
WAIT_TIMEOUT = 60.0  # for anything the test waits to see
REQUEST_TIMEOUT = 60.0  # one HTTP request
PHONE_DEADLINE = 180.0  # a phone gives up retrying one check-in after this long

LOAD_PHONES = 4
PATIENTS_PER_PHONE = 2
DAYS_BACK = range(1, 7)  # yesterday to six days back: still within the 7-day back-fill if the test crosses midnight


@pytest.fixture
def busy_timeout_ms() -> int:
    return 5000


@pytest.fixture
def app_config(app_config, busy_timeout_ms) -> dict:
    return {**app_config, "SQLITE_BUSY_TIMEOUT_MS": busy_timeout_ms}


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"not there after {timeout} s: {what}")
        time.sleep(0.01)


def answers(n: int) -> dict:
    """The n-th check-in's answers, different for every n, with its own submission id."""
    return {
        "mood": n % 11,
        "cravings": [{"substance": "alcohol", "intensity": n % 4}],
        "use": [{"substance": "alcohol", "used": False}],
        "note": f"check-in number {n}",
        "submission_id": f"phone-submission-{n:04d}",
    }


def stored_answers(checkin: CheckIn) -> dict:
    """A stored check-in in the shape of ``answers``."""
    return {
        "mood": checkin.mood,
        "cravings": [{"substance": row.substance, "intensity": row.intensity} for row in checkin.cravings],
        "use": [{"substance": row.substance, "used": row.used} for row in checkin.uses],
        "note": checkin.note,
        "submission_id": checkin.submission_id,
    }


def days_stored_twice() -> list:
    return db.session.execute(
        select(CheckIn.patient_id, CheckIn.local_date)
        .group_by(CheckIn.patient_id, CheckIn.local_date)
        .having(func.count() > 1)
    ).all()


# --- Processes, seen through /proc ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> set[int]:
    """The live (not zombie) child processes of ``pid``, as `pgrep -P` finds them."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name, in parentheses, may hold anything: the fields after its last ")" are fixed.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def server_socket_inode(server_port: int, client_port: int) -> int:
    """The inode of the server's end of a loopback connection; 0 while it waits in the accept queue."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            return int(fields[9])
    return 0


def holds_socket(pid: int, inode: int) -> bool:
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{descriptor}") == f"socket:[{inode}]":
                return True
        except OSError:
            continue
    return False


def in_a_timed_sleep(task: str) -> bool:
    """Whether a process or thread (a /proc path) sleeps in nanosleep: what SQLite's busy handler does between
    its attempts at a lock."""
    try:
        return "nanosleep" in Path(task, "wchan").read_text()
    except OSError:
        return False


@dataclass
class Gunicorn:
    process: subprocess.Popen
    port: int
    log: Path

    def workers(self) -> set[int]:
        return children(self.process.pid)

    def worker_serving(self, connection: http.client.HTTPConnection) -> int:
        """The worker that accepted this connection: the one holding the server's end of it."""
        client_port = connection.sock.getsockname()[1]
        found: list[int] = []

        def accepted() -> bool:
            inode = server_socket_inode(self.port, client_port)
            found[:] = [pid for pid in self.workers() if inode and holds_socket(pid, inode)]
            return bool(found)

        wait_for(accepted, "a worker accepting the connection")
        (worker,) = found
        return worker


@contextmanager
def gunicorn(database_url: str, log: Path, settings: dict[str, str] | None = None) -> Iterator[Gunicorn]:
    """``gunicorn wsgi:app`` with two sync workers on 127.0.0.1, on an already migrated database; ``settings``
    (``JOURNAL_*`` variables) override the defaults here, which turn the rate limits off."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("JOURNAL_")}
    env.update(
        JOURNAL_DATABASE_URL=database_url,
        JOURNAL_SECRET_KEY=SECRET_KEY,
        JOURNAL_RATELIMIT_ENABLED="false",
        JOURNAL_BASE_URL=f"http://127.0.0.1:{port}",
    )
    env.update(settings or {})
    command = [
        str(GUNICORN), "wsgi:app", "--workers", "2", "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
        "--no-control-socket", "--timeout", "120", "--log-level", "warning",
        "--logger-class", "journal.logs.GunicornLogger",
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = Gunicorn(process, port, log)
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
            try:
                with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)) as probe:
                    probe.request("GET", "/healthz")
                    return probe.getresponse().status == 200
            except OSError:
                return False

        wait_for(healthy, "gunicorn answering /healthz", START_TIMEOUT)
        wait_for(lambda: len(server.workers()) == 2, "two workers", START_TIMEOUT)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- A phone ---------------------------------------------------------------------------------------------------


def open_put(port: int, token: str, day: date, body: dict) -> http.client.HTTPConnection:
    """Send PUT /api/v1/checkins/{day}; the answer is left to read from the returned connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    connection.request(
        "PUT",
        f"/api/v1/checkins/{day.isoformat()}",
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return connection


@dataclass
class Phone:
    """A patient's app sending check-ins as the API invites: on a dropped connection or a 5xx it sends the same body
    (same submission id) again, after the Retry-After the server asked for."""

    port: int
    attempts: list[int | str] = field(default_factory=list)  # each attempt's status, or the error's name

    def send(self, token: str, day: date, body: dict) -> int:
        deadline = time.monotonic() + PHONE_DEADLINE
        while True:
            pause = 0.1
            try:
                with closing(open_put(self.port, token, day, body)) as connection:
                    response = connection.getresponse()
                    response.read()
            except (OSError, http.client.HTTPException) as error:
                self.attempts.append(type(error).__name__)
            else:
                self.attempts.append(response.status)
                if response.status < 500:
                    return response.status
                pause = min(float(response.getheader("Retry-After") or pause), 5.0)
            if time.monotonic() + pause > deadline:
                pytest.fail(f"no answer but failures for {day} after {PHONE_DEADLINE} s: {self.attempts}")
            time.sleep(pause)


@dataclass(frozen=True)
class Acknowledged:
    patient_id: int
    day: date
    body: dict
    status: int
    sent_after_fault: bool


# --- Another writer's lock ---------------------------------------------------------------------------------------


def sqlite_path(database_url: str) -> str:
    return database_url.removeprefix("sqlite:///")


@contextmanager
def sqlite_write_lock(database_url: str) -> Iterator[Callable[[], None]]:
    """Another connection in BEGIN IMMEDIATE: it holds SQLite's write lock, which every writer must wait for
    (readers go on, in WAL mode). Yields a function that releases it early."""
    with closing(sqlite3.connect(sqlite_path(database_url), isolation_level=None, timeout=WAIT_TIMEOUT)) as holder:
        holder.execute("BEGIN IMMEDIATE")

        def release() -> None:
            if holder.in_transaction:
                holder.execute("ROLLBACK")

        try:
            yield release
        finally:
            release()


class CheckInBlockedMidWrite:
    """Holds what a check-in for ``patient_id`` will wait on, in the middle of its transaction, until ``release``.

    SQLite: the write lock (as above), so the request waits in SQLite's busy handler at its first write.
    PostgreSQL: the patient's row, FOR NO KEY UPDATE: the check-in's INSERT goes through (its foreign-key check
    takes only a KEY SHARE lock), and the UPDATE of the patient's data version then waits, with the row inserted
    and not committed."""

    def __init__(self, database_url: str, patient_id: int) -> None:
        self.database_url = database_url
        self.sqlite = database_url.startswith("sqlite")
        if self.sqlite:
            self.holder = sqlite3.connect(sqlite_path(database_url), isolation_level=None, timeout=WAIT_TIMEOUT)
            self.holder.execute("BEGIN IMMEDIATE")
        else:
            self.holder = psycopg.connect(database_url)
            self.holder.execute("SELECT 1 FROM patient WHERE user_id = %s FOR NO KEY UPDATE", (patient_id,))

    def waits(self, worker: int) -> bool:
        """Whether the check-in being handled by ``worker`` is waiting on this lock, inside its transaction."""
        if self.sqlite:
            return in_a_timed_sleep(f"/proc/{worker}")
        # A separate connection: pg_stat_activity is read once per transaction.
        with psycopg.connect(self.database_url, autocommit=True) as observer:
            waiting = observer.execute(
                """
                SELECT count(*) FROM pg_stat_activity AS a
                WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
                  AND a.query LIKE 'UPDATE patient %'
                  AND EXISTS (
                      SELECT 1 FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation
                      WHERE l.pid = a.pid AND c.relname = 'checkin' AND l.mode = 'RowExclusiveLock' AND l.granted
                  )
                """
            ).fetchone()[0]
        return waiting >= 1

    def release(self) -> None:
        if self.sqlite:
            if self.holder.in_transaction:
                self.holder.execute("ROLLBACK")
        else:
            self.holder.rollback()
        self.holder.close()


# --- A worker killed mid-check-in --------------------------------------------------------------------------------


def enrol_patients_with_tokens(count: int) -> list[tuple[int, str]]:
    """``count`` patients of one clinician, in Chicago, each with a bearer token: (user id, token)."""
    clinic = Clinic(name="Hillside Clinic", created_at=utcnow())
    db.session.add(clinic)
    db.session.flush()
    clinician = make_staff(clinic, "casey", "Casey Carer")
    patients = [make_patient(clinician, f"phone{n:02d}", f"Phone Patient {n:02d}") for n in range(count)]
    tokens = [issue_api_token(db.session, patient, utcnow(), hours=12)[0] for patient in patients]
    db.session.commit()
    return [(patient.id, token) for patient, token in zip(patients, tokens, strict=True)]


def test_a_worker_killed_mid_check_in_loses_no_acknowledged_check_in_and_stores_none_twice(app, database_url, tmp_path):
    patients = enrol_patients_with_tokens(1 + LOAD_PHONES * PATIENTS_PER_PHONE)
    today = local_today(db.session.get(User, patients[0][0]), utcnow())
    (killed_patient_id, killed_token), load_patients = patients[0], patients[1:]
    killed_day, killed_body = today - timedelta(days=1), answers(0)
    acknowledged: list[Acknowledged] = []
    fault_over = threading.Event()

    def phone_of(server: Gunicorn, index: int) -> Phone:
        """One phone shared by two patients, back-filling their last six days; its last check-in waits until
        the fault is over, so that the load goes on past it."""
        phone = Phone(server.port)
        mine = load_patients[index * PATIENTS_PER_PHONE : (index + 1) * PATIENTS_PER_PHONE]
        plan = [(patient, token, back) for back in DAYS_BACK for patient, token in mine]
        for number, (patient, token, back) in enumerate(plan):
            if number == len(plan) - 1 and not fault_over.wait(WAIT_TIMEOUT * 3):
                pytest.fail("the fault never happened")
            after = fault_over.is_set()
            day, body = today - timedelta(days=back), answers(patient * 10 + back)
            status = phone.send(token, day, body)
            acknowledged.append(Acknowledged(patient, day, body, status, after))
        return phone

    with gunicorn(database_url, tmp_path / "gunicorn.log") as server, ThreadPoolExecutor(LOAD_PHONES) as pool:
        running = [pool.submit(phone_of, server, n) for n in range(LOAD_PHONES)]

        def phone_stopped() -> bool:
            return any(future.done() for future in running)

        try:
            wait_for(lambda: len(acknowledged) >= LOAD_PHONES or phone_stopped(), "check-ins before the fault")
            for future in running:  # a phone that stopped early has failed: say why
                if future.done():
                    future.result()
            workers_before = server.workers()

            lock = CheckInBlockedMidWrite(database_url, killed_patient_id)
            try:
                doomed = open_put(server.port, killed_token, killed_day, killed_body)
                worker = server.worker_serving(doomed)
                wait_for(lambda: lock.waits(worker), "the worker's check-in waiting inside its transaction")
                os.kill(worker, signal.SIGKILL)
            finally:
                lock.release()
            with pytest.raises(ConnectionError):  # the connection closes with no answer (reset or end of stream)
                doomed.getresponse()
            doomed.close()
            wait_for(lambda: len(server.workers() - {worker}) == 2, "gunicorn replacing the killed worker")
            workers_after = server.workers()
        finally:
            fault_over.set()

        # The phone whose check-in was lost sends it again, as it would.
        retry = Phone(server.port)
        retried_status = retry.send(killed_token, killed_day, killed_body)
        phones = [future.result() for future in running]
    log = server.log.read_text()

    # The fault was real: the worker holding the check-in mid-transaction died and another took its place; the
    # request got no answer, and the retry created the day, so the killed attempt left nothing behind.
    (survivor,) = workers_before - {worker}
    assert worker in workers_before and worker not in workers_after
    assert survivor in workers_after and len(workers_after) == 2
    assert f"Worker (pid:{worker}) was sent SIGKILL" in log
    assert retried_status == 201, retry.attempts
    # Other phones checked in on both sides of it.
    assert sum(not ack.sent_after_fault for ack in acknowledged) >= LOAD_PHONES
    assert sum(ack.sent_after_fault for ack in acknowledged) >= LOAD_PHONES

    # Every check-in was acknowledged (after retries), none with a server error, and the log holds no traceback.
    assert len(acknowledged) == len(load_patients) * len(DAYS_BACK)
    assert {ack.status for ack in acknowledged} <= {200, 201}
    assert 500 not in [attempt for phone in [*phones, retry] for attempt in phone.attempts]
    assert "Traceback" not in log, log

    # Each acknowledged check-in is stored exactly once, with the answers sent; nothing else is stored.
    db.session.rollback()
    expected = {(ack.patient_id, ack.day): ack.body for ack in acknowledged}
    expected[(killed_patient_id, killed_day)] = killed_body
    stored = db.session.scalars(select(CheckIn)).all()
    assert days_stored_twice() == []
    assert len(stored) == len(expected)
    assert {(row.patient_id, row.local_date): stored_answers(row) for row in stored} == expected

    retried = [attempt for phone in phones for attempt in phone.attempts if attempt not in (200, 201)]
    print(f"\nkilled worker {worker}; load attempts that failed and were retried: {retried}")


# --- SQLite busy or locked -------------------------------------------------------------------------------------

FORM = {"mood": "4", "craving-alcohol": "2", "used-alcohol": "no", "note": "written while the file was locked"}


def what_a_check_in_writes(patient: User) -> tuple:
    """What a check-in would have written: its rows, its children, any alert and the patient's data version."""
    db.session.rollback()
    return (
        db.session.scalar(select(func.count()).select_from(CheckIn)),
        db.session.scalar(select(func.count()).select_from(CravingRating)),
        db.session.scalar(select(func.count()).select_from(SubstanceUse)),
        db.session.scalar(select(func.count()).select_from(Alert)),
        db.session.scalar(select(Patient.data_version).where(Patient.user_id == patient.id)),
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("busy_timeout_ms", [120_000])
def test_a_check_in_waits_for_another_writers_lock_and_is_saved_once_it_is_released(app, client, people):
    headers = bearer(client, people.pat)
    day = local_today(people.pat, utcnow())
    writers: list[int] = []

    def note_the_writer(_connection, _cursor, statement, *_args) -> None:
        if statement.startswith("INSERT INTO checkin "):
            writers.append(threading.get_native_id())

    event.listen(db.engine, "before_cursor_execute", note_the_writer)
    try:
        with sqlite_write_lock(app.config["DATABASE_URL"]) as release, ThreadPoolExecutor(1) as pool:
            put = pool.submit(client.put, f"/api/v1/checkins/{day}", json=answers(7), headers=headers)
            wait_for(lambda: writers, "the check-in reaching its INSERT")
            # It is in SQLite's busy handler, sleeping between attempts at the lock, and has not answered.
            wait_for(lambda: in_a_timed_sleep(f"/proc/self/task/{writers[0]}"), "the INSERT waiting for the lock")
            assert not put.done()
            release()
            response = put.result(timeout=WAIT_TIMEOUT)
    finally:
        event.remove(db.engine, "before_cursor_execute", note_the_writer)

    assert response.status_code == 201, response.get_json()
    db.session.rollback()
    (stored,) = db.session.scalars(select(CheckIn)).all()
    assert (stored.local_date, stored_answers(stored)) == (day, answers(7))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("busy_timeout_ms", [200])
def test_a_lock_held_past_the_busy_timeout_answers_503_with_retry_after_and_writes_nothing(app, client, auth, people):
    assert db.session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 200  # the setting applies
    headers = bearer(client, people.pat)
    auth.login(people.pat)
    form = {**FORM, "csrf_token": csrf_token(client, "/help"), "submission_id": "form-while-locked"}
    today = local_today(people.pat, utcnow())
    yesterday = today - timedelta(days=1)
    before = what_a_check_in_writes(people.pat)

    with sqlite_write_lock(app.config["DATABASE_URL"]):
        api = client.put(f"/api/v1/checkins/{today}", json=answers(3), headers=headers)
        page = client.post(f"/checkin/{yesterday}", data=form)
        assert what_a_check_in_writes(people.pat) == before

    assert (api.status_code, api.headers["Retry-After"]) == (503, "2")
    assert api.get_json() == {"code": 503, "status": "Service Unavailable", "message": PAGE_MESSAGES[503]}
    assert (page.status_code, page.headers["Retry-After"], page.mimetype) == (503, "2", "text/html")
    text = page.get_data(as_text=True)
    assert PAGE_MESSAGES[503] in text
    for body in (api.get_data(as_text=True), text):
        assert "Traceback" not in body and "locked" not in body and "OperationalError" not in body
    assert what_a_check_in_writes(people.pat) == before

    # Released: the very same requests go through, and each day is stored once.
    again = client.put(f"/api/v1/checkins/{today}", json=answers(3), headers=headers)
    assert again.status_code == 201, again.get_json()
    page_again = client.post(f"/checkin/{yesterday}", data=form)
    assert (page_again.status_code, page_again.location) == (302, f"/checkin/{yesterday}/saved")
    db.session.rollback()
    stored = {row.local_date: row for row in db.session.scalars(select(CheckIn))}
    assert sorted(stored) == [yesterday, today]
    assert stored_answers(stored[today]) == answers(3)
    assert (stored[yesterday].mood, stored[yesterday].note) == (4, FORM["note"])
    assert days_stored_twice() == []
