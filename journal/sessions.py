"""Treatment sessions (KET-R1): recording them, grouping them into courses, and what follows from them:
the preparation message the evening before, the patient's side-effect checks after (KET-R3), and the quiet
of the post-dose observation window (EMA-R3).

Only staff record sessions (SPEC 7.4); the patient answers the checks. Every write raises the patient's data
version, which is what the cached charts are keyed by.

A session has a version (``session_version``) that the API sends as its ETag and the page's form carries, so a
change made on top of an older read is refused instead of silently replacing a colleague's newer one.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from .baselines import apply_rule
from .models import (
    AuditEvent,
    CareTeamMember,
    CourseKind,
    DosingSession,
    Patient,
    PushSubscription,
    ReminderSettings,
    Role,
    SessionStatus,
    SideEffectCheck,
    TreatmentCourse,
    User,
)
from .outbox import insert_ignoring_duplicates
from .wording import N_

if TYPE_CHECKING:
    from .reminders import Recipient

CLOCK_SKEW = timedelta(minutes=5)
NOT_A_MONITOR = "Choose a clinician of the patient's care team as the one who monitored the patient."
DEFAULT_OBSERVATION = timedelta(minutes=120)  # esketamine REMS minimum (SPEC 7.4); used when none is recorded

# SPEC 7.5: preparation is health information, shown only inside the app, never in a reminder (PRIV-R1). Marked:
# the page shows each step in the patient's language.
PREPARATION = {
    "intranasal": [
        N_("No food for 2 hours before the session."),
        N_("No drinks for 30 minutes before."),
        N_("Use any nasal steroid or decongestant at least 1 hour before."),
        N_("Do not drive until the day after, after a restful sleep: arrange a ride home."),
    ],
    "default": [
        N_("Follow the fasting instructions your clinic gave you."),
        N_("Take your usual medicines unless your clinician told you otherwise."),
        N_("Do not drive until the day after, after a restful sleep: arrange a ride home."),
    ],
}


class SessionError(Exception):
    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


class SessionChanged(SessionError):
    """The session was changed after the version the writer read, so nothing is written: the API answers 412,
    the page 409 with the current record."""

    def __init__(self) -> None:
        super().__init__("version", "This session was changed since it was read.", status=412)


def bump_data_version(session: Session, patient_id: int) -> None:
    """In the writer's transaction: a cached chart of this patient is out of date from the commit on."""
    session.execute(update(Patient).where(Patient.user_id == patient_id).values(data_version=Patient.data_version + 1))


FIELDS = (
    "status", "start", "route", "product", "dose", "dose_unit", "weight_kg", "setting",
    "bp_systolic_pre", "bp_diastolic_pre", "heart_rate_pre", "bp_systolic_post", "bp_diastolic_post",
    "heart_rate_post", "dissociation_score", "observation_minutes", "discharge_at", "spo2_pre", "spo2_post",
    "sedation", "bp_systolic_discharge", "bp_diastolic_discharge", "heart_rate_discharge", "ready_to_leave_minutes",
    "lot_number", "transport_arranged", "escort", "spo2_pre_at", "spo2_post_at", "sedation_at",
    "concomitant_classes", "concomitant_medication", "monitored_by_id", "notes",
)  # fmt: skip
# Measured during or after dosing, so only on a given session. What is known before (the readings before dosing,
# the transport home and who takes the patient, the lot about to be used, the medication the patient takes, who is
# to monitor) may be entered on a planned one.
POST_DOSE = (
    "bp_systolic_post", "dissociation_score", "discharge_at", "spo2_post", "sedation", "bp_systolic_discharge",
    "heart_rate_discharge", "ready_to_leave_minutes", "spo2_post_at", "sedation_at",
)  # fmt: skip
READING_TIMES = ("spo2_pre_at", "spo2_post_at", "sedation_at")


def save_session(
    session: Session,
    patient: Patient,
    data: dict,
    now: datetime,
    user: User,
    existing: DosingSession | None = None,
) -> DosingSession:
    """Record a new session, or change ``existing`` (say, a planned session that was given) as it was loaded:
    if another writer changed it since, ``SessionChanged`` is raised and nothing is written. A caller holding a
    version from an earlier read checks it first (``check_version``). The caller audits and commits."""
    status = SessionStatus(data["status"])
    start = data["start"]
    if status == SessionStatus.GIVEN and start > now + CLOCK_SKEW:
        raise SessionError("start", "A given session cannot start in the future; record it as planned.")
    if data.get("discharge_at") is not None and data["discharge_at"] < start:
        raise SessionError("discharge_at", "Discharge cannot come before the start of the session.")
    if status != SessionStatus.GIVEN and any(data.get(name) is not None for name in POST_DOSE):
        raise SessionError("status", "Post-dose measures belong to a session that was given.")
    for name in READING_TIMES:  # where each falls around the start the schema has judged; this needs the clock
        if data.get(name) is not None and data[name] > now + CLOCK_SKEW:
            raise SessionError(name, "A reading cannot have been taken in the future.")
    _check_monitor(session, patient, data.get("monitored_by_id"), existing)
    if existing is None:
        record = DosingSession(patient_id=patient.user_id, created_at=now, entered_by_id=user.id)
        record.updated_at = now
    else:
        record = existing
        record.updated_at = _claim(session, existing, now)
    for name in FIELDS:
        setattr(record, name, data.get(name, getattr(record, name, None)))
    record.notes = (data.get("notes") or "").strip()
    record.lot_number = (record.lot_number or "").strip()
    record.escort = (record.escort or "").strip()
    record.concomitant_medication = (record.concomitant_medication or "").strip()
    # Only the classes answered are kept, so a class left out reads as not recorded; none answered is None.
    answered = {key: value for key, value in (record.concomitant_classes or {}).items() if value is not None}
    record.concomitant_classes = answered or None
    record.setting = data.get("setting") or "clinic"
    if data.get("course"):
        kind = CourseKind(data["course"])
        record.course = course_for(session, patient, kind, local_day(start, patient.user), user=user, now=now)
    session.add(record)
    session.flush()
    bump_data_version(session, patient.user_id)
    # PHQ-R9: a given session (or one no longer given) may move the first session of the course, and with it the
    # baselines the rule chooses; in this transaction, so the session is never stored without them.
    apply_rule(session, patient.user_id, patient.user.timezone, now)
    return record


def _check_monitor(session: Session, patient: Patient, monitor_id: int | None, existing: DosingSession | None) -> None:
    """``SessionError`` unless ``monitor_id`` is None or an active clinician on the patient's care team. A monitor
    the session already names stays valid (they may have left the team since), so an old record can be corrected.
    The message is the same whoever the id names, so it tells nothing about other teams' staff."""
    if monitor_id is None or (existing is not None and existing.monitored_by_id == monitor_id):
        return
    on_team = session.scalar(
        select(User.id)
        .join(CareTeamMember, CareTeamMember.clinician_id == User.id)
        .where(
            User.id == monitor_id,
            User.role == Role.CLINICIAN,
            User.disabled_at.is_(None),
            CareTeamMember.patient_id == patient.user_id,
        )
    )
    if on_team is None:
        raise SessionError("monitored_by_id", NOT_A_MONITOR)


def _claim(session: Session, record: DosingSession, now: datetime) -> datetime:
    """Take the right to change ``record`` as it was loaded, and return its new ``updated_at``.

    A conditional UPDATE, so of two writers that loaded the same row exactly one goes on: the second finds
    ``updated_at`` moved and gets ``SessionChanged``, never a silent overwrite. (It also takes the row's write
    lock, on PostgreSQL and SQLite alike, until the commit.) Every write moves ``updated_at`` strictly forward,
    even when two share a ``now`` or a clock steps back, so no write can leave it where another writer saw it."""
    read = record.updated_at
    changed = max(now, read + timedelta(microseconds=1))
    claimed = session.execute(
        update(DosingSession)
        .where(DosingSession.id == record.id, DosingSession.updated_at == read)
        .values(updated_at=changed)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise SessionChanged()
    return changed


def session_version(record: DosingSession) -> str:
    """The session's version: a digest of every stored column, so any change to the row, by any writer, gives a
    new one (a rewrite of the same values too, since ``updated_at`` always moves). Instants are taken in UTC
    and enums by value, so the version of a row just written equals that of the same row read back."""
    state = {attribute.key: _plain(getattr(record, attribute.key)) for attribute in inspect(DosingSession).column_attrs}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:32]


def _plain(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def check_version(record: DosingSession, read_version: str) -> None:
    """``SessionChanged`` unless ``record`` is still at the version its writer read."""
    if session_version(record) != read_version:
        raise SessionChanged()


def audit_detail(record: DosingSession) -> str:
    """What the audit trail names a session by (``session.write`` events); ``last_writer`` looks it up."""
    return f"session {record.id}"


def last_writer(session: Session, record: DosingSession) -> User | None:
    """Who last wrote this session, from the audit trail (the row keeps only who first entered it)."""
    return session.scalar(
        select(User)
        .join(AuditEvent, AuditEvent.actor_id == User.id)
        .where(
            AuditEvent.patient_id == record.patient_id,
            AuditEvent.action == "session.write",
            AuditEvent.detail == audit_detail(record),
        )
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(1)
    ) or (session.get(User, record.entered_by_id) if record.entered_by_id else None)


def local_day(instant: datetime, user: User) -> date:
    return instant.astimezone(ZoneInfo(user.timezone)).date()


def course_for(
    session: Session, patient: Patient, kind: CourseKind, day: date, *, user: User, now: datetime
) -> TreatmentCourse:
    """The patient's open course of this kind, or a new one starting ``day``. Starting a maintenance course
    ends an open induction series the day before (SPEC 7.2: the series, then boosters)."""
    course = session.scalar(
        select(TreatmentCourse)
        .where(
            TreatmentCourse.patient_id == patient.user_id,
            TreatmentCourse.kind == kind,
            TreatmentCourse.ended_on.is_(None),
        )
        .order_by(TreatmentCourse.started_on.desc())
        .limit(1)
    )
    if course is not None:
        course.started_on = min(course.started_on, day)
        return course
    if kind == CourseKind.MAINTENANCE:
        for induction in session.scalars(
            select(TreatmentCourse).where(
                TreatmentCourse.patient_id == patient.user_id,
                TreatmentCourse.kind == CourseKind.INDUCTION,
                TreatmentCourse.ended_on.is_(None),
            )
        ):
            induction.ended_on = day - timedelta(days=1)
    course = TreatmentCourse(
        patient_id=patient.user_id, kind=kind, started_on=day, created_at=now, created_by_id=user.id
    )
    session.add(course)
    return course


def sessions_of(session: Session, patient_id: int) -> list[DosingSession]:
    return list(
        session.scalars(
            select(DosingSession)
            .where(DosingSession.patient_id == patient_id)
            .order_by(DosingSession.start, DosingSession.id)
        )
    )


def preparation_for(route: str) -> list[str]:
    return PREPARATION.get(route, PREPARATION["default"])


# --- Around a session: preparation, the side-effect checks, the observation window ----------------------------
# SPEC 7.3 (KET-R3), 7.5, 10.2 (EMA-R3). Messages sent outside the app only say that there is something to see
# (PRIV-R1); what to do before the session and the questions after it are shown inside the app.

CHECK_KINDS = ("morning_after", "72h")
MORNING_AFTER_AT = time(9, 0)  # local wall-clock time on the day after the session's local date
CHECK_AFTER = timedelta(hours=72)
MESSAGE_LIFE = timedelta(hours=24)  # a follow-up message undelivered this long after it fell due is dropped
CHECK_CHANGEABLE = timedelta(hours=24)  # after the first answer (or skip), answers may be changed this long
DEFAULT_CHECK_WINDOW = timedelta(hours=48)  # Clinic.check_window_hours's default: how long a check stays open
LONGEST_CHECK_WINDOW = timedelta(days=14)  # sessions whose checks may still be open are looked for this far back
LONGEST_OBSERVATION = timedelta(hours=24)  # "on session days": a window is never looked for further back
# Sessions the job looks at: the last follow-up (72 h) expires 96 h after the start; a session "tomorrow" in the
# patient's zone starts at most 48 h (49 h across a DST change) after now.
FOLLOW_UP_HORIZON = CHECK_AFTER + MESSAGE_LIFE
PREP_HORIZON = timedelta(hours=50)
ACTIVE = (SessionStatus.PLANNED, SessionStatus.GIVEN)


class CheckState(enum.StrEnum):
    NOT_GIVEN = "not_given"  # the session is planned: nothing to ask yet
    NOT_YET = "not_yet"  # given, but the check has not fallen due
    DUE = "due"  # open: from its time until the next check opens or the clinic's window ends
    CLOSED = "closed"


def check_due_at(start: datetime, kind: str, zone: ZoneInfo) -> datetime:
    """KET-R3: the morning-after check at 09:00 local the day after the session's local date; the second at
    start + 72 h."""
    if kind == "72h":
        return start + CHECK_AFTER
    day = start.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, MORNING_AFTER_AT, tzinfo=zone).astimezone(UTC)


def check_closes_at(start: datetime, kind: str, zone: ZoneInfo, window: timedelta = DEFAULT_CHECK_WINDOW) -> datetime:
    """A check closes when the next one opens (the morning-after check at the 72-hour one) or ``window`` after
    it opened, whichever comes first."""
    closes = check_due_at(start, kind, zone) + window
    later = CHECK_KINDS[CHECK_KINDS.index(kind) + 1 :]
    if later:
        closes = min(closes, check_due_at(start, later[0], zone))
    return closes


def observation_end(start: datetime, observation_minutes: int | None) -> datetime:
    """EMA-R3: the post-dose observation window runs from the start for the recorded minutes (or the default)."""
    minutes = timedelta(minutes=observation_minutes) if observation_minutes else DEFAULT_OBSERVATION
    return start + minutes


def in_observation(windows: list[tuple[datetime, int | None]], now: datetime) -> bool:
    return any(start <= now < observation_end(start, minutes) for start, minutes in windows)


def observing_patients(session: Session, patient_ids: list[int], now: datetime) -> set[int]:
    """Of these patients, those in a post-dose observation window at ``now`` (EMA-R3), in one statement. A
    planned session counts too: it is often marked as given only after the patient has gone home.

    The patients are looked for by the range of their ids rather than in an ``IN`` list, which for the
    reminder job's thousands of ids is slow to send; sessions of others in the range are passed over."""
    if not patient_ids:
        return set()
    wanted = set(patient_ids)
    rows = session.execute(
        select(DosingSession.patient_id, DosingSession.start, DosingSession.observation_minutes).where(
            DosingSession.patient_id.between(min(wanted), max(wanted)),
            DosingSession.status.in_(ACTIVE),
            DosingSession.start <= now,
            DosingSession.start > now - LONGEST_OBSERVATION,
        )
    ).all()
    return {
        patient_id
        for patient_id, start, minutes in rows
        if patient_id in wanted and in_observation([(start, minutes)], now)
    }


def check_state(
    dosing_session: DosingSession, kind: str, zone: ZoneInfo, now: datetime, window: timedelta = DEFAULT_CHECK_WINDOW
) -> CheckState:
    if dosing_session.status != SessionStatus.GIVEN:
        return CheckState.NOT_GIVEN
    if now < check_due_at(dosing_session.start, kind, zone):
        return CheckState.NOT_YET
    return CheckState.DUE if now < check_closes_at(dosing_session.start, kind, zone, window) else CheckState.CLOSED


def side_effect_check(session: Session, session_id: int, kind: str) -> SideEffectCheck | None:
    return session.scalar(
        select(SideEffectCheck).where(SideEffectCheck.session_id == session_id, SideEffectCheck.kind == kind)
    )


def check_changeable(check: SideEffectCheck, now: datetime) -> bool:
    return now < check.completed_at + CHECK_CHANGEABLE


def save_side_effect_check(
    session: Session,
    dosing_session: DosingSession,
    kind: str,
    answers: dict | None,
    now: datetime,
    zone: ZoneInfo,
    window: timedelta = DEFAULT_CHECK_WINDOW,
) -> SideEffectCheck:
    """Store the patient's KET-R3 check (``answers`` None: skipped). One per session and kind: a second
    submission within 24 h of the first replaces its answers (a mistaken skip can be undone, a repeated
    submission changes nothing); later, it is refused with a 409. ``completed_at`` stays the first answer's
    time, and a first answer is only taken while the check is open (409 once it has closed). The answers that need
    a person raise their alerts in the same transaction. The caller commits; a simultaneous first submission ends
    in an IntegrityError on the unique key."""
    from .session_checks import raise_check_alerts  # it imports alerts, which must not load with this module

    state = check_state(dosing_session, kind, zone, now, window)
    if state == CheckState.NOT_YET or state == CheckState.NOT_GIVEN:
        raise SessionError("form", N_("This check is not open yet."), status=409)
    check = side_effect_check(session, dosing_session.id, kind)
    if check is None and state == CheckState.CLOSED:
        raise SessionError("form", N_("This check has closed."), status=409)
    if check is None:
        check = SideEffectCheck(session_id=dosing_session.id, patient_id=dosing_session.patient_id, kind=kind)
        check.completed_at = now
        session.add(check)
    elif not check_changeable(check, now):
        raise SessionError(
            "form", N_("These answers were sent more than a day ago and can no longer be changed."), 409
        )  # marked: the patient's page shows it in their language
    check.skipped = answers is None
    check.answers = {} if answers is None else {name: value for name, value in answers.items() if value is not None}
    session.flush()
    bump_data_version(session, dosing_session.patient_id)
    raise_check_alerts(session, check, now)
    return check


@dataclass(frozen=True)
class DueCheck:
    session_id: int
    start: datetime
    kind: str
    due_at: datetime


@dataclass(frozen=True)
class SessionCards:
    """What the patient's home page shows about sessions."""

    next_planned: DosingSession | None
    due_checks: list[DueCheck]


def session_cards(
    session: Session, user: User, now: datetime, window: timedelta = DEFAULT_CHECK_WINDOW
) -> SessionCards:
    """The next planned session, and the side-effect checks that are open and unanswered (two statements)."""
    zone = ZoneInfo(user.timezone)
    next_planned = session.scalar(
        select(DosingSession)
        .where(
            DosingSession.patient_id == user.id,
            DosingSession.status == SessionStatus.PLANNED,
            DosingSession.start > now,
        )
        .order_by(DosingSession.start, DosingSession.id)
        .limit(1)
    )
    answered = (
        select(SideEffectCheck.id)
        .where(SideEffectCheck.session_id == DosingSession.id, SideEffectCheck.kind == kind)
        .exists()
        for kind in CHECK_KINDS
    )
    rows = session.execute(
        select(DosingSession.id, DosingSession.start, *answered)
        .where(
            DosingSession.patient_id == user.id,
            DosingSession.status == SessionStatus.GIVEN,
            DosingSession.start > now - CHECK_AFTER - min(window, LONGEST_CHECK_WINDOW),
            DosingSession.start <= now,
        )
        .order_by(DosingSession.start, DosingSession.id)
    ).all()
    due = []
    for session_id, start, *done in rows:
        for kind, answered_already in zip(CHECK_KINDS, done, strict=True):
            due_at = check_due_at(start, kind, zone)
            if not answered_already and due_at <= now < check_closes_at(start, kind, zone, window):
                due.append(DueCheck(session_id, start, kind, due_at))
    return SessionCards(next_planned, due)


def queue_session_messages(session: Session, now: datetime, *, batch: int = 1000) -> int:
    """Queue the messages that sessions call for at ``now``; returns how many rows were new.

    - The evening before a planned session (its local date is tomorrow in the patient's zone), one neutral
      message at the patient's reminder time, under the daily reminder's rules (paused, quiet hours), leading
      to the preparation page (SPEC 7.5); it expires at local midnight.
    - After a given session, the KET-R3 checks: the morning after (09:00 local) and at 72 h, each while it is
      unanswered and for 24 h after it fell due; paused reminders and quiet hours hold them back too.
    - Nothing while the patient is in a post-dose observation window (EMA-R3); the first run after it sends.

    Patients are taken ``batch`` at a time with a fixed number of statements per batch; the outbox's unique
    keys make a rerun, or a second scheduler, harmless.
    """
    # reminders imports this module (for EMA-R3), so its rules are imported when the job runs.
    from .reminders import Recipient

    has_sessions = select(DosingSession.id).where(DosingSession.patient_id == User.id, *_in_horizon(now)).exists()
    queued = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(User.id, User.timezone, User.email, User.activated_at, ReminderSettings)
            .join(Patient, Patient.user_id == User.id)
            .outerjoin(ReminderSettings, ReminderSettings.patient_id == User.id)
            .where(
                User.role == Role.PATIENT,
                User.activated_at.is_not(None),
                User.disabled_at.is_(None),
                User.id > last_id,
                has_sessions,  # most patients have no session near: they are not even loaded
            )
            .order_by(User.id)
            .limit(batch)
        ).all()
        if not rows:
            return queued
        last_id = rows[-1][0]
        recipients = [
            Recipient(pid, zone, email, settings, activated.astimezone(ZoneInfo(zone)).date())
            for pid, zone, email, activated, settings in rows
        ]
        queued += _queue_session_batch(session, now, recipients)
        session.commit()


def _in_horizon(now: datetime) -> tuple:
    """The sessions that may call for a message at ``now``."""
    return (
        DosingSession.status.in_(ACTIVE),
        DosingSession.start > now - FOLLOW_UP_HORIZON,
        DosingSession.start <= now + PREP_HORIZON,
    )


def _queue_session_batch(session: Session, now: datetime, recipients: list[Recipient]) -> int:
    from .reminders import channel_messages, in_quiet_hours, next_local_midnight, parse_hhmm, reminder_due

    by_id = {r.patient_id: r for r in recipients}
    answered = (
        select(SideEffectCheck.id)
        .where(SideEffectCheck.session_id == DosingSession.id, SideEffectCheck.kind == kind)
        .exists()
        for kind in CHECK_KINDS
    )
    sessions = session.execute(
        select(
            DosingSession.id,
            DosingSession.patient_id,
            DosingSession.status,
            DosingSession.start,
            DosingSession.observation_minutes,
            *answered,
        ).where(DosingSession.patient_id.in_(list(by_id)), *_in_horizon(now))
    ).all()
    if not sessions:
        return 0
    windows: dict[int, list[tuple[datetime, int | None]]] = defaultdict(list)
    for _id, patient_id, _status, start, minutes, *_done in sessions:
        windows[patient_id].append((start, minutes))
    devices = _push_devices(session, [r for r in recipients if r.patient_id in windows])

    messages = []
    for session_id, patient_id, status, start, _minutes, *done in sessions:
        recipient = by_id[patient_id]
        if in_observation(windows[patient_id], now):
            continue  # EMA-R3: the first run after the window sends it (same key, so once)
        zone = ZoneInfo(recipient.zone)
        local = now.astimezone(zone)
        if status == SessionStatus.PLANNED:
            if start.astimezone(zone).date() == local.date() + timedelta(days=1) and reminder_due(
                local, recipient, checked_in_today=False
            ):
                messages += channel_messages(
                    recipient, f"prep:{session_id}", "session_prep", f"/sessions/{session_id}/prepare",
                    next_local_midnight(local), now, devices,
                )  # fmt: skip
            continue
        settings = recipient.settings
        if settings is not None and (
            settings.paused
            or in_quiet_hours(local.time(), parse_hhmm(settings.quiet_start), parse_hhmm(settings.quiet_end))
        ):
            continue
        for kind, answered_already in zip(CHECK_KINDS, done, strict=True):
            due_at = check_due_at(start, kind, zone)
            if not answered_already and due_at <= now < due_at + MESSAGE_LIFE:
                messages += channel_messages(
                    recipient, f"followup:{session_id}:{kind}", "side_effect_check",
                    f"/sessions/{session_id}/check/{kind}", due_at + MESSAGE_LIFE, now, devices,
                )  # fmt: skip
    return insert_ignoring_duplicates(session, messages)


def _push_devices(session: Session, recipients: list[Recipient]) -> dict[int, list[int]]:
    wants_push = [r.patient_id for r in recipients if r.settings is not None and r.settings.webpush]
    devices: dict[int, list[int]] = defaultdict(list)
    if wants_push:
        for user_id, subscription_id in session.execute(
            select(PushSubscription.user_id, PushSubscription.id).where(PushSubscription.user_id.in_(wants_push))
        ):
            devices[user_id].append(subscription_id)
    return devices
