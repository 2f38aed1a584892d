"""Reminders and invitations through the outbox to a real SMTP server (aiosmtpd), in-process.

Pat (America/Chicago, CST until 8 March) is reminded at 20:00 local = 02:00 UTC the next day."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from journal.checkins import save_checkin
from journal.db import db
from journal.models import Alert, OutboxMessage, OutboxStatus, PushSubscription, ReminderSettings
from journal.reminders import queue_daily_reminders
from tests.conftest import bearer, questionnaires_done
from tests.test_channels import Mailbox, body, free_port, start_smtp

EVENING = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)  # 20:30 on 2 March in Chicago
DAY = date(2026, 3, 2)


@pytest.fixture
def mailbox():
    mailbox = Mailbox()
    mailbox.controller = start_smtp(mailbox)
    mailbox.running = True
    yield mailbox
    if mailbox.running:
        mailbox.controller.stop()


def _server_down(mailbox) -> None:
    mailbox.controller.stop()
    mailbox.running = False


def _server_back(mailbox) -> None:
    # A stopped aiosmtpd Controller cannot start again (its loop is closed): a new server on the same port.
    mailbox.controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.controller.port, ready_timeout=10)
    mailbox.controller.start()
    mailbox.running = True


@pytest.fixture
def app_config(app_config, mailbox):
    return {
        **app_config,
        "SMTP_URL": f"smtp://127.0.0.1:{mailbox.controller.port}",
        "MAIL_FROM": "Journal <no-reply@journal.test>",
    }


def _run(app, now: datetime):
    result = app.test_cli_runner().invoke(args=["jobs", "run-once", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output


def _messages(template: str | None = None) -> list[OutboxMessage]:
    db.session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if template:
        query = query.where(OutboxMessage.template == template)
    return db.session.scalars(query).all()


@pytest.fixture
def pat_due(people):
    """Pat has been active for weeks, checked in every day until yesterday, and filled in her questionnaires
    last week (so the daily reminder is all that is due)."""
    people.pat.activated_at = EVENING - timedelta(days=30)
    questionnaires_done(people.pat, EVENING - timedelta(days=7))
    for lag in range(1, 4):
        save_checkin(
            db.session,
            people.pat.patient,
            DAY - timedelta(days=lag),
            {
                "mood": 5,
                "cravings": [{"substance": "alcohol", "intensity": 1}],
                "use": [{"substance": "alcohol", "used": False}],
            },
            EVENING - timedelta(days=lag),
            people.pat,
        )
    people.quinn.disabled_at = EVENING  # not part of these tests
    db.session.query(OutboxMessage).delete()  # the fixture's invitation e-mails
    db.session.commit()
    return people.pat


def test_reminder_email_arrives_neutral_and_its_link_records_the_opening(app, client, mailbox, pat_due):
    _run(app, EVENING)
    assert len(mailbox.received) == 1
    message, envelope = mailbox.only_message()
    assert envelope.rcpt_tos == [pat_due.email]
    assert message["Subject"] == "You have a new check-in"
    link = next(line for line in body(message).splitlines() if line.startswith("http://journal.test/m/"))
    (row,) = _messages("daily_reminder")
    assert row.status == OutboxStatus.SENT and row.opened_at is None
    response = client.get(link.removeprefix("http://journal.test"))
    assert response.status_code == 302 and response.headers["Location"] == "/checkin"
    assert _messages("daily_reminder")[0].opened_at is not None


def test_reminders_are_not_sent_twice_by_later_runs_the_same_day(app, mailbox, pat_due):
    for minutes in (0, 15, 30, 180, 240):
        _run(app, EVENING + timedelta(minutes=minutes))
    assert len(mailbox.received) == 2  # the reminder once, and EMA-R2's one follow-up 90 minutes after it


def test_no_reminder_before_the_local_time_or_after_a_check_in(app, mailbox, pat_due):
    _run(app, EVENING - timedelta(hours=1))  # 19:30 in Chicago
    assert mailbox.received == []
    save_checkin(
        db.session,
        pat_due.patient,
        DAY,
        {
            "mood": 5,
            "cravings": [{"substance": "alcohol", "intensity": 1}],
            "use": [{"substance": "alcohol", "used": False}],
        },
        EVENING - timedelta(minutes=45),
        pat_due,
    )
    db.session.commit()
    _run(app, EVENING)
    assert mailbox.received == []


def test_paused_and_quiet_hours_hold_reminders_back(app, mailbox, pat_due):
    db.session.add(
        ReminderSettings(
            patient_id=pat_due.id,
            local_time="20:00",
            email=True,
            webpush=False,
            quiet_start="20:00",
            quiet_end="21:00",
            paused=False,
        )
    )
    db.session.commit()
    _run(app, EVENING)  # 20:30: quiet
    assert mailbox.received == []
    _run(app, EVENING + timedelta(minutes=30))  # 21:00: quiet hours are over
    assert len(mailbox.received) == 1


def test_with_the_smtp_server_down_a_reminder_waits_then_arrives_once(app, mailbox, pat_due):
    _server_down(mailbox)
    _run(app, EVENING)
    (row,) = _messages("daily_reminder")
    assert (row.status, row.attempts) == (OutboxStatus.QUEUED, 1)
    assert row.last_error and row.next_attempt_at == EVENING + timedelta(minutes=1)
    _server_back(mailbox)
    _run(app, EVENING + timedelta(seconds=30))  # too early for the retry
    assert mailbox.received == []
    _run(app, EVENING + timedelta(minutes=1))
    _run(app, EVENING + timedelta(minutes=5))
    assert len(mailbox.received) == 1
    assert _messages("daily_reminder")[0].status == OutboxStatus.SENT


def test_a_reminder_for_a_day_that_is_over_is_never_sent(app, mailbox, pat_due):
    _server_down(mailbox)
    _run(app, EVENING)
    _server_back(mailbox)
    _run(app, EVENING + timedelta(hours=4))  # 00:30 on 3 March in Chicago: 2 March is over
    assert mailbox.received == []
    assert _messages("daily_reminder")[0].status == OutboxStatus.EXPIRED


def test_after_three_missed_days_reminders_stop_and_the_care_team_is_told_once(app, mailbox, pat_due):
    later = EVENING + timedelta(days=3)  # 5 March: 2, 3 and 4 March have no check-in
    _run(app, later)
    assert [m.template for m in _messages()] == ["alert_low"]
    (message, envelope) = mailbox.only_message()
    assert envelope.rcpt_tos == ["alice@clinic.test"]
    assert message["Subject"] == "Please check the portal when you can"
    alerts = db.session.scalars(select(Alert)).all()
    assert [(a.kind, a.patient_id) for a in alerts] == [("missed_checkins", pat_due.id)]
    _run(app, later + timedelta(days=1))
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 1  # one alert for the run of days
    # A check-in resumes them: the next evening is reminded again.
    save_checkin(
        db.session,
        pat_due.patient,
        DAY + timedelta(days=4),
        {
            "mood": 5,
            "cravings": [{"substance": "alcohol", "intensity": 1}],
            "use": [{"substance": "alcohol", "used": False}],
        },
        later + timedelta(days=1),
        pat_due,
    )
    db.session.commit()
    _run(app, later + timedelta(days=2))
    assert [m.template for m in _messages("daily_reminder")] == ["daily_reminder"]


def test_invitation_email_carries_the_working_link_and_is_scrubbed_once_sent(app, client, mailbox, people):
    response = client.post(
        "/api/v1/patients",
        json={"name": "Robin", "email": "robin@patient.test", "timezone": "UTC"},
        headers=bearer(client, people.alice),
    )
    invitation_url = response.get_json()["invitation_url"]
    _run(app, datetime.now(UTC))
    received = [email.message_from_bytes(e.content, policy=email.policy.default) for e, _ in mailbox.received]
    (to_robin,) = [m for m in received if m["To"] == "robin@patient.test"]
    assert to_robin["Subject"] == "Your account is ready to set up"
    assert invitation_url in body(to_robin)
    row = next(m for m in _messages("invitation") if m.address == "robin@patient.test")
    assert row.status == OutboxStatus.SENT and row.link_path == "/invite" and row.sealed_link is None


def test_web_push_subscribers_get_one_message_per_device(app, client, pat_due):
    headers = bearer(client, pat_due)
    for device in ("phone", "tablet"):
        subscription = {
            "endpoint": f"https://fcm.googleapis.com/fcm/send/{device}",
            "keys": {"p256dh": "BAAA", "auth": "AAAA"},
        }
        assert client.post("/api/v1/me/push-subscriptions", json=subscription, headers=headers).status_code == 201
    assert (
        client.put("/api/v1/me/reminders", json={"time": "20:00", "channels": ["webpush"]}, headers=headers).status_code
        == 200
    )
    queue_daily_reminders(db.session, EVENING)
    rows = _messages("daily_reminder")
    assert sorted(r.channel for r in rows) == ["webpush", "webpush"]
    assert {int(r.address) for r in rows} == set(db.session.scalars(select(PushSubscription.id)))


def test_reminder_settings_api_round_trip_and_validation(client, people):
    headers = bearer(client, people.pat)
    defaults = client.get("/api/v1/me/reminders", headers=headers).get_json()
    assert defaults == {"time": "20:00", "channels": ["email"], "quiet_start": None, "quiet_end": None, "paused": False}
    changed = {
        "time": "07:45",
        "channels": ["email", "webpush"],
        "quiet_start": "22:00",
        "quiet_end": "06:30",
        "paused": True,
    }
    assert client.put("/api/v1/me/reminders", json=changed, headers=headers).get_json() == changed
    for bad in (
        {**changed, "time": "25:00"},
        {**changed, "quiet_end": None},
        {**changed, "channels": ["sms"]},
        {**changed, "paused": 1},
    ):
        assert client.put("/api/v1/me/reminders", json=bad, headers=headers).status_code == 422
    assert client.get("/api/v1/me/reminders", headers=headers).get_json() == changed


def test_reminder_settings_page_saves_and_explains_errors(client, auth, people):
    auth.login(people.pat)
    response = auth.post("/settings/reminders", {"time": "21:15", "channels": ["email"], "quiet_start": "22:00"})
    assert response.status_code == 400
    assert "Give both ends of the quiet hours" in response.get_data(as_text=True)
    assert auth.post("/settings/reminders", {"time": "21:15", "channels": ["email"]}).status_code == 302
    assert db.session.get(ReminderSettings, people.pat.id).local_time == "21:15"


def test_an_unknown_message_link_leads_to_the_start_page(client):
    response = client.get("/m/not-a-real-token")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_free_port_helper_gives_a_closed_port():
    import socket

    with socket.socket() as probe, pytest.raises(OSError):
        probe.settimeout(1)
        probe.connect(("127.0.0.1", free_port()))


def test_admin_sees_failed_and_waiting_deliveries(app, client, auth, mailbox, pat_due, people):
    _server_down(mailbox)
    _run(app, EVENING)
    auth.login(people.ada)
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "queued 1" in page
    assert "Connection refused" in page
    # Once among the troubled, once in the delivery log; to "a patient", neither Pat nor the message's purpose.
    assert page.count("<td>a patient</td>") == 2 and page.count("<td>notification</td>") == 2
    assert pat_due.email not in page and "daily reminder" not in page


def test_the_phone_registers_a_push_subscription_with_its_csrf_token(client, auth, people):
    auth.login(people.pat)
    token = (
        auth.client.get("/settings/reminders")
        .get_data(as_text=True)
        .split('name="csrf_token" value="')[1]
        .split('"')[0]
    )
    subscription = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/p",
        "keys": {"p256dh": "BAAA", "auth": "AAAA"},
        "expirationTime": None,
    }
    assert (
        client.post("/settings/push-subscriptions", json=subscription, headers={"X-CSRFToken": token}).status_code
        == 201
    )
    assert client.post("/settings/push-subscriptions", json=subscription).status_code == 400  # no token
    bad = {**subscription, "endpoint": "http://fcm.googleapis.com/fcm/send/p"}
    assert client.post("/settings/push-subscriptions", json=bad, headers={"X-CSRFToken": token}).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 1


class TestWithVapidKeys:
    @pytest.fixture
    def app_config(self, app_config):
        from journal.channels import vapid_keys

        private, self.public = vapid_keys()
        return {**app_config, "VAPID_PRIVATE_KEY": private}

    def test_settings_page_offers_notifications_with_the_servers_public_key(self, client, auth, people):
        auth.login(people.pat)
        page = client.get("/settings/reminders").get_data(as_text=True)
        assert f'data-key="{self.public}"' in page


def test_after_downtime_todays_reminder_is_caught_up_but_yesterdays_is_never_sent(app, mailbox, pat_due):
    # The scheduler was down from before 20:00 on 2 March until 23:40 that night: today's reminder goes late.
    _run(app, EVENING + timedelta(hours=3, minutes=10))
    assert [m.dedup_key.split(":")[2] for m in _messages("daily_reminder")] == ["2026-03-02"]
    assert len(mailbox.received) == 1
    # Down again from then until 09:00 on 4 March: the evening of 3 March passed unreminded, and stays so.
    _run(app, datetime(2026, 3, 4, 15, 0, tzinfo=UTC))
    assert [m.dedup_key.split(":")[2] for m in _messages("daily_reminder")] == ["2026-03-02"]
    assert len(mailbox.received) == 1


def test_the_care_team_sees_the_missed_days_alert_in_the_portal_and_outsiders_do_not(
    app, client, auth, mailbox, pat_due, people
):
    _run(app, EVENING + timedelta(days=3))
    auth.login(people.alice)
    reason = "No check-in for several days in a row"
    assert reason in client.get("/clinician/patients").get_data(as_text=True)
    assert reason in client.get(f"/clinician/patients/{pat_due.id}").get_data(as_text=True)
    auth.logout()
    auth.login(people.charlie)
    assert reason not in client.get("/clinician/patients").get_data(as_text=True)


class TestInProductionWithoutSmtp:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "ENV": "production", "SMTP_URL": ""}

    def test_messages_wait_instead_of_being_sent_to_the_log(self, app, pat_due, caplog):
        _run(app, EVENING)
        (row,) = _messages("daily_reminder")
        assert (row.status, row.attempts) == (OutboxStatus.QUEUED, 0)
        assert "JOURNAL_SMTP_URL must be set in production" in caplog.text
