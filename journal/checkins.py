"""The daily check-in: which day an entry belongs to, when it may be made or changed, and saving it.

Domain rules, free of Flask. ``now`` is always an argument; a patient's day is their local calendar date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import alerts, sleep
from .models import (
    CheckIn,
    CravingRating,
    EntrySource,
    Patient,
    ReportMode,
    SleepRecord,
    SubstanceUse,
    User,
)
from .sessions import bump_data_version
from .wording import ENGLISH, N_, Language, english_long_date

BACKFILL_DAYS = 7  # SUD-R2: recall fades; at most a week back
ON_TIME_UNTIL = time(12)  # EMA-R2: the evening entry stays open until noon the next day

# SPEC 7.3, the between-session checklist (the driving question belongs to the post-session check).
SIDE_EFFECTS: dict[str, str] = {
    "dissociation": N_("Feeling unreal, detached or spaced out"),
    "perception": N_("Changes in how things look or sound"),
    "nausea": N_("Nausea or vomiting"),
    "dizziness": N_("Dizziness or spinning"),
    "headache": N_("Headache"),
    "sleepiness": N_("Sleepiness or feeling sedated"),
    "confusion": N_("Confusion, memory or concentration problems"),
    "anxiety": N_("Anxiety or agitation"),
    "low_mood": N_("A dip in mood"),
}
# KET-R4: the weekly urinary check during a course of repeated dosing (daily while positive).
URINARY_SYMPTOMS: dict[str, str] = {
    "frequency": N_("Needing to pass urine more often than usual"),
    "urgency": N_("Sudden, strong urges to pass urine"),
    "pain": N_("Pain when passing urine"),
    "bladder_pain": N_("Pain in the bladder or lower belly"),
    "blood": N_("Blood in the urine"),
}
URINARY_WEEK = timedelta(days=7)
CRAVING_FREQUENCIES = {
    "none": N_("Not at all"),
    "1-2": N_("1–2 times"),
    "3-5": N_("3–5 times"),
    "6+": N_("More than 5 times"),
}
SLEEP_QUALITY = dict(
    zip(sleep.QUALITIES, (N_("Very poor"), N_("Poor"), N_("Fair"), N_("Good"), N_("Very good")), strict=True)
)


class CheckInError(Exception):
    """The check-in cannot be saved as asked. ``field`` names what is wrong; ``status`` suits an HTTP answer."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


class StaleCheckIn(CheckInError):
    """A save made before the stored entry of the same day: the newer answer is kept and returned as ``stored``."""

    def __init__(self, stored: CheckIn):
        super().__init__("saved_at", "A newer answer for this day was saved; it was kept.", 409)
        self.stored = stored


# A device's clock may run a little ahead of the server's; a save time further ahead than this is refused, or it
# would outrank every later save of that day.
SAVED_AT_TOLERANCE = timedelta(minutes=10)


def local_today(user: User, now: datetime) -> date:
    return now.astimezone(ZoneInfo(user.timezone)).date()


def long_date(day: date) -> str:
    """ "Monday 30 November": how the journal names a day to a patient when "today" could mislead."""
    return english_long_date(day)


@dataclass(frozen=True)
class DayWords:
    """How the check-in form names the day it is about, so that every question says which day it asks of.

    ``when`` goes inside a question ("today", "yesterday", "on Wednesday 25 November"); ``date_name`` is shown
    under the heading for today and yesterday (None on the offline form, whose day is only known at Save);
    ``night`` heads the sleep section, the night that ends on the morning of the day."""

    today: bool
    when: str
    date_name: str | None
    night: str
    week: str


def day_words(day: date, today: date, *, offline: bool = False, language: Language = ENGLISH) -> DayWords:
    """The words for ``day``'s check-in as seen on ``today``, in ``language``. The offline form is saved on the day
    Save is pressed, so it says "today" and names no date."""
    _ = language.gettext
    if offline:
        return DayWords(
            True, _("today"), None, _("Last night's sleep"), _("In the last week, have you had any of these?")
        )
    before = day - timedelta(days=1)
    if day == today:
        return DayWords(
            True,
            _("today"),
            language.long_date(day),
            _("Last night's sleep: %(evening)s night into %(day)s")
            % {"evening": language.weekday(before), "day": language.weekday(day)},
            _("In the last week, have you had any of these?"),
        )
    yesterday = day == today - timedelta(days=1)
    named = language.long_date(day)
    return DayWords(
        False,
        _("yesterday") if yesterday else _("on %(date)s") % {"date": named},
        named if yesterday else None,
        _("Sleep: %(evening)s night into %(date)s") % {"evening": language.weekday(before), "date": named},
        _("In the week up to %(date)s, did you have any of these?") % {"date": named},
    )


def use_day(checkin: CheckIn) -> date:
    """The day a check-in's use answers are about: its own day (SUD-R1, the diary day). The form asks "Have you
    used it today, at any time so far?" or "Did you use it on <that day>?", so use earlier today is recorded
    today and a back-filled day's answer is about that day. A check-in saved before that question (migration
    0010) answered "the day before", and is read so."""
    return checkin.local_date - timedelta(days=1) if checkin.uses_about_day_before else checkin.local_date


@dataclass(frozen=True)
class Timing:
    report_mode: ReportMode
    days_after_event: int


def timing_for(day: date, user: User, now: datetime, source: EntrySource) -> Timing:
    """When may ``day`` be recorded, and is it on time or back-filled? Raises ``CheckInError`` if never."""
    local_now = now.astimezone(ZoneInfo(user.timezone))
    today = local_now.date()
    if day > today:
        raise CheckInError("date", N_("That day has not happened yet."))
    lag = (today - day).days
    if source == EntrySource.PATIENT and lag > BACKFILL_DAYS:
        raise CheckInError("date", f"Days can be filled in up to {BACKFILL_DAYS} days back.")
    on_time = lag == 0 or (lag == 1 and local_now.time() < ON_TIME_UNTIL)
    return Timing(ReportMode.ON_TIME if on_time else ReportMode.RETROSPECTIVE, lag)


def get_checkin(session: Session, patient_id: int, day: date) -> CheckIn | None:
    return session.scalar(select(CheckIn).where(CheckIn.patient_id == patient_id, CheckIn.local_date == day))


def missing_days(session: Session, user: User, now: datetime) -> list[date]:
    """The days in the back-fill window (not today) that have no check-in, most recent first."""
    today = local_today(user, now)
    earliest = max(
        today - timedelta(days=BACKFILL_DAYS), user.patient.enrolled_at.astimezone(ZoneInfo(user.timezone)).date()
    )
    recorded = set(
        session.scalars(select(CheckIn.local_date).where(CheckIn.patient_id == user.id, CheckIn.local_date >= earliest))
    )
    return [
        d
        for d in (today - timedelta(days=n) for n in range(1, BACKFILL_DAYS + 1))
        if d >= earliest and d not in recorded
    ]


def validate_against_programme(patient: Patient, data: dict) -> None:
    """The entry answers exactly the items this patient's programme asks (CRV-R1, SUD-R1, PAIN-R1)."""
    programme = set(patient.substances)
    for key, label in (("cravings", "craving"), ("use", "use")):
        given = [row["substance"] for row in data.get(key, [])]
        if len(given) != len(set(given)):
            raise CheckInError(key, f"Each substance's {label} can be given once.")
        if extra := set(given) - programme:
            raise CheckInError(key, f"Not tracked for this patient: {', '.join(sorted(extra))}.")
        if missing := programme - set(given):
            raise CheckInError(key, f"Answer the {label} question for: {', '.join(sorted(missing))}.")
    if patient.tracks_pain and data.get("pain") is None:
        raise CheckInError("pain", N_("Rate your pain from 0 to 10."))
    if not patient.tracks_pain and data.get("pain") is not None:
        raise CheckInError("pain", "Pain is not tracked for this patient.")


def save_checkin(
    session: Session, patient: Patient, day: date, data: dict, now: datetime, entered_by: User
) -> tuple[CheckIn, bool]:
    """Create or replace the check-in for ``day``; return it and whether it was created.

    A patient may replace an entry on the local day they made it; a clinician may enter any past day but
    never overwrites what the patient recorded. A repeated ``submission_id`` returns the stored entry as it
    is, so a retried request or an offline queue sent twice records the day once. Of two different saves the
    one with the later ``saved_at`` is kept: an earlier one raises ``StaleCheckIn``. The caller commits.
    """
    user = patient.user
    source = EntrySource.PATIENT if entered_by.id == user.id else EntrySource.CLINICIAN
    existing = get_checkin(session, user.id, day)
    submission_id = data.get("submission_id")
    if existing is not None and submission_id and existing.submission_id == submission_id:
        return existing, False
    saved_at = data.get("saved_at") or now
    if saved_at > now + SAVED_AT_TOLERANCE:
        raise CheckInError("saved_at", N_("The time of saving is later than now: check the device's clock."))
    timing = timing_for(day, user, now, source)
    validate_against_programme(patient, data)
    try:
        metrics = sleep.compute(sleep_night(data["sleep"])) if data.get("sleep") else None
    except sleep.SleepDiaryError as error:
        field = "sleep" if error.field == "sleep" else f"sleep.{error.field}"
        raise CheckInError(field, error.message) from error

    if existing is not None:
        _check_replaceable(existing, source, user, now)
        if saved_at < existing.saved_at:  # on a tie the later arrival wins, as it always did
            raise StaleCheckIn(existing)
        checkin = existing
    else:
        checkin = CheckIn(patient_id=user.id, local_date=day, created_at=now, source=source)
        session.add(checkin)
        checkin.report_mode = timing.report_mode
        checkin.days_after_event = timing.days_after_event
    checkin.mood = data["mood"]
    checkin.pain = data.get("pain")
    checkin.side_effects = sorted(set(data.get("side_effects", [])))
    urinary = data.get("urinary")
    checkin.urinary = sorted(set(urinary)) if urinary is not None else None
    note = data.get("note", "").strip()
    if note != checkin.note:  # a note changed later the same day is unseen again
        checkin.note_seen_at = checkin.note_seen_by_id = None
    checkin.note = note
    checkin.submission_id = submission_id
    checkin.entered_by_id = entered_by.id
    checkin.updated_at = now
    checkin.saved_at = saved_at
    checkin.cravings = [
        CravingRating(substance=row["substance"], intensity=row["intensity"], frequency=row.get("frequency"))
        for row in data.get("cravings", [])
    ]
    checkin.uses_about_day_before = False  # the form and API ask about the check-in's own day
    checkin.uses = [
        SubstanceUse(
            substance=row["substance"], used=row["used"], amount=(row.get("amount") or None) if row["used"] else None
        )
        for row in data.get("use", [])
    ]
    checkin.sleep = _sleep_record(data["sleep"], metrics) if metrics else None
    session.flush()
    alerts.evaluate_checkin(session, patient, day, now)  # in this transaction: an alert is never lost
    bump_data_version(session, user.id)
    return checkin, existing is None


def _check_replaceable(existing: CheckIn, source: EntrySource, user: User, now: datetime) -> None:
    if source == EntrySource.CLINICIAN:
        if existing.source == EntrySource.PATIENT:
            raise CheckInError("date", "The patient has already recorded this day; their entry is kept.", 409)
        return
    if existing.source == EntrySource.CLINICIAN:
        raise CheckInError("date", N_("Your care team has recorded this day for you already."), 409)
    zone = ZoneInfo(user.timezone)
    if existing.created_at.astimezone(zone).date() != now.astimezone(zone).date():
        raise CheckInError(
            "date", N_("This day's check-in was saved on an earlier day and can no longer be changed."), 409
        )


# The diary's own answers (SPEC 5.1 items 1-7), named alike in the API, the Night and the stored record.
NIGHT_FIELDS = ("into_bed", "tried_sleep", "final_wake", "out_of_bed", "sol_min", "awakenings", "waso_min")


def sleep_night(values: dict) -> sleep.Night:
    return sleep.Night(**{name: values[name] for name in NIGHT_FIELDS})


def _sleep_record(values: dict, metrics: sleep.SleepMetrics) -> SleepRecord:
    return SleepRecord(
        **{name: values[name] for name in NIGHT_FIELDS},
        quality=values["quality"],
        tib_min=metrics.tib_min,
        tst_min=metrics.tst_min,
    )


def sleep_metrics(record: SleepRecord) -> sleep.SleepMetrics:
    """The full metrics of a stored night (recomputed: they are cheap and need no extra columns)."""
    return sleep.compute(sleep.Night(**{name: getattr(record, name) for name in NIGHT_FIELDS}))


def urinary_check_due(session: Session, patient: Patient, day: date) -> bool:
    """KET-R4: ask the urinary check once a week while the patient is in a course of repeated dosing, and
    every day while the last answer reported a symptom."""
    if not patient.urinary_check:
        return False
    last = session.execute(
        select(CheckIn.local_date, CheckIn.urinary)
        .where(CheckIn.patient_id == patient.user_id, CheckIn.urinary.is_not(None), CheckIn.local_date < day)
        .order_by(CheckIn.local_date.desc())
        .limit(1)
    ).first()
    if last is None:
        return True
    last_day, symptoms = last
    return bool(symptoms) or day - last_day >= URINARY_WEEK
