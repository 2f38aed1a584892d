"""Daily reminders: who is due one now, and queueing it in the outbox exactly once.

Rules (issue "reminders that arrive exactly once", SPEC EMA-R1..R5):
- due at the first scheduler run at or after the patient's local reminder time, on a local date with no
  check-in, outside quiet hours, once per local date and channel (the outbox key says so);
- a day that is over is never reminded of (a reminder expires at the patient's local midnight);
- after ``missed_limit`` consecutive missed days reminders stop, and the care team gets one alert for that
  run of missed days instead; a check-in resumes them;
- EMA-R2: one follow-up reminder, the clinic's ``follow_up_minutes`` after the first, if that day's check-in is
  still not saved; under the same rules (quiet hours, pause, observation window) and its own key, so once;
  never more than that (EMA-R3);
- when a questionnaire falls due by the clinic's schedules (journal/schedules.py), one more neutral message, at
  the same time and under the same rules: at most one a day, and only when something became available since the
  last one, so a questionnaire already due, or left half done, never brings a second nudge (EMA-R3); it never
  names the questionnaire (PRIV-R1);
- nothing while the patient is in a post-dose observation window (EMA-R3): a reminder due then goes at the
  first run after the window, under the same key, so still once.
Wall-clock comparison in the patient's zone is what makes skipped and repeated hours come out right: on a
spring-forward day a 02:30 reminder goes at the first run after the jump; on a fall-back day the first
02:30 sends it and the second finds it already queued.

The job runs every minute over every patient, so it is written for 100,000 of them (bench: ``make bench``).
Patients go in batches of consecutive ids; each batch reads plain columns (no ORM objects) with a handful of
statements that select by the batch's id range (an ``IN`` list of thousands of ids is slow to send), has the
database sum up check-ins to a few flags per patient and set apart the forms still inside every minimum gap,
works out each zone's local clock, each clinic's settings and each programme's rules once per run, and writes
its messages with one ``INSERT ... SELECT`` from a JSON parameter, guarded by the same unique keys as ever.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Row, String, and_, bindparam, case, cast, column, delete, func, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from . import instruments, schedules
from .channels import PushEndpointRefused, PushEndpoints
from .models import (
    Alert,
    Assessment,
    CareTeamMember,
    CheckIn,
    Clinic,
    OutboxMessage,
    Patient,
    PushSubscription,
    ReminderSettings,
    Role,
    SmsConsent,
    User,
)
from .outbox import insert_ignoring_duplicates, queue_alert_notifications
from .sessions import observing_patients
from .wording import ENGLISH, N_, Language

DEFAULT_TIME = time(20, 0)
BATCH = 5000  # consecutive user ids per batch: each batch costs the same few statements


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


class Settings(NamedTuple):
    """A patient's ``ReminderSettings`` as the rules read them: plain values, so that patients with the same
    settings in the same zone share one answer."""

    local_time: str
    email: bool
    webpush: bool
    quiet_start: str | None
    quiet_end: str | None
    paused: bool
    sms: bool = False


@dataclass(frozen=True)
class Recipient:
    """What the rules need to know about one patient (the session messages' job loads these)."""

    patient_id: int
    zone: str
    email: str
    settings: ReminderSettings | Settings | None
    active_since: date


def reminder_time_reached(local_now: datetime, settings: ReminderSettings | Settings | None) -> bool:
    """At or after the reminder time, outside quiet hours, not paused (None: the default settings)."""
    if settings is not None and settings.paused:
        return False
    at = parse_hhmm(settings.local_time) if settings else DEFAULT_TIME
    quiet = (parse_hhmm(settings.quiet_start), parse_hhmm(settings.quiet_end)) if settings else (None, None)
    return local_now.time() >= at and not in_quiet_hours(local_now.time(), *quiet)


def reminder_due(local_now: datetime, recipient: Recipient, checked_in_today: bool) -> bool:
    return not checked_in_today and reminder_time_reached(local_now, recipient.settings)


def missed_run(checked_in_before: bool, missed_days: tuple[date, ...], active_since: date) -> bool:
    """Were the ``limit`` days before today (``missed_days``) all missed, counting only days the account was
    active? ``checked_in_before``: is there a check-in on one of them."""
    return not checked_in_before and all(day >= active_since for day in missed_days)


@dataclass(frozen=True)
class LocalClock:
    """``now`` on the wall clock of one zone, and what follows from it: the same for every patient there, so
    worked out once per zone and run."""

    zone: ZoneInfo
    now: datetime
    today: date
    today_key: str  # today as the outbox keys spell it
    expires_at: datetime  # today's reminders end at local midnight
    missed_days: tuple[date, ...]  # the days a run of missed check-ins is counted over, yesterday first

    @classmethod
    def of(cls, zone_name: str, now: datetime, missed_limit: int) -> LocalClock:
        zone = ZoneInfo(zone_name)
        local = now.astimezone(zone)
        today = local.date()
        missed_days = tuple(today - timedelta(days=n) for n in range(1, missed_limit + 1))
        return cls(zone, local, today, today.isoformat(), next_local_midnight(local), missed_days)


class _Clocks(dict):
    """zone name -> LocalClock, each made the first time a patient in that zone is seen."""

    def __init__(self, now: datetime, missed_limit: int):
        super().__init__()
        self.instant = now
        self.missed_limit = missed_limit

    def __missing__(self, zone_name: str) -> LocalClock:
        clock = self[zone_name] = LocalClock.of(zone_name, self.instant, self.missed_limit)
        return clock


def queue_daily_reminders(session: Session, now: datetime, *, missed_limit: int = 3) -> int:
    """Queue every reminder due at ``now``; raise missed-check-in alerts. Returns how many rows were new.

    Patients are taken in batches of ``BATCH`` consecutive user ids, with a fixed number of statements per
    batch whatever the number of patients; the unique keys make a second scheduler, or a rerun, harmless.
    """
    clocks = _Clocks(now, missed_limit)
    reached: dict[tuple[str, Settings | None], bool] = {}  # reminder_time_reached, per zone and settings
    cadence = _Schedules(schedules.clinic_rows(session))
    clinics = _Clinics(session)
    queued = 0
    last_id = session.scalar(select(func.max(User.id))) or 0
    with _cycle_collector_paused():
        for after_id in range(0, last_id, BATCH):
            id_range = (after_id, after_id + BATCH)
            # On the connection: plain columns need none of the ORM's per-row work. Named tuples, because a
            # row's attributes by name cost more than the rest of the loop.
            patients = list(map(_Patient._make, session.connection().execute(_patients_in(id_range)).all()))
            if patients:
                queued += _queue_batch(session, now, id_range, patients, clocks, reached, cadence, clinics)
                session.commit()
    return queued


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector. A batch holds thousands of rows, tuples and lists at once, and
    each few thousand new ones make the collector walk every object in the process again: a third of the
    run's time at 100,000 patients. None of them is in a reference cycle, so reference counting frees them
    all the same; the collector resumes (and catches up) afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Patient(NamedTuple):
    """One row of ``_patients_in``, in its column order."""

    id: int
    zone: str
    email: str
    activated_at: datetime
    induction_until: date | None
    indications_json: str | None  # the stored JSON text: parsed once per programme (``_Schedules._programme``)
    clinic_id: int
    # the reminder settings; all None without a settings row (the defaults then)
    settings_of: int | None
    local_time: str | None
    email_on: bool | None
    webpush: bool | None
    quiet_start: str | None
    quiet_end: str | None
    paused: bool | None
    sms: bool | None
    # the number texts may go to: their phone, when their consent in force names it (journal/sms.py)
    sms_phone: str | None

    def settings(self) -> Settings | None:
        if self.settings_of is None:
            return None
        return Settings(
            self.local_time, self.email_on, self.webpush, self.quiet_start, self.quiet_end, self.paused, self.sms
        )


class _Clinic(NamedTuple):
    """What the rules read of a patient's clinic."""

    # its questionnaire cadence (PHQ-R13), under the names ``schedules.interval_days`` reads
    assessment_interval_days: int
    weekly_during_induction: bool
    depression_instrument: str  # SAFE-R4
    follow_up_minutes: int | None  # EMA-R2


class _Clinics(dict):
    """clinic id -> _Clinic: every clinic's, read once per run rather than with each of its patients; one made
    during the run is read when its first patient is seen."""

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self._read()

    def _read(self, *where) -> None:
        query = select(Clinic.id, *(getattr(Clinic, name) for name in _Clinic._fields)).where(*where)
        for clinic_id, *values in self.session.connection().execute(query):
            self[clinic_id] = _Clinic(*values)

    def __missing__(self, clinic_id: int) -> _Clinic:
        self._read(Clinic.id == clinic_id)
        if clinic_id not in self:
            raise KeyError(clinic_id)
        return self.get(clinic_id)


def _patients_in(id_range: tuple[int, int]):
    """The active patients with ids in ``id_range`` (after, last], as ``_Patient`` columns.

    The range is given on each joined table's key, not only on the user's: PostgreSQL does not carry a range
    across a join, and without statistics (after a bulk import, say) it would scan the whole table each time.
    """
    after, last = id_range
    return (
        select(
            User.id,
            User.timezone,
            User.email,
            User.activated_at,
            Patient.induction_until,
            cast(Patient.indications, String),
            User.clinic_id,
            ReminderSettings.patient_id,
            ReminderSettings.local_time,
            ReminderSettings.email,
            ReminderSettings.webpush,
            ReminderSettings.quiet_start,
            ReminderSettings.quiet_end,
            ReminderSettings.paused,
            ReminderSettings.sms,
            SmsConsent.phone,
        )
        .join(Patient, and_(Patient.user_id == User.id, Patient.user_id > after, Patient.user_id <= last))
        .outerjoin(
            ReminderSettings,
            and_(
                ReminderSettings.patient_id == User.id,
                ReminderSettings.patient_id > after,
                ReminderSettings.patient_id <= last,
            ),
        )
        .outerjoin(
            SmsConsent,
            and_(
                SmsConsent.patient_id == User.id,
                SmsConsent.withdrawn_at.is_(None),
                SmsConsent.phone == Patient.phone,
                SmsConsent.patient_id > after,
                SmsConsent.patient_id <= last,
            ),
        )
        .where(
            User.role == Role.PATIENT,
            User.activated_at.is_not(None),
            User.disabled_at.is_(None),
            User.id > after,
            User.id <= last,
        )
    )


def _queue_batch(
    session: Session,
    now: datetime,
    id_range: tuple[int, int],
    patients: list[_Patient],
    clocks: _Clocks,
    reached: dict[tuple[str, Settings | None], bool],
    cadence: _Schedules,
    clinics: _Clinics,
) -> int:
    """Queue what is due for these patients. The other tables are read by the batch's id range, which may hold
    a few rows of others (disabled patients, say); those are never looked up."""
    # The local dates the batch's patients are on: one, unless their zones straddle a midnight.
    todays = sorted({clocks[patient.zone].today for patient in patients})
    checkins = _checkins(session, id_range, todays, clocks.missed_limit)
    flag_column = {today: 1 + 2 * n for n, today in enumerate(todays)}  # in a row of ``checkins``
    completions = _last_completions(session, id_range, inside_every_gap_from(todays[-1], cadence.shortest_gap))
    anchors = schedules.session_anchors(session, id_range, now) if cadence.uses_sessions else {}
    wants_push = {patient.id for patient in patients if patient.webpush}
    devices = _push_devices(session, id_range, wants_push) if wants_push else {}
    observing = observing_patients(session, [patient.id for patient in patients], now)

    messages: list[tuple] = []
    missed: list[tuple[int, date]] = []
    questionnaires_due: list[tuple[_Patient, _Clinic, list, LocalClock, date, datetime]] = []
    # (patient, their clinic's minutes, channels, clock): not checked in, and the day's reminder time reached
    follow_ups: list[tuple[_Patient, int, list, LocalClock]] = []
    follow_up_times: dict[tuple, bool] = {}  # _follow_up_possible, per zone, settings and minutes
    for patient in patients:
        clock = clocks[patient.zone]
        clinic = clinics[patient.clinic_id]
        checked = checkins.get(patient.id, _NO_CHECKINS)
        column = flag_column[clock.today]
        checked_in_today, checked_in_before = checked[column], checked[column + 1]
        active_since = patient.activated_at.astimezone(clock.zone).date()
        if missed_run(checked_in_before, clock.missed_days, active_since):
            missed.append((patient.id, active_since))
            continue
        if patient.id in observing:
            continue  # EMA-R3: held back until the observation window is over
        settings = patient.settings()
        if (patient.zone, settings) not in reached:
            reached[patient.zone, settings] = reminder_time_reached(clock.now, settings)
        if not reached[patient.zone, settings]:
            continue  # neither message goes before the reminder time, in quiet hours, or while paused
        channels = _channels(patient.email, settings, devices.get(patient.id, ()), patient.sms_phone)
        if not checked_in_today:
            key = f"reminder:{patient.id}:{clock.today_key}"
            messages += _message_rows(patient.id, key, channels, "daily_reminder", "/checkin", clock.expires_at)
            possible = (patient.zone, settings, clinic.follow_up_minutes)
            if possible not in follow_up_times:
                follow_up_times[possible] = _follow_up_possible(clock, settings, clinic.follow_up_minutes)
            if follow_up_times[possible]:
                follow_ups.append((patient, clinic.follow_up_minutes, channels, clock))
        completed = completions.get(patient.id, {})
        due = cadence.due(patient, clinic, active_since, completed, anchors.get(patient.id), clock)
        if due:
            # Not by text: the texts' promised frequency is the daily reminder and its follow-up.
            by_app = [channel for channel in channels if channel[1] != "sms"]
            questionnaires_due.append((patient, clinic, by_app, clock, active_since, max(d.available_at for d in due)))
    if follow_ups:
        first_reminders = _first_reminders(session, id_range, now)
        for patient, minutes, channels, clock in follow_ups:
            if follow_up_due(minutes, first_reminders.get((patient.id, clock.today)), now):
                # EMA-R2: the one follow-up, with the first's neutral text; its own key makes it once.
                key = f"follow-up:{patient.id}:{clock.today_key}"
                messages += _message_rows(patient.id, key, channels, "daily_reminder", "/checkin", clock.expires_at)
    if questionnaires_due:
        # Whether a form is due never depends on when its indication was added, only when it became available
        # (schedules.due_since): so the programme's history is read only for a batch with someone due, and only a
        # patient whose programme took an indication on after enrolment has their newest worked out again.
        added = schedules.indications_added(session, id_range)
        last_sent = _last_questionnaire_reminders(session, id_range)
        for patient, clinic, channels, clock, active_since, newest in questionnaires_due:
            if patient.id in added:
                completed, sessions = completions.get(patient.id, {}), anchors.get(patient.id)
                due = cadence.due(patient, clinic, active_since, completed, sessions, clock, added[patient.id])
                newest = max(d.available_at for d in due)
            # One message a day at most, and only for a questionnaire that became available since the last one:
            # one already due, or left half done, never brings a second (EMA-R3).
            if patient.id not in last_sent or newest > last_sent[patient.id]:
                key = f"assessment:{patient.id}:{clock.today_key}"
                messages += _message_rows(patient.id, key, channels, "assessment_due", "/assessments", clock.expires_at)
    queued = _insert_messages(session, now, messages)
    if missed:
        queued += _raise_missed_alerts(session, now, missed)
    return queued


def _checkins(session: Session, id_range: tuple[int, int], todays: list[date], missed_limit: int) -> dict[int, Row]:
    """patient id -> (id, then for each of ``todays``, in order: checked in that day, checked in on one of the
    ``missed_limit`` days before it, as 0 or 1); for the patients in ``id_range`` with any check-in then.

    Summed up by the database: one row per patient instead of one per check-in. Flags only for the local dates
    some patient of the batch is on (usually one of the three possible): they are most of the statement's work."""
    after, last = id_range
    flags = []
    for today in todays:
        days_before = (today - timedelta(days=missed_limit), today - timedelta(days=1))
        flags.append(func.max(case((CheckIn.local_date == today, 1), else_=0)))
        flags.append(func.max(case((CheckIn.local_date.between(*days_before), 1), else_=0)))
    rows = session.connection().execute(
        select(CheckIn.patient_id, *flags)
        .where(
            CheckIn.patient_id > after,
            CheckIn.patient_id <= last,
            CheckIn.local_date.between(todays[0] - timedelta(days=missed_limit), todays[-1]),
        )
        .group_by(CheckIn.patient_id)
    )
    return {row[0]: row for row in rows.all()}


_NO_CHECKINS = (None, 0, 0, 0, 0, 0, 0)


def inside_every_gap_from(latest_today: date, shortest_gap: int) -> datetime:
    """The instant from which a completed form is still inside its minimum gap, whatever its schedule
    (``shortest_gap`` days or more), for a patient whose local date is ``latest_today`` or earlier.

    No form is due before the local date ``schedules.reopens_on`` its last one, ``min_gap_days`` after that one's
    local date. No zone is more than 12 hours behind UTC, so from noon UTC on a date every zone's calendar shows
    that date or a later one."""
    first_inside = latest_today - timedelta(days=shortest_gap - 1)
    return datetime.combine(first_inside, time(12), tzinfo=UTC)


# A form completed too recently to be due under any schedule (``_last_completions``).
_INSIDE_EVERY_GAP = "inside every minimum gap"


def _last_completions(
    session: Session, id_range: tuple[int, int], inside_from: datetime
) -> dict[int, dict[str, datetime | str]]:
    """patient id -> instrument -> when it was last completed, as ``schedules.last_completions`` has it, except
    that a form completed at or after ``inside_from`` is ``_INSIDE_EVERY_GAP``: the database tells
    those apart, so the run neither turns their instants into Python values nor works out their rules (on a
    typical evening, most forms were filled in within the last week)."""
    after, last = id_range
    completed = func.max(Assessment.completed_at)
    found: dict[int, dict[str, datetime | str]] = {}
    for patient_id, instrument, completed_at in (
        session.connection()
        .execute(
            select(Assessment.patient_id, Assessment.instrument, case((completed < inside_from, completed)))
            .where(Assessment.patient_id > after, Assessment.patient_id <= last)
            .group_by(Assessment.patient_id, Assessment.instrument)
        )
        .all()
    ):
        found.setdefault(patient_id, {})[instrument] = _INSIDE_EVERY_GAP if completed_at is None else completed_at
    return found


def _first_reminders(session: Session, id_range: tuple[int, int], now: datetime) -> dict[tuple[int, date], datetime]:
    """(patient id, local date) -> when that day's first reminder was queued, for the patients in ``id_range``
    reminded since the start of any local today."""
    after, last = id_range
    rows = session.execute(
        select(OutboxMessage.recipient_id, OutboxMessage.dedup_key, OutboxMessage.created_at).where(
            OutboxMessage.recipient_id > after,
            OutboxMessage.recipient_id <= last,
            OutboxMessage.template == "daily_reminder",
            OutboxMessage.created_at > now - timedelta(hours=26),  # a local day is at most 25 hours long
            OutboxMessage.dedup_key.startswith("reminder:"),
        )
    )
    first: dict[tuple[int, date], datetime] = {}
    for patient_id, key, created_at in rows:
        day = date.fromisoformat(key.split(":")[2])  # reminder:<patient>:<local date>:<channel>
        if (patient_id, day) not in first or created_at < first[patient_id, day]:
            first[patient_id, day] = created_at
    return first


def _last_questionnaire_reminders(session: Session, id_range: tuple[int, int]) -> dict[int, datetime]:
    """patient id -> when their last questionnaire reminder was queued, for the patients in ``id_range``."""
    after, last = id_range
    return dict(
        session.execute(
            select(OutboxMessage.recipient_id, func.max(OutboxMessage.created_at))
            .where(
                OutboxMessage.recipient_id > after,
                OutboxMessage.recipient_id <= last,
                OutboxMessage.template == "assessment_due",
            )
            .group_by(OutboxMessage.recipient_id)
        ).all()
    )


def _follow_up_possible(clock: LocalClock, settings: Settings | None, minutes: int | None) -> bool:
    """Could a follow-up be due yet? Not before ``minutes`` after the reminder time, since the first goes at it or
    later: this spares the outbox query for everyone in the hours before."""
    if minutes is None:
        return False
    at = parse_hhmm(settings.local_time) if settings else DEFAULT_TIME
    # The earliest instant the wall clock showed that time today: the first of a repeated hour, or the jump itself
    # when it was skipped (each reading, fold 0 and 1, taken as an instant).
    # In UTC: aware datetimes of one zone compare and add on the wall clock, ignoring the fold.
    local = datetime.combine(clock.today, at, tzinfo=clock.zone)
    earliest = min(local.replace(fold=fold).astimezone(UTC) for fold in (0, 1))
    return clock.now.astimezone(UTC) >= earliest + timedelta(minutes=minutes)


def follow_up_due(minutes: int | None, first_queued: datetime | None, now: datetime) -> bool:
    """EMA-R2: ``minutes`` after the day's first reminder (None: the clinic sends no follow-up). The caller has
    checked the rest: no check-in that day, reminder time reached outside quiet hours, not paused, no
    observation window."""
    return minutes is not None and first_queued is not None and now - first_queued >= timedelta(minutes=minutes)


def _push_devices(session: Session, id_range: tuple[int, int], wanted: set[int]) -> dict[int, list[int]]:
    """user id -> their push subscription ids, for the ``wanted`` users (who turned Web Push on)."""
    after, last = id_range
    devices: dict[int, list[int]] = {}
    for user_id, subscription_id in session.execute(
        select(PushSubscription.user_id, PushSubscription.id).where(
            PushSubscription.user_id > after, PushSubscription.user_id <= last
        )
    ):
        if user_id in wanted:
            devices.setdefault(user_id, []).append(subscription_id)
    return devices


class _Schedules:
    """The clinics' questionnaire schedules for one run: which instruments with which rules, worked out once per
    programme (indications, clinic, its depression questionnaire, the interval in force) rather than per patient."""

    def __init__(self, rows: dict[tuple[int, str], schedules.Rules]):
        self.rows = rows
        self.uses_sessions = schedules.uses_sessions(rows.values())
        self._programmes: dict[tuple, list[tuple[str, str, schedules.Rules]]] = {}
        defaults = (instrument.schedule for instrument in instruments.ALL.values())
        self.shortest_gap = min(rules.min_gap_days for rules in (*defaults, *rows.values()))

    def _programme(
        self, patient: _Patient, clinic: _Clinic, interval: int, today: date
    ) -> list[tuple[str, str, schedules.Rules]]:
        key = (patient.indications_json, patient.clinic_id, interval)  # the clinic's settings hold for the run
        if key not in self._programmes:
            indications = tuple(json.loads(patient.indications_json or "null") or ())
            chosen = schedules.scheduled_instruments(indications, clinic.depression_instrument)
            self._programmes[key] = [
                (
                    instrument.key,
                    instrument.indication,
                    schedules.rules_for(
                        instrument,
                        self.rows.get((patient.clinic_id, instrument.key)),
                        clinic,
                        patient.induction_until,
                        today,
                    ),
                )
                for instrument in chosen
            ]
        return self._programmes[key]

    def due(
        self,
        patient: _Patient,
        clinic: _Clinic,
        active_since: date,
        completed: dict[str, datetime | str],
        sessions: tuple[datetime | None, datetime | None] | None,
        clock: LocalClock,
        added: dict[str, datetime] | None = None,
    ) -> list[schedules.Due]:
        """What the patient is due to fill in at ``clock.now``; ``added``: when each indication the programme took on
        after enrolment was added (``schedules.indications_added``)."""
        interval = schedules.interval_days(clinic, patient.induction_until, clock.today)
        given, planned = sessions or (None, None)
        added = added or {}
        found = []
        for key, indication, rules in self._programme(patient, clinic, interval, clock.today):
            last_completed = completed.get(key)
            if last_completed is _INSIDE_EVERY_GAP:
                continue  # schedules.due_since would say None: the minimum gap comes before any rule
            anchors = schedules.Anchors(last_completed, given, planned, added.get(indication))
            since = schedules.due_since(rules, anchors, active_since, clock.now, clock.zone)
            if since is not None:
                found.append(schedules.Due(key, since, schedules.available_at(rules, anchors, since, clock.zone)))
        return found


def _channels(email: str, settings, devices, sms_phone: str | None = None) -> list[tuple[str, str, str]]:
    """(key suffix, channel, address) of every channel the patient chose: e-mail when enabled, Web Push per
    subscribed device (``devices`` holds only those of patients who turned Web Push on), a text when chosen and
    ``sms_phone`` is the number their consent in force names."""
    channels = []
    if email and (settings is None or settings.email):
        channels.append(("email", "email", email))
    for subscription_id in devices:
        channels.append((f"webpush:{subscription_id}", "webpush", str(subscription_id)))
    if sms_phone and settings is not None and getattr(settings, "sms", False):
        channels.append(("sms", "sms", sms_phone))
    return channels


def _message_rows(patient_id: int, key: str, channels, template: str, link: str, expires_at: datetime) -> list[tuple]:
    """Rows for ``_insert_messages``, one per channel; ``key`` is the message's dedup key without its channel."""
    return [
        (f"{key}:{suffix}", patient_id, channel, address, template, link, expires_at)
        for suffix, channel, address in channels
    ]


def channel_messages(
    recipient: Recipient, key: str, template: str, link: str, expires_at: datetime, now: datetime, devices
) -> list[dict]:
    """Outbox rows (for ``insert_ignoring_duplicates``) for one message on every channel the patient chose.
    ``key`` is the message's dedup key without its channel."""
    rows = _message_rows(
        recipient.patient_id,
        key,
        _channels(recipient.email, recipient.settings, devices[recipient.patient_id]),
        template,
        link,
        expires_at,
    )
    times = {"next_attempt_at": now, "created_at": now}
    return [{**dict(zip(_MESSAGE_COLUMNS, row, strict=True)), **times} for row in rows]


_MESSAGE_COLUMNS = ("dedup_key", "recipient_id", "channel", "address", "template", "link_path", "expires_at")


def _insert_messages(session: Session, now: datetime, rows: list[tuple]) -> int:
    """What ``insert_ignoring_duplicates`` does, for thousands of rows: one ``INSERT ... SELECT`` whose rows
    arrive as a single JSON parameter that the database unpacks itself. (Bound row by row, the values cost
    more than the insert: SQLAlchemy processes each one and psycopg parses each placeholder.) A duplicate
    ``dedup_key`` is skipped as before. Returns how many rows were inserted."""
    if not rows:
        return 0
    table = OutboxMessage.__table__
    dialect = session.get_bind().dialect
    as_text = _instant_as_text(dialect)
    expiries = {expires_at: as_text(expires_at) for expires_at in {row[-1] for row in rows}}  # one per zone
    # Bound as JSON text made here rather than as the list: a statement's elements refer to one another, so
    # the statement outlives the call until the cycle collector runs (paused for the run), and with it
    # whatever it was bound to; a list of lists per batch would all be kept until the run ends.
    data = bindparam("rows", json.dumps([[*row[:-1], expiries[row[-1]]] for row in rows]), type_=String)
    if dialect.name == "postgresql":
        # jsonb is parsed once; json would be parsed again for each field. The expiry text is cast back.
        element = func.jsonb_array_elements(cast(data, JSONB))
        element = element.table_valued(column("value", JSONB)).c.value
        expires_at = cast(element[6].as_string(), table.c.expires_at.type)
        insert = postgresql.insert(table)
    else:
        element = func.json_each(data).table_valued(column("value", JSON)).c.value
        expires_at = element[6].as_string()  # kept as the text it is: a CAST would make it a number
        insert = sqlite.insert(table)
    instant = literal(now, table.c.created_at.type)
    values = select(
        element[0].as_string(),  # dedup_key
        element[1].as_integer(),  # recipient_id
        element[2].as_string(),  # channel
        element[3].as_string(),  # address
        element[4].as_string(),  # template
        element[5].as_string(),  # link_path
        expires_at,
        instant,  # next_attempt_at
        instant,  # created_at
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT
    statement = insert.from_select([*_MESSAGE_COLUMNS, "next_attempt_at", "created_at"], values)
    # status and attempts take the columns' defaults (queued, 0), as a single-row insert does
    statement = statement.on_conflict_do_nothing(index_elements=["dedup_key"])
    return session.execute(statement, execution_options={"preserve_rowcount": True}).rowcount


def _instant_as_text(dialect) -> Callable[[datetime], str]:
    """An instant as it travels inside JSON: SQLite's stored text, made by the column type as for any insert;
    for PostgreSQL, ISO text with its offset, which the statement casts back."""
    if dialect.name == "postgresql":
        return datetime.isoformat
    return OutboxMessage.__table__.c.expires_at.type.dialect_impl(dialect).bind_processor(dialect)


def _raise_missed_alerts(session: Session, now: datetime, missed: list[tuple[int, date]]) -> int:
    """One alert per run of missed days: keyed by the last day the patient did check in. ``missed`` holds
    (patient id, first active local date)."""
    ids = [patient_id for patient_id, _ in missed]
    last_seen = dict(
        session.execute(
            select(CheckIn.patient_id, func.max(CheckIn.local_date))
            .where(CheckIn.patient_id.in_(ids))
            .group_by(CheckIn.patient_id)
        ).all()
    )
    alerts = [
        {
            "patient_id": patient_id,
            "kind": "missed_checkins",
            "severity": "low",
            "reason": "No check-in for several days in a row; daily reminders are paused until the next one.",
            "dedup_key": f"missed:{patient_id}:{last_seen.get(patient_id) or active_since}",
            "created_at": now,
        }
        for patient_id, active_since in missed
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
            sms=False,
            paused=False,
        )
    return settings


def as_document(settings: ReminderSettings) -> dict:
    channels = [name for name in ("email", "webpush", "sms") if getattr(settings, name)]
    return {
        "time": settings.local_time,
        "channels": channels,
        "quiet_start": settings.quiet_start,
        "quiet_end": settings.quiet_end,
        "paused": settings.paused,
    }


# Marked for the catalogue: the page shows them in the patient's language (templates/_forms.html translates each
# error); the API gives them as written.
NO_CHANNEL = N_("Choose at least one way to be reminded (e-mail or notifications), or pause reminders.")
NO_DEVICE = N_(
    "None of your devices has notifications turned on, so a notification could never arrive. "
    "Turn them on on your phone first, or choose e-mail."
)


NO_SMS_CONSENT = N_(
    "Text messages need your agreement first: agree to texts below (or POST /api/v1/me/sms-consent), then choose them."
)

INSIDE_QUIET_HOURS = N_(
    "%(time)s is inside your quiet hours (%(start)s to %(end)s), so no reminder would ever be sent. Choose a time "
    "outside them, or change the quiet hours."
)


def problems(
    values: dict, devices: int, texts_agreed: bool = False, language: Language = ENGLISH
) -> dict[str, list[str]]:
    """What makes reminder settings unable to deliver, by field (empty when they can): no way chosen while
    reminders are on, notifications chosen with no device of the patient's subscribed (``devices`` counts
    them), or a reminder time inside the quiet hours, when none would ever be sent. A paused reminder sends
    nothing by choice, so its channels are checked when it is turned back on (that is a save too). Texts
    need the patient's consent for their number (``texts_agreed``) whether paused or not: it is the law, not
    a matter of delivery. The one message with values in it is worded in ``language`` (the page's); the others
    are marked and translated where shown."""
    found: dict[str, list[str]] = {}
    if "sms" in (values.get("channels") or []) and not texts_agreed:
        found["channels"] = [NO_SMS_CONSENT]
    elif not values.get("paused"):
        channels = values.get("channels") or []
        if not channels:
            found["channels"] = [NO_CHANNEL]
        elif "webpush" in channels and devices == 0:
            found["channels"] = [NO_DEVICE]
    start, end = parse_hhmm(values.get("quiet_start")), parse_hhmm(values.get("quiet_end"))
    if in_quiet_hours(parse_hhmm(values["time"]), start, end):
        found["time"] = [
            language.gettext(INSIDE_QUIET_HOURS)
            % {"time": values["time"], "start": values["quiet_start"], "end": values["quiet_end"]}
        ]
    return found


def device_count(session: Session, user: User) -> int:
    """How many devices the patient has registered for notifications."""
    return session.scalar(select(func.count()).where(PushSubscription.user_id == user.id))


def zone_label(timezone: str, now: datetime) -> str:
    """ "America/New_York (EST)": the zone's name and its abbreviation at ``now`` (a bare offset as UTC+04)."""
    abbreviation = now.astimezone(ZoneInfo(timezone)).strftime("%Z")
    if abbreviation[:1] in "+-":
        abbreviation = f"UTC{abbreviation}"
    return f"{timezone} ({abbreviation})"


def update_settings(session: Session, user: User, values: dict) -> ReminderSettings:
    settings = settings_for(session, user)
    settings.local_time = values["time"]
    settings.email = "email" in values["channels"]
    settings.webpush = "webpush" in values["channels"]
    settings.sms = "sms" in values["channels"]
    settings.quiet_start = values.get("quiet_start")
    settings.quiet_end = values.get("quiet_end")
    settings.paused = values.get("paused", False)
    session.add(settings)
    return settings


def save_push_subscription(
    session: Session,
    user: User,
    endpoint: str,
    p256dh: str,
    auth: str,
    *,
    endpoints: PushEndpoints,
    per_patient: int = 5,
) -> PushSubscription:
    """Register a device; an endpoint already known (say, a phone that changed hands) moves to this user.

    Raises ``PushEndpointRefused`` for an endpoint outside ``endpoints`` (an unlisted host, or a name that
    resolves to a non-public address); a name that does not resolve just now is kept, and checked again before
    each send. A patient keeps at most ``per_patient`` devices: a new one beyond that replaces the oldest, since
    a patient who changed phones cannot tell which stale browser to remove first.
    """
    problem = endpoints.refusal(endpoint)
    if problem is None:
        try:
            problem = endpoints.address_refusal(endpoint)
        except OSError:
            problem = None
    if problem:
        raise PushEndpointRefused(problem)
    subscription = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if subscription is None or subscription.user_id != user.id:
        oldest = session.scalars(
            select(PushSubscription.id)
            .where(PushSubscription.user_id == user.id)
            .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())
            .offset(max(per_patient - 1, 0))
        ).all()
        if oldest:
            session.execute(delete(PushSubscription).where(PushSubscription.id.in_(oldest)))
    if subscription is None:
        subscription = PushSubscription(endpoint=endpoint)
        session.add(subscription)
    subscription.user_id = user.id
    subscription.p256dh = p256dh
    subscription.auth = auth
    return subscription
