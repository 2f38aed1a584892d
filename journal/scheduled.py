"""The scheduled jobs, in one list that both `python -m jobs` and `flask --app wsgi jobs run-once` use.

Each job is thin: it takes ``now`` and calls the domain. It runs inside an app context opened by its caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import current_app

from .accounts import forget_old_sign_in_failures
from .alerts import escalate_overdue
from .channels import (
    DeliveryError,
    LogChannel,
    LogSmsChannel,
    PushEndpoints,
    SmtpChannel,
    TwilioChannel,
    WebPushChannel,
)
from .config import ConfigError, sms_configured
from .db import db
from .logs import safe_traceback
from .outbox import deliver_due
from .reminders import queue_daily_reminders
from .sessions import queue_session_messages

log = logging.getLogger("journal.jobs")


def queue_reminders(now: datetime) -> None:
    queued = queue_daily_reminders(db.session, now, missed_limit=current_app.config["MISSED_DAYS_LIMIT"])
    log.info("queued %s new messages or alerts", queued)


def queue_session_followups(now: datetime) -> None:
    queued = queue_session_messages(db.session, now)
    log.info("queued %s new preparation or side-effect check messages", queued)


def escalate_alerts(now: datetime) -> None:
    escalated = escalate_overdue(db.session, now)
    log.info("escalated %s unacknowledged high-priority alerts", escalated)


def deliver_messages(now: datetime) -> None:
    config = current_app.config
    report = deliver_due(
        db.session,
        now,
        build_channels(config),
        base_url=config["BASE_URL"],
        secret_key=config["SECRET_KEY"],
        sms_sender=config["SMS_SENDER_NAME"],
    )
    log.info(
        "delivered %s, retrying %s, failed %s, expired %s", report.sent, report.retried, report.failed, report.expired
    )


def forget_sign_in_failures(now: datetime) -> None:
    forgotten = forget_old_sign_in_failures(db.session, now)
    db.session.commit()
    log.info("forgot %s counts of failed sign-ins with no failure for a day", forgotten)


def build_channels(config) -> dict[str, object]:
    """E-mail goes to the SMTP server when one is configured, Web Push to the browsers' push services when
    a VAPID key is; otherwise to the log, so that a local install works without either. Never in production:
    there a message "sent" to the log would be lost, so the job refuses and the messages wait in the outbox."""
    if config["ENV"] == "production" and not config.get("SMTP_URL"):
        raise ConfigError("JOURNAL_SMTP_URL must be set in production; messages wait in the outbox until it is.")
    log_channel = LogChannel()
    email = SmtpChannel(config["SMTP_URL"], config["MAIL_FROM"]) if config.get("SMTP_URL") else log_channel
    webpush = (
        WebPushChannel(
            config["VAPID_PRIVATE_KEY"], config["VAPID_SUBJECT"], endpoints=PushEndpoints.from_config(config)
        )
        if config.get("VAPID_PRIVATE_KEY")
        else log_channel
    )
    return {"email": email, "webpush": webpush, "sms": sms_channel(config), "log": log_channel}


class _TextsNotConfigured:
    """Production without Twilio: a text waits (and is retried) rather than being "sent" to the log."""

    def send(self, message) -> None:
        raise DeliveryError("text messages are not configured (JOURNAL_TWILIO_*)", permanent=False)


def sms_channel(config):
    """Twilio when its settings are given; otherwise the log, or in production a channel that refuses for now."""
    if sms_configured(config):
        return TwilioChannel(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            config["TWILIO_FROM"],
            api_base=config["TWILIO_API_BASE"],
            status_callback=config["BASE_URL"].rstrip("/") + "/sms/status",
        )
    return _TextsNotConfigured() if config["ENV"] == "production" else LogSmsChannel()


# name, job, interval in seconds. Queue first, then deliver, so one run-once both decides and sends.
JOBS: list[tuple[str, Callable[[datetime], None], int]] = [
    ("queue-reminders", queue_reminders, 60),
    ("queue-session-messages", queue_session_followups, 60),
    ("escalate-alerts", escalate_alerts, 60),
    ("deliver-messages", deliver_messages, 20),
    ("forget-sign-in-failures", forget_sign_in_failures, 3600),
]


def run_all(now: datetime) -> None:
    """Run every job once as of ``now``; one job's failure is logged and never stops the next."""
    for name, job, _interval in JOBS:
        try:
            job(now)
        except Exception as error:
            db.session.rollback()
            log.error("job %s failed\n%s", name, safe_traceback(error))  # no database error's values
