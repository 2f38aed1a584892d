"""Alerts: what a clinician must see, raised exactly once, acknowledged with a note, escalated when not.

An alert is a row with a unique ``dedup_key``, inserted in the same transaction as the data that raised it,
so it can never be lost while the data is kept. Its content-free e-mails (PRIV-R4) are queued in the outbox in
that same transaction, and the next scheduler run delivers them.

Who is e-mailed (SAFE-R3):
- A high-priority alert raised while a shift of the clinic's on-call rota (journal/oncall.py) covers that
  instant is routed: its first e-mail goes to the on-call clinician alone, and the alert records them and the
  shift's backup (``on_call_id``, ``backup_id``; audited as ``alert.route``). One named person is responsible
  first; the care team still sees the alert in their inbox at once, and is e-mailed at escalation.
- Any other alert (medium or low, or high with no shift covering the instant) e-mails the care team.
- A high-priority alert nobody acknowledges within the clinic's ``escalation_minutes`` is escalated once
  (claimed by a conditional UPDATE, so two schedulers escalate it once): to the backup first (their e-mail is
  queued before the others, and they may then open the record: journal/access.py), and at the same instant to
  the care team and the clinic's admins, as before the rota existed. A second wait before the team hears would
  only delay the people who can act; a disabled backup is skipped, the team and admins are still told.

The daily-data rules (CRV-R3, KET-R4, and use after a run of abstinent days) use thresholds each clinic
chooses; they are product decisions, not published cut-offs (SPEC 12.8), and the reasons say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, distinct, func, select, update
from sqlalchemy.orm import Session

from .models import (
    Alert,
    Assessment,
    CareTeamMember,
    CheckIn,
    Clinic,
    CravingRating,
    DosingSession,
    Patient,
    Role,
    SessionStatus,
    SubstanceUse,
    User,
)
from .oncall import on_call_at
from .outbox import insert_ignoring_duplicates, queue_alert_notifications
from .scoring import PHQ8, PHQ9

log = logging.getLogger("journal.alerts")

SEVERITIES = ("high", "medium", "low")
NOTE_MAX = 2000

# What each kind of alert is called in the inbox.
KIND_LABELS = {
    "safety_item9": "Thoughts of death or self-harm (PHQ-9 item 9)",
    "safety_unknown": "PHQ-9 item 9 unanswered",
    "craving": "High craving",
    "use_after_abstinence": "Use after abstinent days",
    "urinary": "Urinary symptoms",
    "booster_review": "Consider booster review",
    "missed_checkins": "Missed check-ins",
    "session_drove": "Drove on the day of a session",
    "session_severe": "Severe effects after a session",
}


class AlertError(Exception):
    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def care_team(session: Session, patient_ids: list[int]) -> list[tuple[int, int, str]]:
    """(patient id, clinician id, e-mail) for every active clinician on these patients' care teams."""
    return session.execute(
        select(CareTeamMember.patient_id, User.id, User.email)
        .join(User, User.id == CareTeamMember.clinician_id)
        .where(CareTeamMember.patient_id.in_(patient_ids), User.disabled_at.is_(None))
    ).all()


def raise_alert(
    session: Session,
    now: datetime,
    *,
    patient_id: int,
    kind: str,
    severity: str,
    reason: str,
    dedup_key: str,
    assessment_id: int | None = None,
) -> Alert | None:
    """Raise an alert unless one with this key exists; queue the care team's e-mails. The caller commits.

    Returns the new alert, or None when it had been raised already."""
    # Not an assert: `python -O` drops those, and the column has no CHECK constraint to catch a typo.
    if severity not in SEVERITIES:
        raise ValueError(f"unknown alert severity {severity!r}")
    inserted = insert_ignoring_duplicates(
        session,
        [
            {
                "patient_id": patient_id,
                "kind": kind,
                "severity": severity,
                "reason": reason,
                "dedup_key": dedup_key,
                "created_at": now,
                "assessment_id": assessment_id,
            }
        ],
        model=Alert,
    )
    if not inserted:
        return None
    alert = session.scalar(select(Alert).where(Alert.dedup_key == dedup_key))
    recipients = _route(session, alert, now) if severity == "high" else None
    if recipients is None:
        recipients = care_team(session, [patient_id])
    queue_alert_notifications(session, now, [alert], recipients)
    log.info("alert %s raised (%s, %s)", alert.id, kind, severity)
    return alert


def _route(session: Session, alert: Alert, now: datetime) -> list[tuple[int, int, str]] | None:
    """For a high-priority alert raised in an on-call shift: record the on-call clinician and the backup on the
    alert, audit it, and return the on-call clinician as the first e-mail's only recipient. None when no shift
    covers ``now`` (the care team is e-mailed, as it always was)."""
    from . import audit  # audit needs the Flask app; imported here so this module stays importable alone

    clinic_id = session.scalar(select(User.clinic_id).where(User.id == alert.patient_id))
    on_call = on_call_at(session, clinic_id, now)
    if on_call is None:
        return None
    alert.on_call_id = on_call.clinician.id
    alert.backup_id = on_call.backup.id if on_call.backup is not None else None
    session.flush()
    backup = f"backup user {alert.backup_id}" if alert.backup_id is not None else "no backup"
    audit.record(
        None,
        "alert.route",
        alert.patient_id,
        detail=f"alert {alert.id}; shift {on_call.shift_id}; on call user {alert.on_call_id}; {backup}",
    )
    return [(alert.patient_id, on_call.clinician.id, on_call.clinician.email)]


def acknowledge(session: Session, alert: Alert, user: User, note: str, now: datetime) -> None:
    """Record who acknowledged the alert and what they did about it. Only the first acknowledgement counts:
    a second clinician gets a 409 rather than silently replacing a colleague's note. The caller commits."""
    note = note.strip()
    if not note:
        raise AlertError("note", "Say what you did or decided, for the record.")
    if len(note) > NOTE_MAX:
        raise AlertError("note", f"Keep the note under {NOTE_MAX} characters.")
    done = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_id=user.id, note=note)
    ).rowcount
    if done != 1:
        raise AlertError("alert", "This alert has already been acknowledged.", 409)
    session.refresh(alert)


# --- Escalation (SAFE-R3) ------------------------------------------------------------------------------------


def escalate_overdue(session: Session, now: datetime) -> int:
    """Escalate every high-priority alert left unacknowledged past its clinic's time. Returns how many."""
    from . import audit  # audit needs the Flask app; imported here so this module stays importable alone

    candidates = session.execute(
        select(Alert.id, Alert.patient_id, Alert.created_at, Alert.backup_id, Clinic.id, Clinic.escalation_minutes)
        .join(User, User.id == Alert.patient_id)
        .join(Clinic, Clinic.id == User.clinic_id)
        .where(Alert.severity == "high", Alert.acknowledged_at.is_(None), Alert.escalated_at.is_(None))
        .order_by(Alert.created_at)
    ).all()
    escalated = 0
    for alert_id, patient_id, created_at, backup_id, clinic_id, minutes in candidates:
        if created_at + timedelta(minutes=minutes) > now:
            continue
        claimed = session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.escalated_at.is_(None), Alert.acknowledged_at.is_(None))
            .values(escalated_at=now)
        ).rowcount
        if claimed != 1:
            session.rollback()
            continue  # acknowledged meanwhile, or another scheduler escalated it
        # The backup first (the rows are inserted, and so delivered, in this order); then the care team; then
        # the admins, who see no patient data: their link leads to a page that names the care team to call.
        recipients: dict[int, tuple[str, str]] = {}
        if backup_id is not None:
            backup = session.get(User, backup_id)
            if backup is not None and backup.disabled_at is None:
                recipients[backup.id] = (backup.email, "/clinician/alerts")
        for _, user_id, email in care_team(session, [patient_id]):
            recipients.setdefault(user_id, (email, "/clinician/alerts"))
        for admin_id, email in session.execute(
            select(User.id, User.email).where(
                User.clinic_id == clinic_id, User.role == Role.ADMIN, User.disabled_at.is_(None)
            )
        ):
            recipients[admin_id] = (email, "/admin/alerts")
        insert_ignoring_duplicates(
            session,
            [
                {
                    "dedup_key": f"alert:{alert_id}:escalation:{user_id}:email",
                    "recipient_id": user_id,
                    "channel": "email",
                    "address": email,
                    "template": "alert_escalation",
                    "link_path": link,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for user_id, (email, link) in recipients.items()
            ],
        )
        backup_note = f"; backup user {backup_id}" if backup_id in recipients else ""
        audit.record(
            None, "alert.escalate", patient_id, detail=f"alert {alert_id}; {len(recipients)} recipients{backup_note}"
        )
        session.commit()
        escalated += 1
    return escalated


# --- Rules over the daily check-in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """What the rules need from one day's check-in."""

    strongest_craving: int | None
    used: bool | None  # any use reported; False when every substance was reported unused; None if not asked
    urinary: list[str] | None


def evaluate_checkin(session: Session, patient: Patient, day: date, now: datetime) -> list[Alert]:
    """Raise whatever alerts the check-in of ``day`` calls for, in the caller's transaction (after a flush).

    The rules read the days on both sides of ``day``: a back-filled day can complete a run that ends on a
    day recorded before it."""
    clinic = patient.user.clinic
    first, last = window(day, clinic)
    history = recent_days(session, patient.user_id, first, last)
    found = [
        _craving_rule(session, patient.user_id, day, history, clinic, first),
        *(_use_after_abstinence_rule(patient.user_id, use_day, history, clinic) for use_day in _use_days(day, history)),
        _urinary_rule(patient.user_id, day, history, clinic),
    ]
    raised = []
    for values in filter(None, found):
        alert = raise_alert(session, now, patient_id=patient.user_id, **values)
        if alert is not None:
            raised.append(alert)
    return raised


def window(day: date, clinic: Clinic) -> tuple[date, date]:
    """The days the rules read around ``day``: one longer than the longest run they count on each side, so
    that a run filling the window is known to go beyond it."""
    days = max(clinic.craving_days + 1, clinic.abstinent_run_days + 1, URINARY_LOOKBACK_DAYS)
    return day - timedelta(days=days - 1), day + timedelta(days=max(clinic.craving_days, clinic.abstinent_run_days))


def recent_days(session: Session, patient_id: int, first: date, last: date) -> dict[date, Day]:
    """One statement for the whole window, so a check-in costs the same however the rules are set."""
    rows = session.execute(
        select(
            CheckIn.local_date,
            CheckIn.urinary,
            func.max(CravingRating.intensity),
            func.count(distinct(SubstanceUse.substance)),
            func.max(case((SubstanceUse.used, 1), else_=0)),
        )
        .outerjoin(CravingRating, CravingRating.checkin_id == CheckIn.id)
        .outerjoin(SubstanceUse, SubstanceUse.checkin_id == CheckIn.id)
        .where(CheckIn.patient_id == patient_id, CheckIn.local_date.between(first, last))
        # By the primary key alone: the other columns depend on it, and PostgreSQL has no equality for
        # ``json``, so grouping by ``urinary`` itself fails there.
        .group_by(CheckIn.id)
    ).all()
    return {
        day: Day(strongest_craving=craving, used=bool(any_used) if answered else None, urinary=urinary)
        for day, urinary, craving, answered, any_used in rows
    }


def _extend(day: date, history: dict[date, Day], step: int, keep) -> date:
    """The last day reached from ``day`` going ``step`` days at a time while ``keep`` holds for each entry.
    A day without a check-in stops it: a missing day is never assumed."""
    while (entry := history.get(day + timedelta(days=step))) is not None and keep(entry):
        day += timedelta(days=step)
    return day


def craving_run(day: date, history: dict[date, Day], threshold: int) -> tuple[date, date] | None:
    """The first and last day of the run of consecutive days through ``day`` whose strongest craving reached
    ``threshold``, or None when ``day`` itself did not."""
    entry = history.get(day)
    if entry is None or (entry.strongest_craving or 0) < threshold:
        return None

    def high(other: Day) -> bool:
        return (other.strongest_craving or 0) >= threshold

    return _extend(day, history, -1, high), _extend(day, history, 1, high)


def _craving_rule(session, patient_id: int, day: date, history: dict[date, Day], clinic: Clinic, first_read: date):
    """CRV-R3: the strongest craving at or above the clinic's threshold on ``craving_days`` days in a row."""
    run = craving_run(day, history, clinic.craving_threshold)
    if run is None:
        return None
    start, end = run
    length = (end - start).days + 1
    if length < clinic.craving_days or start == first_read:
        # Too short; or the run began before the days read here, so it reached craving_days on an earlier
        # day and was alerted then, under its true first day.
        return None
    # One alert per run of high days, however long it lasts, and even when a back-filled day extends it
    # backwards (its first day, and so its key, then moves).
    keys = [f"craving:{patient_id}:{start + timedelta(days=n)}" for n in range(length)]
    if session.scalar(select(Alert.id).where(Alert.dedup_key.in_(keys)).limit(1)) is not None:
        return None
    return {
        "kind": "craving",
        "severity": "medium",
        "reason": (
            f"Strongest craving {clinic.craving_threshold}/10 or more on {length} days in a row from "
            f"{start.isoformat()} (clinic threshold: {clinic.craving_threshold} on {clinic.craving_days} days)."
        ),
        "dedup_key": keys[0],
    }


def _use_days(day: date, history: dict[date, Day]) -> list[date]:
    """The days whose reported use the abstinence rule must look at after ``day`` was saved: ``day`` itself,
    or, when it reported no use, the use day that ends the abstinent run it belongs to."""
    entry = history.get(day)
    if entry is None or entry.used is None:
        return []
    if entry.used:
        return [day]
    following = _extend(day, history, 1, lambda other: other.used is False) + timedelta(days=1)
    return [following] if following in history and history[following].used else []


def _use_after_abstinence_rule(patient_id: int, day: date, history: dict[date, Day], clinic: Clinic):
    """Use reported after at least ``abstinent_run_days`` consecutive check-ins that reported no use (SUD-R1:
    a check-in's answer is about the day before). Missing days break the run (SUD-R2: never assume abstinence)."""
    run = (day - _extend(day, history, -1, lambda other: other.used is False)).days
    if run < clinic.abstinent_run_days:
        return None
    return {
        "kind": "use_after_abstinence",
        "severity": "medium",
        "reason": (
            f"Use reported in the check-in of {day.isoformat()} after {run} check-ins in a row that reported none "
            f"(clinic threshold: {clinic.abstinent_run_days} days)."
        ),
        "dedup_key": f"use:{patient_id}:{day.isoformat()}",
    }


URINARY_LOOKBACK_DAYS = 14  # how far back "new" bladder pain looks for an earlier answered check


def _urinary_rule(patient_id: int, day: date, history: dict[date, Day], clinic: Clinic) -> dict | None:
    """KET-R4: blood in the urine, or bladder pain that the previous answered check did not report."""
    reported = set(history[day].urinary or [])
    previous = next(
        (
            set(entry.urinary)
            for past, entry in sorted(history.items(), reverse=True)
            if past < day and entry.urinary is not None
        ),
        set(),
    )
    flags = []
    if "blood" in reported:
        flags.append("blood")
    if "bladder_pain" in reported and "bladder_pain" not in previous:
        flags.append("bladder_pain")
    if not flags:
        return None
    words = {"blood": "blood in the urine", "bladder_pain": "new bladder or lower-abdominal pain"}
    return {
        "kind": "urinary",
        "severity": clinic.urinary_alert_severity,
        "reason": f"Urinary check on {day.isoformat()}: {' and '.join(words[f] for f in flags)} (KET-R4).",
        "dedup_key": f"urinary:{patient_id}:{day.isoformat()}",
    }


# --- What the inbox shows beside an alert (SAFE-R3) ----------------------------------------------------------

MOOD_DAYS = 7


@dataclass(frozen=True)
class LatestDepressionForm:
    """The patient's latest PHQ-9, or PHQ-8 where the clinic chose it (SAFE-R4; it has no item 9)."""

    instrument: str
    completed_at: datetime
    total: int | None
    item9: int | None


@dataclass(frozen=True)
class RecentData:
    """What SAFE-R3 asks the inbox to show beside an alert: recent daily mood and the latest PHQ-9 (or PHQ-8)."""

    moods: list[tuple[date, int | None]]  # the patient's last MOOD_DAYS local days, oldest first; None: no entry
    depression: LatestDepressionForm | None


def recent_data(session: Session, patients: dict[int, str], now: datetime) -> dict[int, RecentData]:
    """Recent data for every patient in ``patients`` (id -> time zone) in two statements, however many."""
    if not patients:
        return {}
    todays = {patient_id: now.astimezone(ZoneInfo(zone)).date() for patient_id, zone in patients.items()}
    first = min(todays.values()) - timedelta(days=MOOD_DAYS - 1)
    moods: dict[tuple[int, date], int] = {
        (patient_id, day): mood
        for patient_id, day, mood in session.execute(
            select(CheckIn.patient_id, CheckIn.local_date, CheckIn.mood).where(
                CheckIn.patient_id.in_(list(patients)), CheckIn.local_date.between(first, max(todays.values()))
            )
        )
    }
    ranked = (
        select(
            Assessment.patient_id,
            Assessment.instrument,
            Assessment.completed_at,
            Assessment.total,
            Assessment.item9,
            func.row_number()
            .over(
                partition_by=Assessment.patient_id,
                order_by=(Assessment.completed_at.desc(), Assessment.id.desc()),
            )
            .label("place"),
        )
        .where(Assessment.patient_id.in_(list(patients)), Assessment.instrument.in_((PHQ9, PHQ8)))
        .subquery()
    )
    latest = {
        row.patient_id: LatestDepressionForm(row.instrument, row.completed_at, row.total, row.item9)
        for row in session.execute(select(ranked).where(ranked.c.place == 1))
    }
    return {
        patient_id: RecentData(
            moods=[
                (day, moods.get((patient_id, day)))
                for day in (today - timedelta(days=back) for back in range(MOOD_DAYS - 1, -1, -1))
            ],
            depression=latest.get(patient_id),
        )
        for patient_id, today in todays.items()
    }


@dataclass(frozen=True)
class SessionsAround:
    """The patient's last given dosing session up to now and next planned one after now (start instants)."""

    last_given: datetime | None
    next_planned: datetime | None


def sessions_around(session: Session, patient_ids: list[int], now: datetime) -> dict[int, SessionsAround]:
    """For every patient in ``patient_ids``, their last given and next planned session, in two statements.
    A planned session whose time has passed without being marked given is neither."""
    if not patient_ids:
        return {}
    last = dict(
        session.execute(
            select(DosingSession.patient_id, func.max(DosingSession.start))
            .where(
                DosingSession.patient_id.in_(patient_ids),
                DosingSession.status == SessionStatus.GIVEN,
                DosingSession.start <= now,
            )
            .group_by(DosingSession.patient_id)
        ).all()
    )
    upcoming = dict(
        session.execute(
            select(DosingSession.patient_id, func.min(DosingSession.start))
            .where(
                DosingSession.patient_id.in_(patient_ids),
                DosingSession.status == SessionStatus.PLANNED,
                DosingSession.start > now,
            )
            .group_by(DosingSession.patient_id)
        ).all()
    )
    return {
        patient_id: SessionsAround(_aware(last.get(patient_id)), _aware(upcoming.get(patient_id)))
        for patient_id in patient_ids
    }


def _aware(instant: datetime | None) -> datetime | None:
    """An aggregate over a UTC column comes back without the column type's conversion on some engines."""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    if instant is not None and instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant
