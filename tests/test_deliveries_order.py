"""The admin's Deliveries page lists messages newest first, by when each was queued, and says so.

Ada is the clinic's admin; Alice and Bob are clinicians; Pat is a patient (tests/conftest.py). A message's id is
not its date: a job queues messages for its own instant, so a catch-up run stores older messages after newer ones.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from journal.db import db
from journal.models import OutboxMessage, OutboxStatus

QUEUED = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 10:00 in New York, the admin's zone


def _message(recipient, key: str, created_at: datetime, **values) -> OutboxMessage:
    message = OutboxMessage(
        dedup_key=f"test:{key}",
        recipient_id=recipient.id,
        channel="email",
        address=recipient.email,
        template="reminder",
        link_path="/home",
        next_attempt_at=created_at,
        created_at=created_at,
        **values,
    )
    db.session.add(message)
    db.session.flush()
    return message


def _times(table: str) -> list[str]:
    """The "Queued" column of a table, in row order."""
    return re.findall(r"<tr>\s*<td>(\d{4}-\d\d-\d\d \d\d:\d\d)</td>", table)


def _tables(client) -> tuple[str, str, str]:
    page = client.get("/admin/deliveries").get_data(as_text=True).split("<h1>")[1]
    before, troubled, log = re.split(r"<h2>", page)
    return before, troubled, log


def _stored_out_of_order(people) -> None:
    db.session.query(OutboxMessage).delete()  # the fixture's invitation e-mails
    # Stored in this order (ids rising), queued at these instants: the second is the oldest, the third the newest.
    for key, hours, values in (
        ("a", 2, {"status": OutboxStatus.SENT, "attempts": 1}),
        ("b", 0, {"status": OutboxStatus.FAILED, "attempts": 8, "last_error": "refused"}),
        ("c", 5, {"status": OutboxStatus.FAILED, "attempts": 8, "last_error": "refused"}),
        ("d", 1, {"status": OutboxStatus.QUEUED, "attempts": 2, "last_error": "timed out"}),
        ("e", 3, {"status": OutboxStatus.SENT, "attempts": 1}),
    ):
        _message(people.alice if key in "ace" else people.pat, key, QUEUED + timedelta(hours=hours), **values)
    db.session.commit()


def test_the_delivery_log_lists_the_newest_message_first_whatever_order_it_was_stored_in(client, auth, people):
    _stored_out_of_order(people)
    auth.login(people.ada)
    _, _, log = _tables(client)
    assert _times(log) == [
        "2026-03-10 15:00", "2026-03-10 13:00", "2026-03-10 12:00", "2026-03-10 11:00", "2026-03-10 10:00",
    ]  # fmt: skip


def test_failed_and_retried_messages_are_listed_newest_first(client, auth, people):
    _stored_out_of_order(people)
    auth.login(people.ada)
    _, troubled, _ = _tables(client)
    assert _times(troubled) == ["2026-03-10 15:00", "2026-03-10 11:00", "2026-03-10 10:00"]


def test_messages_queued_at_the_same_instant_are_listed_newest_stored_first(client, auth, people):
    db.session.query(OutboxMessage).delete()
    first = _message(people.alice, "first", QUEUED, status=OutboxStatus.SENT, attempts=1)
    second = _message(people.bob, "second", QUEUED, status=OutboxStatus.SENT, attempts=1)
    assert first.id < second.id
    db.session.commit()
    auth.login(people.ada)
    _, _, log = _tables(client)
    assert log.index("bob@clinic.test") < log.index("alice@clinic.test")


def test_the_page_says_the_order(client, auth, people):
    auth.login(people.ada)
    before, troubled, log = _tables(client)
    assert "Both tables list the newest message first, by when it was queued. Times are in America/New_York." in before
    assert troubled.startswith("Failed, or waiting for another attempt (newest first)</h2>")
    assert log.startswith("Delivery log: the latest 100 messages, newest first</h2>")


def test_only_admins_see_deliveries(client, auth, people):
    """A clinician or a patient is refused the admin's page."""
    for person in (people.alice, people.pat):
        auth.login(person)
        assert client.get("/admin/deliveries").status_code == 404
        auth.logout()
