"""Exactly-once delivery with real processes: `flask --app wsgi jobs run-once` started as separate operating-system
processes against the test's database, sending to a real SMTP server (aiosmtpd) in this test process.

Acceptance points of the issue "scheduler, outbox and reminders that arrive exactly once":
- two run-once processes started together deliver every message exactly once;
- a run killed mid-delivery, then restarted after the claim's lease, delivers every message exactly once;
- with the SMTP server down, messages wait (with backoff) and are delivered once it is back.

What arrived is counted at the SMTP server by Message-ID (derived from the outbox's dedup key) and by recipient,
and compared with the outbox rows. Every wait is bounded; processes and servers are stopped in ``finally``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from itertools import pairwise
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from journal.channels import SmtpChannel
from journal.db import db
from journal.models import Clinic, OutboxMessage, OutboxStatus
from journal.outbox import LEASE, backoff
from tests.conftest import NOW, make_patient, make_staff, questionnaires_done

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).with_name("flask")  # the venv's console script, beside its python
SECRET_KEY = "test-secret-key"
MAIL_DOMAIN = "journal.test"
MAIL_ADDRESS = f"no-reply@{MAIL_DOMAIN}"

# 20:30 in Chicago (the patients' zone) on 2 March 2026, the day they were activated: past the default reminder
# time of 20:00, no check-in yet, and the reminders expire at local midnight (06:00 UTC), well after every run here.
RUN_AT = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)

PROCESS_TIMEOUT = 60.0  # seconds for one run-once process, start-up included
GATE_TIMEOUT = 15.0  # below SmtpChannel's 20-second socket timeout, so a gated client never gives up
HOLD_TIMEOUT = 30.0


def free_port() -> int:
    """A port nothing listens on (aiosmtpd's Controller cannot be given port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def message_id(dedup_key: str) -> str:
    """The Message-ID the SMTP channel gives an outbox message (it depends only on the key and the domain)."""
    return SmtpChannel("smtp://127.0.0.1:25", f"Journal <{MAIL_ADDRESS}>").message_id(dedup_key)


# --- The SMTP server ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """One message the server answered 250 to."""

    message_id: str
    recipient: str
    sender: str  # the From header's display name: which run-once process sent it
    at: float  # time.monotonic() when accepted


class Mailbox:
    """An aiosmtpd handler that records every message it accepts, and can be told to

    - take ``delay`` seconds over each DATA, so that concurrent senders overlap;
    - hold every message at a starting gate until DATA has arrived from each sender named in ``gate_for``, so that
      both processes are provably inside their delivery loops at the same time;
    - hang on the ``hold_nth`` DATA (1-based) and never answer 250 to it: the client goes away (it is killed) or,
      after ``HOLD_TIMEOUT``, gets 451.

    Handlers run on the controller's event loop thread; the test thread reads the lists under ``lock``.
    """

    def __init__(self, *, delay: float = 0.0, gate_for: frozenset[str] = frozenset(), hold_nth: int | None = None):
        self.lock = threading.Lock()
        self.accepted: list[Accepted] = []
        self.abandoned: list[str] = []  # Message-IDs whose DATA arrived but were never accepted
        self.delay = delay
        self.gate_for = gate_for
        self.at_gate: set[str] = set()
        self.hold_nth = hold_nth
        self.data_count = 0
        self.holding = threading.Event()  # set while the server hangs on the held message
        self.abandoned_event = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        sender = parseaddr(message["From"])[0]
        with self.lock:
            self.data_count += 1
            nth = self.data_count
            self.at_gate.add(sender)
        if nth == self.hold_nth:
            return await self._hold(message["Message-ID"])
        if self.gate_for:
            await _until(lambda: self.gate_for <= self.at_gate, GATE_TIMEOUT)
        if self.delay:
            await asyncio.sleep(self.delay)
        (recipient,) = envelope.rcpt_tos
        with self.lock:
            self.accepted.append(Accepted(message["Message-ID"], recipient, sender, time.monotonic()))
        return "250 Message accepted for delivery"

    async def _hold(self, held_id: str) -> str:
        self.holding.set()
        try:
            # aiosmtpd cancels this coroutine when the client's connection is lost (here: it was SIGKILLed).
            await _until(lambda: False, HOLD_TIMEOUT)
        finally:
            with self.lock:
                self.abandoned.append(held_id)
            self.abandoned_event.set()
        return "451 4.3.0 Not accepted, try again later"

    def snapshot(self) -> list[Accepted]:
        with self.lock:
            return list(self.accepted)


async def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.005)
    return True


@contextmanager
def smtp_server(mailbox: Mailbox, port: int | None = None) -> Iterator[Controller]:
    controller = Controller(mailbox, hostname="127.0.0.1", port=port or free_port(), ready_timeout=10)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


# --- The run-once processes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


class RunOnce:
    """Starts `flask --app wsgi jobs run-once --now ...` processes; ``close`` kills any still running."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.processes: list[subprocess.Popen] = []

    def start(self, now: datetime, smtp_port: int, sender: str = "Journal") -> subprocess.Popen:
        env = {name: value for name, value in os.environ.items() if not name.startswith("JOURNAL_")}
        env.update(
            JOURNAL_DATABASE_URL=self.database_url,
            JOURNAL_SECRET_KEY=SECRET_KEY,
            JOURNAL_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            # Only the display name differs between processes; the address, and so the Message-ID, is the same.
            JOURNAL_MAIL_FROM=f"{sender} <{MAIL_ADDRESS}>",
            JOURNAL_BASE_URL="http://journal.test",
        )
        process = subprocess.Popen(
            [str(FLASK), "--app", "wsgi", "jobs", "run-once", "--now", now.isoformat()],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def finish(self, process: subprocess.Popen) -> Finished:
        """Wait for a run to end by itself; it must succeed and log no failed job."""
        try:
            stdout, stderr = process.communicate(timeout=PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate(timeout=10)
            pytest.fail(f"run-once did not finish within {PROCESS_TIMEOUT} s:\n{stderr}")
        result = Finished(process.returncode, stdout, stderr)
        assert result.returncode == 0, result
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def kill(self, process: subprocess.Popen) -> Finished:
        process.kill()  # SIGKILL: no clean-up in the process, as in a power cut or the OOM killer
        stdout, stderr = process.communicate(timeout=10)
        return Finished(process.returncode, stdout, stderr)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)


@contextmanager
def run_once_processes(database_url: str) -> Iterator[RunOnce]:
    runs = RunOnce(database_url)
    try:
        yield runs
    finally:
        runs.close()


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, timeout: float = PROCESS_TIMEOUT) -> None:
    """Wait until ``condition`` holds while ``process`` is still running."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            _, stderr = process.communicate(timeout=10)
            pytest.fail(f"run-once ended (exit {process.returncode}) before it got there:\n{stderr}")
        if time.monotonic() >= deadline:
            pytest.fail(f"not there after {timeout} s")
        time.sleep(0.01)


# --- Data ------------------------------------------------------------------------------------------------


def enrol_patients_due_a_reminder(count: int) -> list[str]:
    """``count`` activated patients in Chicago with no check-in: each is due a reminder at ``RUN_AT`` (and, having
    filled in their questionnaires at enrolment, nothing else)."""
    clinic = Clinic(name="Lakeside Clinic", created_at=NOW)
    db.session.add(clinic)
    db.session.flush()
    clinician = make_staff(clinic, "casey", "Casey Carer")
    patients = [make_patient(clinician, f"p{n:02d}", f"Patient {n:02d}") for n in range(count)]
    for patient in patients:
        questionnaires_done(patient, NOW)
    addresses = [patient.email for patient in patients]
    # Their invitations went out at enrolment: what the processes send below is only what they queue themselves.
    db.session.execute(update(OutboxMessage).values(status=OutboxStatus.SENT, sent_at=NOW))
    db.session.commit()
    return addresses


def outbox() -> list[OutboxMessage]:
    """The outbox as the other processes left it."""
    db.session.rollback()  # ends any snapshot this session holds, and expires what it loaded before
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def reminders() -> list[OutboxMessage]:
    return [row for row in outbox() if row.template == "daily_reminder"]


def assert_each_delivered_exactly_once(accepted: list[Accepted], rows: list[OutboxMessage]) -> None:
    """The server accepted exactly one e-mail per outbox row: same Message-IDs, same recipients, nothing else."""
    by_id = Counter(mail.message_id for mail in accepted)
    by_recipient = Counter(mail.recipient for mail in accepted)
    assert [key for key, n in by_id.items() if n > 1] == [], "a Message-ID was accepted more than once"
    assert [key for key, n in by_recipient.items() if n > 1] == [], "a recipient got more than one e-mail"
    expected = Counter((message_id(row.dedup_key), row.address) for row in rows)
    assert Counter((mail.message_id, mail.recipient) for mail in accepted) == expected


# --- Tests -------------------------------------------------------------------------------------------------


def test_two_run_once_processes_started_together_deliver_every_reminder_exactly_once(app, database_url):
    addresses = enrol_patients_due_a_reminder(40)
    # Each DATA takes 10 ms, and no message is accepted before both processes have sent one: from then on both
    # delivery loops run side by side over the same due messages, racing for every claim.
    mailbox = Mailbox(delay=0.01, gate_for=frozenset({"Run A", "Run B"}))

    with smtp_server(mailbox) as server, run_once_processes(database_url) as runs:
        started = time.monotonic()
        run_a = runs.start(RUN_AT, server.port, sender="Run A")
        run_b = runs.start(RUN_AT, server.port, sender="Run B")
        runs.finish(run_a)
        runs.finish(run_b)
        elapsed = time.monotonic() - started
    accepted = mailbox.snapshot()

    rows = reminders()
    # Both processes queued the day's reminders; the dedup key kept one per patient.
    assert sorted(row.address for row in rows) == sorted(addresses)
    assert {row.status for row in outbox()} == {OutboxStatus.SENT}
    assert {row.attempts for row in rows} == {1}, "a message was claimed twice"
    assert_each_delivered_exactly_once(accepted, rows)

    # The race was real: both processes delivered, and their deliveries were interleaved in time.
    by_sender = Counter(mail.sender for mail in accepted)
    assert by_sender["Run A"] > 0 and by_sender["Run B"] > 0, by_sender
    order = [mail.sender for mail in sorted(accepted, key=lambda mail: mail.at)]
    switches = sum(1 for before, after in pairwise(order) if before != after)
    times = {name: [mail.at for mail in accepted if mail.sender == name] for name in by_sender}
    span = {name: (min(at), max(at)) for name, at in times.items()}
    assert span["Run A"][0] < span["Run B"][1] and span["Run B"][0] < span["Run A"][1], span
    assert switches >= 2, order
    print(f"\ndelivered by each process: {dict(by_sender)}; {switches} switches between them; {elapsed:.1f} s")


def test_run_killed_mid_delivery_then_restarted_after_the_lease_delivers_every_reminder_exactly_once(app, database_url):
    enrol_patients_due_a_reminder(12)
    mailbox = Mailbox(hold_nth=6)  # the server hangs on the sixth message and never accepts it

    with smtp_server(mailbox) as server, run_once_processes(database_url) as runs:
        first = runs.start(RUN_AT, server.port)
        wait_for(mailbox.holding.is_set, first)
        before_kill = mailbox.snapshot()
        assert len(before_kill) == 5
        killed = runs.kill(first)
        assert killed.returncode == -9
        # The server saw the connection drop while it still held the message: it never answered 250 to it.
        assert mailbox.abandoned_event.wait(10)
        (held_id,) = mailbox.abandoned

        rows = reminders()
        held = next(row for row in rows if message_id(row.dedup_key) == held_id)
        accepted_ids = {mail.message_id for mail in before_kill}
        assert {message_id(row.dedup_key) for row in rows if row.status == OutboxStatus.SENT} == accepted_ids
        # The killed run's claim is left behind, and nothing else was claimed.
        assert (held.status, held.attempts, held.claimed_at) == (OutboxStatus.SENDING, 1, RUN_AT)
        statuses = Counter(row.status for row in rows)
        assert statuses == {OutboxStatus.SENT: 5, OutboxStatus.SENDING: 1, OutboxStatus.QUEUED: 6}

        # A run after the lease has passed takes the abandoned claim over.
        runs.finish(runs.start(RUN_AT + LEASE + timedelta(minutes=1), server.port))
    accepted = mailbox.snapshot()

    rows = reminders()
    assert {row.status for row in rows} == {OutboxStatus.SENT}
    assert_each_delivered_exactly_once(accepted, rows)
    after_restart = accepted[len(before_kill) :]
    assert accepted[: len(before_kill)] == before_kill
    assert {mail.message_id for mail in after_restart}.isdisjoint(accepted_ids), "an accepted message was resent"
    # The held message went out in the second run, under the same Message-ID the killed run had used.
    assert held_id in {mail.message_id for mail in after_restart}
    assert next(row for row in rows if row.id == held.id).attempts == 2
    # The window that remains: a run killed after the server's 250 but before it marks the row `sent` leaves the
    # row `sending`, and the run after the lease sends it again. No outbox can close that window without the mail
    # server taking part in the transaction; what it can do is send the very same message again. The Message-ID
    # comes from the outbox's dedup key, so the resend carries the same Message-ID as the first copy (as the held
    # message's did here) and mail systems that drop duplicate Message-IDs show it once.


def test_reminders_wait_while_the_smtp_server_is_down_and_go_once_it_is_back(app, database_url):
    addresses = enrol_patients_due_a_reminder(5)
    port = free_port()  # nothing listens on it yet

    with run_once_processes(database_url) as runs:
        runs.finish(runs.start(RUN_AT, port))
        rows = reminders()
        assert sorted(row.address for row in rows) == sorted(addresses)
        for row in rows:
            assert (row.status, row.attempts) == (OutboxStatus.QUEUED, 1)
            assert f"127.0.0.1:{port}" in row.last_error
            assert row.next_attempt_at == RUN_AT + backoff(1) > RUN_AT

        mailbox = Mailbox()
        with smtp_server(mailbox, port=port):
            # Back up, but the backoff is not over: still nothing goes.
            runs.finish(runs.start(RUN_AT + backoff(1) / 2, port))
            assert mailbox.snapshot() == []
            assert {(row.status, row.attempts) for row in reminders()} == {(OutboxStatus.QUEUED, 1)}

            runs.finish(runs.start(RUN_AT + backoff(1) + timedelta(minutes=1), port))
            delivered = mailbox.snapshot()
            rows = reminders()
            assert {(row.status, row.attempts, row.last_error) for row in rows} == {(OutboxStatus.SENT, 2, None)}
            assert_each_delivered_exactly_once(delivered, rows)

            # A further run finds nothing left to send.
            runs.finish(runs.start(RUN_AT + timedelta(minutes=10), port))
            assert mailbox.snapshot() == delivered
            assert {(row.status, row.attempts) for row in reminders()} == {(OutboxStatus.SENT, 2)}


def test_reminder_abandoned_mid_delivery_is_not_sent_after_its_day_is_over(app, database_url):
    enrol_patients_due_a_reminder(3)
    late = datetime(2026, 3, 3, 5, 57, tzinfo=UTC)  # 23:57 in Chicago; the reminders expire at 00:00 (06:00 UTC)
    mailbox = Mailbox(hold_nth=1)

    with smtp_server(mailbox) as server, run_once_processes(database_url) as runs:
        first = runs.start(late, server.port)
        wait_for(mailbox.holding.is_set, first)
        runs.kill(first)
        assert mailbox.abandoned_event.wait(10)

        # The lease is over only after local midnight: that day's reminders must not go any more.
        restart = late + LEASE + timedelta(minutes=1)
        assert restart > min(row.expires_at for row in reminders())
        runs.finish(runs.start(restart, server.port))

    assert mailbox.snapshot() == []
    assert {row.status for row in reminders()} == {OutboxStatus.EXPIRED}
