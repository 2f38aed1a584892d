"""When each questionnaire is due: every N days, N days after each given session, N days before each planned one,
never twice inside the instrument's minimum gap (SPEC 1.10 PHQ-R13, 3.6 PCL-R10, 4.4 PACS-R6, 4.5 AUDC-R7,
6.4 PEG-R6, 11).

A clinic's ``InstrumentSchedule`` row replaces an instrument's default ``Schedule`` (journal/instruments.py). The
PHQ-9 (or PHQ-8) and GAD-7 keep the clinic's older cadence settings for their "every N days" rule:
``assessment_interval_days``, weekly until the end of an induction series when ``weekly_during_induction`` is
set; their row, if any, adds the session rules and the minimum gap.

The rules are pure functions of plain values (``due_since``); the query layer below reads those values for one
patient (the pages) or for a range of patient ids (the reminder job, which runs every minute over every patient).
Due dates are local calendar dates in the patient's zone; the minimum gap is elapsed time, as ``assessments.submit``
measures it, so a form the pages offer is never one that submit refuses. A questionnaire whose indication the
programme took on after enrolment counts from the day it was added (``indications_added``), never from before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, func, select
from sqlalchemy.orm import Session

from . import instruments
from .instruments import Instrument
from .models import (
    Assessment,
    Clinic,
    DosingSession,
    InstrumentSchedule,
    Patient,
    ProgrammeChange,
    SessionStatus,
    User,
)

# The instruments whose "every N days" is the clinic's questionnaire interval (PHQ-R13) rather than a row's.
INTERVAL_SETTING = (instruments.PHQ9.key, instruments.PHQ8.key, instruments.GAD7.key)


@dataclass(frozen=True)
class Rules:
    """One instrument's schedule as it applies to one patient today."""

    every_days: int | None
    days_after_session: int | None
    days_before_session: int | None
    min_gap_days: int


@dataclass(frozen=True)
class Anchors:
    """What the rules measure from, as instants (UTC): when the form was last completed, the latest given session
    that has started, the next planned one, and when the form's indication was last added to the programme (None
    when it has been there since enrolment)."""

    last_completed: datetime | None
    last_given: datetime | None = None
    next_planned: datetime | None = None
    added_at: datetime | None = None


@dataclass(frozen=True)
class Due:
    instrument: str
    since: date  # the local date it fell due
    available_at: datetime  # when it could first be filled in: that date's start, or the end of the gap if later


def due_since(rules: Rules, anchors: Anchors, first_day: date, now: datetime, zone: ZoneInfo) -> date | None:
    """The local date since which the form has been due at ``now``, or None when it is not due.

    - Never completed: due at once, since ``first_day`` (the baseline), or since the local date its indication was
      added (``added_at``) if that is later.
    - Never inside ``min_gap_days`` of the last completion (local calendar days: ``reopens_on``).
    - Every N days: from the local date N days after the last completion.
    - N days after a given session: from that session's local date + N, while no form was completed since it began.
    - N days before a planned session: from its local date - N until it begins, unless a form was completed on or
      after that date.
    Of the rules that fire, the earliest date: a form already due does not fall due again for a second reason.
    Nothing is due from before the local date its indication was added: a form completed in an earlier spell of the
    indication, or a session before the addition, brings it due from that date, not from the past.
    """
    today = now.astimezone(zone).date()
    added_on = anchors.added_at.astimezone(zone).date() if anchors.added_at is not None else None
    last = anchors.last_completed
    if last is None:
        return min(max(first_day, added_on or first_day), today)
    last_day = last.astimezone(zone).date()
    if today < reopens_on(last, rules.min_gap_days, zone):
        return None
    fired = []
    if rules.every_days is not None:
        fired.append(last_day + timedelta(days=rules.every_days))
    given = anchors.last_given
    if rules.days_after_session is not None and given is not None and last < given <= now:
        fired.append(given.astimezone(zone).date() + timedelta(days=rules.days_after_session))
    planned = anchors.next_planned
    if rules.days_before_session is not None and planned is not None and planned > now:
        opens = planned.astimezone(zone).date() - timedelta(days=rules.days_before_session)
        if last_day < opens:
            fired.append(opens)
    fired = [max(day, added_on or day) for day in fired if day <= today]
    return min(fired) if fired else None


def uses_sessions(rules: Iterable[Rules]) -> bool:
    return any(r.days_after_session is not None or r.days_before_session is not None for r in rules)


# --- Which rules apply ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cadence:
    """A clinic's questionnaire interval settings (PHQ-R13): a ``Clinic`` has the same two values."""

    assessment_interval_days: int
    weekly_during_induction: bool


def interval_days(cadence: Cadence | Clinic, induction_until: date | None, today: date) -> int:
    """Every ``assessment_interval_days``; weekly until the end of an induction series if the clinic chooses."""
    if cadence.weekly_during_induction and induction_until is not None and today <= induction_until:
        return 7
    return cadence.assessment_interval_days


def rules_for(
    instrument: instruments.Instrument,
    row: InstrumentSchedule | Rules | None,
    cadence: Cadence | Clinic,
    induction_until: date | None,
    today: date,
) -> Rules:
    """The clinic's row for this instrument if it has one, else the definition's default; the PHQ-9 (PHQ-8) and
    GAD-7 take their "every N days" from the clinic's interval settings."""
    source = row if row is not None else instrument.schedule
    every = source.every_days
    if instrument.key in INTERVAL_SETTING:
        every = interval_days(cadence, induction_until, today)
    return Rules(every, source.days_after_session, source.days_before_session, source.min_gap_days)


@cache
def scheduled_instruments(indications: tuple[str, ...], depression_instrument: str) -> tuple[Instrument, ...]:
    """The questionnaires a patient is asked in the app: ``instruments.for_patient``'s choice, made from plain values
    (the reminder job reads columns, not objects), less those only the care team enters (PACS-R3)."""
    clinic = SimpleNamespace(depression_instrument=depression_instrument)
    patient = SimpleNamespace(indications=list(indications), user=SimpleNamespace(clinic=clinic))
    return tuple(instrument for instrument in instruments.for_patient(patient) if instrument.self_report)


def due_list(
    chosen: Iterable[instruments.Instrument],
    rules: dict[str, Rules],
    anchors: dict[str, Anchors],
    first_day: date,
    now: datetime,
    zone: ZoneInfo,
) -> list[Due]:
    """Each of ``chosen`` that is due at ``now``, in their order."""
    found = []
    for instrument in chosen:
        since = due_since(rules[instrument.key], anchors.get(instrument.key, Anchors(None)), first_day, now, zone)
        if since is not None:
            found.append(
                Due(
                    instrument.key, since, available_at(rules[instrument.key], anchors.get(instrument.key), since, zone)
                )
            )
    return found


def reopens_on(last_completed: datetime, gap_days: int, zone: ZoneInfo) -> date:
    """The local date from which a form may be filled in again: ``gap_days`` calendar days after the last one's
    local date (SPEC 1.10: not more than once per 7 days), so a weekly form keeps its weekday whatever the hour
    it was filled in, and "opens again on Monday" is true from the start of Monday."""
    return last_completed.astimezone(zone).date() + timedelta(days=gap_days)


def available_at(rules: Rules, anchors: Anchors | None, since: date, zone: ZoneInfo) -> datetime:
    """When a form due since the local date ``since`` could first be filled in: the start of that date, or the
    start of the date the minimum gap ends if that came later (a rule's date may fall inside the gap: a session the
    day after a form), or the instant its indication was added if later still (the reminder job nudges for what
    became available since its last nudge, so a change made after the day's nudge still brings one)."""
    last = anchors.last_completed if anchors is not None else None
    if last is not None:
        since = max(since, reopens_on(last, rules.min_gap_days, zone))
    opens = datetime.combine(since, time(0), tzinfo=zone).astimezone(UTC)
    added = anchors.added_at if anchors is not None else None
    return max(opens, added.astimezone(UTC)) if added is not None else opens


# --- Queries ---------------------------------------------------------------------------------------------------


def clinic_rows(session: Session, clinic_ids: Iterable[int] | None = None) -> dict[tuple[int, str], Rules]:
    """(clinic id, instrument) -> the clinic's schedule row, as ``Rules``; every clinic's when ``clinic_ids`` is
    None (a handful of rows per clinic)."""
    query = select(InstrumentSchedule)
    if clinic_ids is not None:
        query = query.where(InstrumentSchedule.clinic_id.in_(list(clinic_ids)))
    return {
        (row.clinic_id, row.instrument): Rules(
            row.every_days, row.days_after_session, row.days_before_session, row.min_gap_days
        )
        for row in session.scalars(query)
    }


def min_gap_days(session: Session, clinic: Clinic, instrument: Instrument) -> int:
    """The least number of days between two forms of ``instrument`` at this clinic: its row's, else the default."""
    row = session.get(InstrumentSchedule, {"clinic_id": clinic.id, "instrument": instrument.key})
    return row.min_gap_days if row is not None else instrument.schedule.min_gap_days


def last_completions(session: Session, id_range: tuple[int, int]) -> dict[int, dict[str, datetime]]:
    """patient id -> instrument -> when it was last completed, for patients with ids in (after, last]."""
    after, last = id_range
    found: dict[int, dict[str, datetime]] = {}
    for patient_id, instrument, completed in session.execute(
        select(Assessment.patient_id, Assessment.instrument, func.max(Assessment.completed_at))
        .where(Assessment.patient_id > after, Assessment.patient_id <= last)
        .group_by(Assessment.patient_id, Assessment.instrument)
    ):
        found.setdefault(patient_id, {})[instrument] = completed
    return found


def session_anchors(
    session: Session, id_range: tuple[int, int], now: datetime
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """patient id -> (latest given session begun by ``now``, next planned session after ``now``), for patients
    with ids in (after, last] who have either; one grouped statement."""
    after, last = id_range
    given = func.max(
        case(((DosingSession.status == SessionStatus.GIVEN) & (DosingSession.start <= now), DosingSession.start))
    )
    planned = func.min(
        case(((DosingSession.status == SessionStatus.PLANNED) & (DosingSession.start > now), DosingSession.start))
    )
    rows = session.execute(
        select(DosingSession.patient_id, given, planned)
        .where(
            DosingSession.patient_id > after,
            DosingSession.patient_id <= last,
            DosingSession.status.in_((SessionStatus.GIVEN, SessionStatus.PLANNED)),
        )
        .group_by(DosingSession.patient_id)
    )
    # A CASE over a UTC column keeps the column's type: the instants come back aware on both databases.
    return {
        patient_id: (latest_given, next_planned)
        for patient_id, latest_given, next_planned in rows
        if latest_given is not None or next_planned is not None
    }


def indications_added(session: Session, id_range: tuple[int, int]) -> dict[int, dict[str, datetime]]:
    """patient id -> indication -> when it was added, for the patients with ids in (after, last]: each indication
    of their latest programme that their first one (at enrolment) did not have, from the change that last added
    it (every change since has kept it). Patients whose indications never changed are left out.

    One statement, run by the reminder job for each batch with someone due, so the database does the sifting:
    only patients with more than the enrolment row are looked at, each change's indications are compared with the
    change before (as text: PostgreSQL has no equality on a JSON column), and only the changes that differ come
    back, which most patients never have (the rows kept for substances or the sleep diary stay in the database)."""
    after, last = id_range
    in_range = (ProgrammeChange.patient_id > after, ProgrammeChange.patient_id <= last)
    changed = select(ProgrammeChange.patient_id).where(*in_range).group_by(ProgrammeChange.patient_id)
    as_text = cast(ProgrammeChange.indications, String)
    history = (
        select(
            ProgrammeChange.patient_id,
            ProgrammeChange.id,
            ProgrammeChange.effective_at,
            as_text.label("indications"),
            func.lag(as_text)
            .over(partition_by=ProgrammeChange.patient_id, order_by=(ProgrammeChange.effective_at, ProgrammeChange.id))
            .label("before"),
        )
        .where(*in_range, ProgrammeChange.patient_id.in_(changed.having(func.count() > 1)))
        .subquery()
    )
    changes = session.execute(
        select(history.c.patient_id, history.c.effective_at, history.c.indications, history.c.before)
        .where(history.c.before != history.c.indications)  # the first row has no row before it: never kept
        .order_by(history.c.patient_id, history.c.effective_at, history.c.id)
    )
    found: dict[int, dict[str, datetime]] = {}
    for patient_id, effective_at, current_text, before_text in changes:
        current, before = _codes(current_text), _codes(before_text)
        added = found.setdefault(patient_id, {})
        for code in before - current:
            added.pop(code, None)  # removed: a later addition starts a new spell
        for code in current - before:
            added[code] = effective_at
    return {patient_id: added for patient_id, added in found.items() if added}


@lru_cache(maxsize=1024)
def _codes(indications: str) -> frozenset[str]:
    """A stored list of indications, from its JSON text (a clinic has a few dozen distinct lists)."""
    return frozenset(json.loads(indications) or ())


def patient_due(session: Session, patient: Patient, now: datetime) -> list[Due]:
    """What ``patient`` is due to fill in at ``now``: four small statements.

    Which forms are due does not depend on when an indication was added (that moves only the date a due form counts
    from, which the reminder job reads), so the pages do not read the programme's history."""
    user: User = patient.user
    clinic = user.clinic
    zone = ZoneInfo(user.timezone)
    today = now.astimezone(zone).date()
    chosen = scheduled_instruments(tuple(patient.indications or ()), clinic.depression_instrument)
    rows = clinic_rows(session, [clinic.id])
    rules = {i.key: rules_for(i, rows.get((clinic.id, i.key)), clinic, patient.induction_until, today) for i in chosen}
    id_range = (user.id - 1, user.id)
    completed = last_completions(session, id_range).get(user.id, {})
    given, planned = None, None
    if uses_sessions(rules.values()):
        given, planned = session_anchors(session, id_range, now).get(user.id, (None, None))
    anchors = {key: Anchors(completed.get(key), given, planned) for key in rules}
    return due_list(chosen, rules, anchors, today, now, zone)


# --- The clinic's settings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What an admin may choose for one group of the clinic settings page. ``every`` None: the group's "every N
    days" is the clinic's questionnaire interval (PHQ-9 / PHQ-8 and GAD-7)."""

    instruments: tuple[str, ...]  # the rows a group is saved as
    min_gap: tuple[int, int]
    every: tuple[int, int] | None


AFTER_SESSION = (1, 90)  # days after a given session
BEFORE_SESSION = (1, 14)  # days before a planned one: a booster-decision visit
# The smallest gaps are each form's recall window (SPEC 1.10, PCL-R10, PEG-R6, PACS-R6, AUDC-R7): a shorter one
# would ask about days the last form already covered.
LIMITS = {
    # One schedule for the depression questionnaire, whichever of the PHQ-9 and the PHQ-8 the clinic uses (SAFE-R4).
    "depression": Limits((instruments.PHQ9.key, instruments.PHQ8.key), (7, 90), None),
    "gad7": Limits((instruments.GAD7.key,), (7, 90), None),
    "pcl5": Limits((instruments.PCL5.key,), (21, 365), (21, 365)),
    "peg": Limits((instruments.PEG.key,), (7, 365), (7, 365)),
    "auditc": Limits((instruments.AUDITC.key,), (365, 730), (365, 730)),
}
RULES = ("every_days", "days_after_session", "days_before_session", "min_gap_days")


def setting_fields() -> list[str]:
    """The clinic settings page's schedule fields, ``<group>_<rule>``."""
    return [
        f"{group}_{rule}"
        for group, limits in LIMITS.items()
        for rule in RULES
        if rule != "every_days" or limits.every is not None
    ]


def setting_values(session: Session, clinic: Clinic) -> dict[str, int | None]:
    """The schedule fields as the clinic has them now: its rows, else the definitions' defaults."""
    rows = clinic_rows(session, [clinic.id])
    values: dict[str, int | None] = {}
    for group, limits in LIMITS.items():
        key = limits.instruments[0]
        current = rows.get((clinic.id, key)) or instruments.ALL[key].schedule
        for rule in RULES:
            if rule != "every_days" or limits.every is not None:
                values[f"{group}_{rule}"] = getattr(current, rule)
    return values


def save_settings(session: Session, clinic: Clinic, data: dict, user: User, now: datetime) -> list[str]:
    """Store the schedule fields of ``data`` as the clinic's rows; return the fields that changed. A group whose
    values did not change is not written (its instruments keep their defaults until the clinic chooses)."""
    before = setting_values(session, clinic)
    changed = [name for name in setting_fields() if name in data and data[name] != before[name]]
    for group, limits in LIMITS.items():
        if not any(name.startswith(f"{group}_") for name in changed):
            continue
        chosen = {rule: data.get(f"{group}_{rule}", before.get(f"{group}_{rule}")) for rule in RULES}
        for key in limits.instruments:
            row = session.get(InstrumentSchedule, {"clinic_id": clinic.id, "instrument": key})
            if row is None:
                row = InstrumentSchedule(clinic_id=clinic.id, instrument=key)
                session.add(row)
            for rule, value in chosen.items():
                setattr(row, rule, value)
            row.updated_by_id = user.id
            row.updated_at = now
    return changed
