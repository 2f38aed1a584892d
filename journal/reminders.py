"""Daily reminders: who is due one now, and queueing it in the outbox exactly once.

Rules (issue "reminders that arrive exactly once", SPEC EMA-R1..R5):
- due at the first scheduler run at or after the patient's local reminder time, on a local date with no
  check-in, outside quiet hours, once per local date and channel (the outbox key says so);
- a day that is over is never reminded of (a reminder expires at the patient's local midnight);
- after ``missed_limit`` consecutive missed days reminders stop, and the care team gets one alert for that
  run of missed days instead; a check-in resumes them;
- when the PHQ-9 and GAD-7 fall due (PHQ-R13), one more neutral message on the due date, at the same
  time and under the same rules; once per due date, never a second nudge (EMA-R3);
- nothing while the patient is in a post-dose observation window (EMA-R3): a reminder due then goes at the
  first run after the window, under the same key, so still once.
Wall-clock comparison in the patient's zone is what makes skipped and repeated hours come out right: on a
spring-forward day a 02:30 reminder goes at the first run after the jump; on a fall-back day the first
02:30 sends it and the second finds it already queued.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .assessments import MIN_GAP, interval_days, next_due
from .models import (
    Alert,
    Assessment,
    CareTeamMember,
    CheckIn,
    Clinic,
    Patient,
    PushSubscription,
    ReminderSettings,
    Role,
    User,
)
from .outbox import insert_ignoring_duplicates, queue_alert_notifications
from .scoring import PHQ9
from .sessions import observing_patients

DEFAULT_TIME = time(20, 0)
BATCH = 1000


def parse_hhmm(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def in_quiet_hours(local: time, start: time | None, end: time | None) -> bool:
    """Quiet hours may run across midnight (22:00-07:00); equal or missing ends mean none."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_local_midnight(local_now: datetime) -> datetime:
    tomorrow = local_now.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=local_now.tzinfo)


@dataclass(frozen=True)
class Recipient:
    """What the rules need to know about one patient, loaded in batches."""

    patient_id: int
    zone: str
    email: str
    settings: ReminderSettings | None
    active_since: date
    clinic: Clinic | None = None
    induction_until: date | None = None


def reminder_due(local_now: datetime, recipient: Recipient, checked_in_today: bool) -> bool:
    settings = recipient.settings
    if settings is not None and settings.paused:
        return False
    at = parse_hhmm(settings.local_time) if settings else DEFAULT_TIME
    quiet = (parse_hhmm(settings.quiet_start), parse_hhmm(settings.quiet_end)) if settings else (None, None)
    return not checked_in_today and local_now.time() >= at and not in_quiet_hours(local_now.time(), *quiet)


def missed_run(today: date, recorded: set[date], active_since: date, limit: int) -> bool:
    """Were the last ``limit`` days before today all missed (counting only days the account was active)?"""
    days = [today - timedelta(days=n) for n in range(1, limit + 1)]
    return all(day >= active_since and day not in recorded for day in days)


def queue_daily_reminders(session: Session, now: datetime, *, missed_limit: int = 3) -> int:
    """Queue every reminder due at ``now``; raise missed-check-in alerts. Returns how many rows were new.

    Work is done in batches of patients with a fixed number of statements per batch, whatever the number
    of patients; the unique keys make a second scheduler, or a rerun, harmless.
    """
    queued = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(
                User.id, User.timezone, User.email, User.activated_at, ReminderSettings, Clinic, Patient.induction_until
            )
            .join(Patient, Patient.user_id == User.id)
            .join(Clinic, Clinic.id == User.clinic_id)
            .outerjoin(ReminderSettings, ReminderSettings.patient_id == User.id)
            .where(
                User.role == Role.PATIENT,
                User.activated_at.is_not(None),
                User.disabled_at.is_(None),
                User.id > last_id,
            )
            .order_by(User.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return queued
        last_id = rows[-1][0]
        recipients = [
            Recipient(pid, zone, email, settings, activated.astimezone(ZoneInfo(zone)).date(), clinic, induction)
            for pid, zone, email, activated, settings, clinic, induction in rows
        ]
        queued += _queue_batch(session, now, recipients, missed_limit)
        session.commit()


def _queue_batch(session: Session, now: datetime, recipients: list[Recipient], missed_limit: int) -> int:
    local_now = {r.patient_id: now.astimezone(ZoneInfo(r.zone)) for r in recipients}
    ids = [r.patient_id for r in recipients]
    earliest = min(local.date() for local in local_now.values()) - timedelta(days=missed_limit)
    recorded: dict[int, set[date]] = defaultdict(set)
    for patient_id, day in session.execute(
        select(CheckIn.patient_id, CheckIn.local_date).where(
            CheckIn.patient_id.in_(ids), CheckIn.local_date >= earliest
        )
    ):
        recorded[patient_id].add(day)
    wants_push = [r.patient_id for r in recipients if r.settings is not None and r.settings.webpush]
    devices: dict[int, list[int]] = defaultdict(list)
    if wants_push:
        for user_id, subscription_id in session.execute(
            select(PushSubscription.user_id, PushSubscription.id).where(PushSubscription.user_id.in_(wants_push))
        ):
            devices[user_id].append(subscription_id)

    last_form = dict(
        session.execute(
            select(Assessment.patient_id, func.max(Assessment.completed_at))
            .where(Assessment.patient_id.in_(ids), Assessment.instrument == PHQ9)
            .group_by(Assessment.patient_id)
        ).all()
    )

    observing = observing_patients(session, ids, now)

    messages, missed = [], []
    for recipient in recipients:
        local = local_now[recipient.patient_id]
        today = local.date()
        days = recorded[recipient.patient_id]
        if missed_run(today, days, recipient.active_since, missed_limit):
            missed.append(recipient)
            continue
        if recipient.patient_id in observing:
            continue  # EMA-R3: held back until the observation window is over
        if reminder_due(local, recipient, today in days):
            key = f"reminder:{recipient.patient_id}:{today.isoformat()}"
            expires = next_local_midnight(local)
            messages += channel_messages(recipient, key, "daily_reminder", "/checkin", expires, now, devices)
        due_date = assessment_due_date(recipient, last_form.get(recipient.patient_id), local)
        if due_date is not None and reminder_due(local, recipient, checked_in_today=False):
            key = f"assessment:{recipient.patient_id}:{due_date.isoformat()}"
            expires = next_local_midnight(local)
            messages += channel_messages(recipient, key, "assessment_due", "/assessments", expires, now, devices)
    queued = insert_ignoring_duplicates(session, messages)
    if missed:
        queued += _raise_missed_alerts(session, now, missed)
    return queued


def assessment_due_date(recipient: Recipient, last_completed: datetime | None, local: datetime) -> date | None:
    """The due date of the PHQ-9 and GAD-7 if they are due on the patient's local date, else None."""
    if recipient.clinic is None:
        return None
    zone = ZoneInfo(recipient.zone)
    today = local.date()
    if last_completed is not None and local - last_completed.astimezone(zone) < MIN_GAP:
        return None
    interval = interval_days(recipient.clinic, recipient.induction_until, today)
    last_day = last_completed.astimezone(zone).date() if last_completed is not None else None
    due = next_due(last_day, recipient.active_since, interval)
    return due if due <= today else None


def channel_messages(
    recipient: Recipient, key: str, template: str, link: str, expires_at: datetime, now: datetime, devices
) -> list[dict]:
    """Outbox rows for one message on every channel the patient chose: e-mail when enabled, Web Push per
    subscribed device. ``key`` is the message's dedup key without its channel."""
    common = {
        "recipient_id": recipient.patient_id,
        "template": template,
        "link_path": link,
        "expires_at": expires_at,
        "next_attempt_at": now,
        "created_at": now,
    }
    rows = []
    settings = recipient.settings
    if recipient.email and (settings is None or settings.email):
        rows.append({**common, "dedup_key": f"{key}:email", "channel": "email", "address": recipient.email})
    for subscription_id in devices[recipient.patient_id]:
        rows.append(
            {
                **common,
                "dedup_key": f"{key}:webpush:{subscription_id}",
                "channel": "webpush",
                "address": str(subscription_id),
            }
        )
    return rows


def _raise_missed_alerts(session: Session, now: datetime, missed: list[Recipient]) -> int:
    """One alert per run of missed days: keyed by the last day the patient did check in."""
    ids = [r.patient_id for r in missed]
    last_seen = dict(
        session.execute(
            select(CheckIn.patient_id, func.max(CheckIn.local_date))
            .where(CheckIn.patient_id.in_(ids))
            .group_by(CheckIn.patient_id)
        ).all()
    )
    alerts = [
        {
            "patient_id": r.patient_id,
            "kind": "missed_checkins",
            "severity": "low",
            "reason": "No check-in for several days in a row; daily reminders are paused until the next one.",
            "dedup_key": f"missed:{r.patient_id}:{last_seen.get(r.patient_id) or r.active_since}",
            "created_at": now,
        }
        for r in missed
    ]
    new = insert_ignoring_duplicates(session, alerts, model=Alert)
    if new:
        keys = [a["dedup_key"] for a in alerts]
        fresh = session.scalars(select(Alert).where(Alert.dedup_key.in_(keys), Alert.created_at == now)).all()
        team = session.execute(
            select(CareTeamMember.patient_id, User.id, User.email)
            .join(User, User.id == CareTeamMember.clinician_id)
            .where(CareTeamMember.patient_id.in_([a.patient_id for a in fresh]), User.disabled_at.is_(None))
        ).all()
        queue_alert_notifications(session, now, fresh, team)
    return new


# --- Settings --------------------------------------------------------------------------------------------------


def settings_for(session: Session, user: User) -> ReminderSettings:
    """The patient's settings; defaults (20:00, e-mail on when they have an address) until they change them."""
    settings = session.get(ReminderSettings, user.id)
    if settings is None:
        settings = ReminderSettings(
            patient_id=user.id,
            local_time=DEFAULT_TIME.strftime("%H:%M"),
            email=bool(user.email),
            webpush=False,
            paused=False,
        )
    return settings


def as_document(settings: ReminderSettings) -> dict:
    channels = [name for name in ("email", "webpush") if getattr(settings, name)]
    return {
        "time": settings.local_time,
        "channels": channels,
        "quiet_start": settings.quiet_start,
        "quiet_end": settings.quiet_end,
        "paused": settings.paused,
    }


def update_settings(session: Session, user: User, values: dict) -> ReminderSettings:
    settings = settings_for(session, user)
    settings.local_time = values["time"]
    settings.email = "email" in values["channels"]
    settings.webpush = "webpush" in values["channels"]
    settings.quiet_start = values.get("quiet_start")
    settings.quiet_end = values.get("quiet_end")
    settings.paused = values.get("paused", False)
    session.add(settings)
    return settings


def save_push_subscription(session: Session, user: User, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """Register a device; an endpoint already known (say, a phone that changed hands) moves to this user."""
    subscription = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if subscription is None:
        subscription = PushSubscription(endpoint=endpoint)
        session.add(subscription)
    subscription.user_id = user.id
    subscription.p256dh = p256dh
    subscription.auth = auth
    return subscription
