"""A patient's days as the care team reads them: the last 30 days one row each (a missing day stays missing,
never zero), one day whole, and the notes the team has not yet opened. No Flask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .checkins import SIDE_EFFECTS, SLEEP_QUALITY, URINARY_SYMPTOMS
from .models import SUBSTANCES, CheckIn, EntrySource, Patient, ReportMode, User
from .patient_data import PatientData

TABLE_DAYS = 30
SHORT_NOTE = 80  # characters of a note shown in the table; the day's page shows it whole


@dataclass(frozen=True)
class SubstanceDay:
    name: str
    craving: int | None
    used: bool | None  # None: not answered that day
    amount: str | None


@dataclass(frozen=True)
class Day:
    """One local date of the patient's, with its check-in if there is one."""

    day: date
    checkin: CheckIn | None
    substances: tuple[SubstanceDay, ...]

    @property
    def missing(self) -> bool:
        return self.checkin is None

    @property
    def note(self) -> str:
        return self.checkin.note if self.checkin is not None else ""

    @property
    def short_note(self) -> str:
        note = self.note
        return note if len(note) <= SHORT_NOTE else note[: SHORT_NOTE - 1].rstrip() + "…"

    @property
    def note_unseen(self) -> bool:
        return self.checkin is not None and note_unseen(self.checkin)

    @property
    def side_effects(self) -> list[str]:
        return [SIDE_EFFECTS.get(code, code) for code in self.checkin.side_effects] if self.checkin else []

    @property
    def urinary(self) -> list[str] | None:
        """None when the urinary check was not asked that day; [] when asked and nothing reported."""
        if self.checkin is None or self.checkin.urinary is None:
            return None
        return [URINARY_SYMPTOMS.get(code, code) for code in self.checkin.urinary]

    @property
    def sleep_quality(self) -> str | None:
        sleep = self.checkin.sleep if self.checkin is not None else None
        return SLEEP_QUALITY.get(sleep.quality, sleep.quality) if sleep is not None else None

    @property
    def entry(self) -> str:
        return entry_label(self.checkin) if self.checkin is not None else ""


def note_unseen(checkin: CheckIn) -> bool:
    return bool(checkin.note) and checkin.note_seen_at is None


def entry_label(checkin: CheckIn) -> str:
    """How the day was entered: on time, back-filled (SUD-R2) some days later, or by the care team."""
    if checkin.source == EntrySource.CLINICIAN:
        return "Entered by the care team"
    if checkin.report_mode == ReportMode.RETROSPECTIVE:
        days = checkin.days_after_event
        return f"Back-filled {days} day{'s' if days != 1 else ''} later"
    return "On time"


def _day(patient: Patient, day: date, checkin: CheckIn | None) -> Day:
    cravings = {r.substance: r.intensity for r in checkin.cravings} if checkin else {}
    uses = {u.substance: u for u in checkin.uses} if checkin else {}
    codes = list(patient.substances) + sorted((set(cravings) | set(uses)) - set(patient.substances))
    substances = tuple(
        SubstanceDay(
            SUBSTANCES.get(code, code),
            cravings.get(code),
            uses[code].used if code in uses else None,
            uses[code].amount if code in uses else None,
        )
        for code in codes
    )
    return Day(day, checkin, substances)


def last_days(data: PatientData, days: int = TABLE_DAYS) -> list[Day]:
    """The last ``days`` local dates up to today, most recent first, from check-ins already loaded."""
    by_day = {c.local_date: c for c in data.checkins}
    dates = [data.today - timedelta(days=n) for n in range(days)]
    return [_day(data.patient, day, by_day.get(day)) for day in dates if day >= data.first]


def one_day(session: Session, patient: Patient, day: date) -> Day:
    checkin = session.scalar(select(CheckIn).where(CheckIn.patient_id == patient.user_id, CheckIn.local_date == day))
    return _day(patient, day, checkin)


def mark_seen(session: Session, reader: User, checkins: list[CheckIn], now: datetime) -> int:
    """Mark the unseen notes among ``checkins`` as opened by ``reader``, each audited ("note.seen"); how many."""
    count = 0
    for checkin in checkins:
        if note_unseen(checkin):
            checkin.note_seen_at = now
            checkin.note_seen_by_id = reader.id
            audit.record(reader, "note.seen", checkin.patient_id, f"check-in {checkin.id}")
            count += 1
    return count


def unseen_notes(session: Session, patient: Patient) -> list[CheckIn]:
    """Every check-in of the patient's with a note no one on the care team has opened yet, oldest day first."""
    return list(
        session.scalars(
            select(CheckIn)
            .where(CheckIn.patient_id == patient.user_id, CheckIn.note != "", CheckIn.note_seen_at.is_(None))
            .order_by(CheckIn.local_date)
        )
    )


def mark_all_seen(session: Session, reader: User, patient: Patient, now: datetime) -> int:
    """Mark notes seen: every unseen note of the patient's, as opened by ``reader`` (each audited); how many."""
    return mark_seen(session, reader, unseen_notes(session, patient), now)
