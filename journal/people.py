"""People: how the care team reaches a patient (phone, emergency contact), the patient's time zone and sex, and
the programme (what the patient is treated for, and what the daily check-in asks) with its history.

Plain domain functions: no Flask. Input has been through a schema (types, lengths, the list of zones); what a
schema cannot judge alone is judged here and refused with ``DetailsError`` naming the field: a phone number,
which is read in the region of the patient's time zone.

Phone numbers are parsed with ``phonenumbers`` (Google's libphonenumber metadata) and stored in E.164
("+16175550123"). A number written with a leading + or 00 is international; one without is read as a number of
the country of the patient's time zone (America/Chicago: the United States; Europe/London: the United Kingdom),
found in the IANA zone table, and of ``DEFAULT_REGION`` (the United States) for a zone that names no country
(UTC, Etc/GMT+5).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import instruments
from .models import SUBSTANCES, CheckIn, Patient, ProgrammeChange, User
from .wording import N_

DEFAULT_REGION = "US"

# SUD-R3's heavy-drinking threshold and AUDIT-C's cut-off depend on it; "unknown" until someone records it.
SEXES: dict[str, str] = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Not recorded"}

PHONE_MAX_LENGTH = 40  # what a person types, spaces and brackets included; stored E.164 is at most 16

# Shown to the patient on their contact page, so marked for translation (the form translates them).
PHONE_LETTERS = N_("Use digits only, with spaces, brackets or dashes if you like (letters are not read).")
PHONE_NOT_A_NUMBER = N_("Enter a phone number, such as 312 555 0123, or +44 7700 900123 for another country.")
PHONE_TOO_SHORT = N_("This number is too short. Check it has every digit, with the area code.")
PHONE_TOO_LONG = N_("This number is too long. Check it for extra digits.")
PHONE_BAD_COUNTRY = N_("The country code is not right. Start a number from another country with + and its code.")
PHONE_INVALID = N_("This is not a number that can be called. Check the digits and the area code.")
CONTACT_BOTH = N_("Give both the name and the phone number of the emergency contact, or neither.")

OLDEST_AGE = 120  # years: a birth date further back is a typing slip (no one verified has lived past 122)
BORN_IN_THE_FUTURE = "A birth date cannot be in the future. Check the date."
BORN_TOO_LONG_AGO = f"Check the year: this birth date would make the patient over {OLDEST_AGE}."

_PHONE_CHARACTERS = re.compile(r"^[0-9+()./ \-\u00a0]*$")


class DetailsError(ValueError):
    """Details that cannot be saved: ``errors`` maps each field, named as the forms name it ("phone",
    "emergency_contact_phone"), to what to do; ``field`` and ``message`` are the first of them, and
    ``json_errors`` names them as the API does."""

    def __init__(self, field: str, message: str, more: dict[str, str] | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.errors = {field: message, **(more or {})}

    @property
    def json_errors(self) -> dict:
        found: dict = {}
        for field, message in self.errors.items():
            group, _, member = field.partition("_contact_")
            if member:  # emergency_contact_phone -> {"emergency_contact": {"phone": [...]}}
                found.setdefault(f"{group}_contact", {})[member] = [message]
            else:
                found[field] = [message]
        return found


# --- Phone numbers --------------------------------------------------------------------------------------------


@functools.cache
def _zone_countries() -> dict[str, str]:
    """Each IANA zone's country, from the zone table (zone.tab) that comes with the time zone data."""
    text = None
    try:
        text = importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        system = Path("/usr/share/zoneinfo/zone.tab")
        text = system.read_text(encoding="utf-8") if system.exists() else ""
    countries = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                countries[parts[2]] = parts[0]
    return countries


def region_for_zone(zone: str | None) -> str:
    """The country (ISO 3166 code) a number without a country code is read in, for a patient in ``zone``."""
    region = _zone_countries().get(zone or "")
    if region and region in phonenumbers.SUPPORTED_REGIONS:
        return region
    return DEFAULT_REGION


def parse_phone(text: str | None, region: str = DEFAULT_REGION, field: str = "phone") -> str | None:
    """A phone number as typed, in E.164; None for nothing typed. Raises ``DetailsError`` for text that is not
    a number that can be called (letters, too short or too long, an unknown country code, no such number)."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > PHONE_MAX_LENGTH or not _PHONE_CHARACTERS.match(text):
        raise DetailsError(field, PHONE_LETTERS if re.search(r"[A-Za-z]", text) else PHONE_NOT_A_NUMBER)
    if not re.search(r"\d", text):
        raise DetailsError(field, PHONE_NOT_A_NUMBER)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        raise DetailsError(field, _parse_problem(error)) from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible == ValidationResult.TOO_SHORT:
        raise DetailsError(field, PHONE_TOO_SHORT)
    if possible == ValidationResult.TOO_LONG:
        raise DetailsError(field, PHONE_TOO_LONG)
    if possible == ValidationResult.INVALID_COUNTRY_CODE:
        raise DetailsError(field, PHONE_BAD_COUNTRY)
    if possible != ValidationResult.IS_POSSIBLE or not phonenumbers.is_valid_number(number):
        raise DetailsError(field, PHONE_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_problem(error: NumberParseException) -> str:
    if error.error_type == NumberParseException.INVALID_COUNTRY_CODE:
        return PHONE_BAD_COUNTRY
    if error.error_type in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return PHONE_TOO_SHORT
    if error.error_type == NumberParseException.TOO_LONG:
        return PHONE_TOO_LONG
    return PHONE_NOT_A_NUMBER


def display_phone(e164: str | None, zone: str | None = None) -> str:
    """A stored number as people write it: nationally for the patient's own country, internationally else."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    national = phonenumbers.region_code_for_number(number) == region_for_zone(zone)
    style = phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


# --- Contact details, time zone and sex -----------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    phone: str | None
    emergency_name: str | None
    emergency_phone: str | None


def emergency_contact(patient: Patient) -> dict | None:
    """The emergency contact as the API gives it: {name, phone} or None."""
    if not patient.emergency_contact_name and not patient.emergency_contact_phone:
        return None
    return {"name": patient.emergency_contact_name, "phone": patient.emergency_contact_phone}


def contact_from(values: dict, zone: str) -> dict:
    """The contact fields among ``values`` (as the schemas load them) as columns of ``Patient``, phones parsed
    in ``zone``'s country. Only the fields given are returned: a field left out is left as it is. An emergency
    contact is both a name and a number, or neither (None, or both empty, removes it)."""
    region = region_for_zone(zone)
    columns: dict = {}
    problems: dict[str, str] = {}

    def parsed(text, field: str) -> str | None:
        try:
            return parse_phone(text, region, field)
        except DetailsError as error:
            problems[field] = error.message
            return None

    if "phone" in values:
        columns["phone"] = parsed(values["phone"], "phone")
    if "emergency_contact" in values:
        contact = values["emergency_contact"] or {}
        name = (contact.get("name") or "").strip()
        phone_text = (contact.get("phone") or "").strip()
        columns["emergency_contact_name"] = name or None
        columns["emergency_contact_phone"] = parsed(phone_text, "emergency_contact_phone")
        if bool(name) != bool(phone_text):
            problems["emergency_contact_name" if not name else "emergency_contact_phone"] = CONTACT_BOTH
    if problems:  # every problem at once, so a form shows each at its field
        (field, message), *rest = problems.items()
        raise DetailsError(field, message, dict(rest))
    return columns


# --- Birth date (the esketamine REMS form's first item, SPEC 7.4: staff only) ------------------------------------


def birth_date_problem(born: date | None, today: date) -> str | None:
    """What is wrong with a birth date, on ``today`` (the patient's local date), or None: not in the future, and
    not more than ``OLDEST_AGE`` years back."""
    if born is None:
        return None
    if born > today:
        return BORN_IN_THE_FUTURE
    if born.year < today.year - OLDEST_AGE:
        return BORN_TOO_LONG_AGO
    return None


def local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


DETAIL_NAMES = {
    "timezone": "time zone",
    "phone": "phone",
    "emergency_contact": "emergency contact",
    "sex": "sex",
    "indications": "indications",
    "substances": "substances",
    "tracks_pain": "pain",
    "sleep_detail": "sleep diary",
    "urinary_check": "urinary check",
    "induction_until": "induction end",
    "birth_date": "birth date",
    "rems_enrolled": "REMS enrolment",
    "language": "language",
}
PROGRAMME_FIELDS = ("indications", "substances", "tracks_pain", "sleep_detail")
_LIST_FIELDS = ("indications", "substances")
_PATIENT_FIELDS = ("sex", "urinary_check", "induction_until", "birth_date", "rems_enrolled", "language")


def update_details(session: Session, patient: Patient, values: dict, by: User, now: datetime) -> list[str]:
    """Apply the details given in ``values`` (any of timezone, phone, emergency_contact, sex, language, the programme's
    substances, tracks_pain and sleep_detail, urinary_check, induction_until, birth_date, rems_enrolled); the names
    of those that changed, in a fixed order. Raises ``DetailsError`` before changing anything. A programme change
    is recorded in the programme history (``set_programme``); a new time zone moves the reminders, which are read
    in it."""
    zone = values.get("timezone", patient.user.timezone)
    problems: dict[str, str] = {}
    try:
        contact = contact_from(values, zone)  # every check first: nothing is half-written
    except DetailsError as error:
        contact, problems = {}, dict(error.errors)
    born_problem = birth_date_problem(values.get("birth_date"), local_today(zone, now))
    if born_problem:
        problems["birth_date"] = born_problem
    if any(name in values for name in ("indications", "substances", "tracks_pain")):
        try:
            values = {**values, **_programme_of_indications(patient, values)}
        except DetailsError as error:
            problems.update(error.errors)
    if problems:  # every problem at once, so a form shows each at its field
        (field, message), *rest = problems.items()
        raise DetailsError(field, message, dict(rest))
    changed: list[str] = []
    if "timezone" in values and values["timezone"] != patient.user.timezone:
        patient.user.timezone = values["timezone"]
        changed.append("timezone")
    if "phone" in contact and contact["phone"] != patient.phone:
        patient.phone = contact["phone"]
        changed.append("phone")
    if "emergency_contact_name" in contact:
        new = (contact["emergency_contact_name"], contact["emergency_contact_phone"])
        if new != (patient.emergency_contact_name, patient.emergency_contact_phone):
            patient.emergency_contact_name, patient.emergency_contact_phone = new
            changed.append("emergency_contact")
    for name in _PATIENT_FIELDS:
        if name in values and getattr(patient, name) != values[name]:
            setattr(patient, name, values[name])
            changed.append(name)
    programme = {name: values[name] for name in PROGRAMME_FIELDS if name in values}
    changed += set_programme(session, patient, programme, by, now)
    if changed:
        patient.data_version = (patient.data_version or 0) + 1  # charts and figures are cached under it
    return [name for name in DETAIL_NAMES if name in changed]


def unseen_notes(session: Session, patient_id: int) -> int:
    """How many of the patient's check-in notes no one on the care team has opened yet (diary.note_unseen)."""
    return session.scalar(
        select(func.count())
        .select_from(CheckIn)
        .where(CheckIn.patient_id == patient_id, CheckIn.note != "", CheckIn.note_seen_at.is_(None))
    )


# --- Indications: what the patient is treated for (SPEC 11) --------------------------------------------------

# The daily items an indication switches on (SPEC 11's "every day" row): chronic pain the pain item (PAIN-R1),
# alcohol use alcohol's craving and use (CRV-R1, SUD-R1); other substance use asks for the substances chosen, of
# which there must be one besides alcohol. Depression and PTSD add questionnaires only.
PAIN_INDICATION, ALCOHOL_INDICATION, SUBSTANCE_INDICATION = "chronic_pain", "alcohol", "substance_use"
NEEDS_A_SUBSTANCE = (
    f"{instruments.INDICATIONS[SUBSTANCE_INDICATION]} is an indication: choose at least one substance besides "
    f"{SUBSTANCES['alcohol'].lower()} to track."
)


def infer_indications(substances: Sequence[str], tracks_pain: bool) -> list[str]:
    """The indications of a programme given without them (an older API client): depression, plus those its daily
    items point to, as migration 0011 inferred them for the patients enrolled before indications were kept."""
    found = ["depression"]
    if tracks_pain:
        found.append(PAIN_INDICATION)
    if "alcohol" in substances:
        found.append(ALCOHOL_INDICATION)
    if any(code != "alcohol" for code in substances):
        found.append(SUBSTANCE_INDICATION)
    return found


def daily_items_for(
    indications: Sequence[str], substances: Sequence[str], tracks_pain: bool, field: str = "substances"
) -> tuple[list[str], bool]:
    """The substances and pain item with what ``indications`` switch on added (the order given kept, alcohol
    after it); raises ``DetailsError`` at ``field`` when other substance use has no substance besides alcohol."""
    substances = list(substances)
    if ALCOHOL_INDICATION in indications and "alcohol" not in substances:
        substances.append("alcohol")
    if SUBSTANCE_INDICATION in indications and not any(code != "alcohol" for code in substances):
        raise DetailsError(field, NEEDS_A_SUBSTANCE)
    return substances, bool(tracks_pain) or PAIN_INDICATION in indications


def _programme_of_indications(patient: Patient, values: dict) -> dict:
    """The indications, substances and pain item a change leaves the patient with, those switched on added."""
    indications = list(values.get("indications", patient.indications or ()))
    substances, tracks_pain = daily_items_for(
        indications,
        values.get("substances", patient.substances or ()),
        values.get("tracks_pain", patient.tracks_pain),
        # The field to fix: the substances when they were given (a form gives both), else the indications.
        field="substances" if "substances" in values else "indications",
    )
    return {"indications": indications, "substances": substances, "tracks_pain": tracks_pain}


def enrolment_programme(values: dict, now: datetime) -> dict:
    """An enrolment's ``values`` (as PatientEnrolmentSchema loads them) with the indications (inferred when left
    out) and the daily items they switch on. Raises ``DetailsError`` naming every field to fix, the phone
    numbers' and birth date's too (``accounts.enrol_patient`` checks them again), so a form shows each problem at
    once."""
    problems: dict[str, str] = {}
    try:
        contact_from({name: values.get(name) for name in ("phone", "emergency_contact")}, values["timezone"])
    except DetailsError as error:
        problems.update(error.errors)
    born_problem = birth_date_problem(values.get("birth_date"), local_today(values["timezone"], now))
    if born_problem:
        problems["birth_date"] = born_problem
    indications = values.get("indications")
    if indications is None:
        indications = infer_indications(values.get("substances", ()), values.get("tracks_pain", False))
    substances, tracks_pain = list(values.get("substances", ())), values.get("tracks_pain", False)
    try:
        substances, tracks_pain = daily_items_for(indications, substances, tracks_pain)
    except DetailsError as error:
        problems.update(error.errors)
    if problems:
        (field, message), *rest = problems.items()
        raise DetailsError(field, message, dict(rest))
    return {**values, "indications": list(indications), "substances": substances, "tracks_pain": tracks_pain}


def start_indications(session: Session, patient: Patient, indications: Sequence[str]) -> None:
    """Record the indications a patient was just enrolled with, on the patient and on the programme history's
    first row (written by ``accounts.enrol_patient``, which does not take them)."""
    patient.indications = list(indications)
    for row in session.scalars(select(ProgrammeChange).where(ProgrammeChange.patient_id == patient.user_id)):
        row.indications = list(indications)


@dataclass(frozen=True)
class IndicationEffect:
    """What choosing an indication adds, in words, from the instruments' definitions."""

    key: str
    label: str
    questionnaires: tuple[str, ...]
    daily_items: tuple[str, ...]


def questionnaire_words(instrument: instruments.Instrument) -> str:
    return instrument.name if instrument.self_report else f"{instrument.name} (entered by the care team)"


def _daily_item_words(key: str) -> tuple[str, ...]:
    if key == PAIN_INDICATION:
        return ("pain (0–10)",)
    if key == ALCOHOL_INDICATION:
        return (f"craving and use: {SUBSTANCES['alcohol']}",)
    if key == SUBSTANCE_INDICATION:
        return ("craving and use of each substance chosen (at least one besides alcohol)",)
    return ()


def everyone_questionnaires(clinic) -> tuple[str, ...]:
    """The questionnaires every patient of ``clinic`` is asked, whatever their indications."""
    return tuple(questionnaire_words(i) for i in instruments.offered_to(clinic) if i.indication == instruments.EVERYONE)


def indication_effects(clinic) -> list[IndicationEffect]:
    """Each indication with the questionnaires and daily items it adds for ``clinic``'s patients."""
    offered = instruments.offered_to(clinic)
    return [
        IndicationEffect(
            key,
            label,
            tuple(questionnaire_words(i) for i in offered if i.indication == key),
            _daily_item_words(key),
        )
        for key, label in instruments.INDICATIONS.items()
    ]


# --- The programme and its history ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Programme:
    """What the daily check-in asks (each substance's craving and use, pain, the sleep diary) and what the patient
    is treated for (which chooses the questionnaires)."""

    substances: tuple[str, ...]
    tracks_pain: bool
    sleep_detail: bool
    indications: tuple[str, ...] = ()

    @classmethod
    def of(cls, record: Patient | ProgrammeChange) -> Programme:
        return cls(
            tuple(record.substances or ()),
            bool(record.tracks_pain),
            bool(record.sleep_detail),
            tuple(record.indications or ()),
        )


def first_programme(session: Session, patient: Patient, by: User | None, now: datetime) -> ProgrammeChange:
    """The history's first row, at enrolment: the programme the patient starts with."""
    return _history_row(session, patient, by.id if by is not None else None, now)


def _history_row(session: Session, patient: Patient, by_id: int | None, at: datetime) -> ProgrammeChange:
    row = ProgrammeChange(
        patient_id=patient.user_id,
        effective_at=at,
        changed_by_id=by_id,
        substances=list(patient.substances),
        tracks_pain=patient.tracks_pain,
        sleep_detail=patient.sleep_detail,
        indications=list(patient.indications or ()),
    )
    session.add(row)
    return row


def set_programme(session: Session, patient: Patient, values: dict, by: User | None, now: datetime) -> list[str]:
    """Set any of ``indications``, ``substances``, ``tracks_pain`` and ``sleep_detail`` as given (the daily items
    the indications call for are worked out before: ``update_details``); when something changed, append a
    history row (the whole programme, effective ``now``, by ``by``) and return the names that changed. Lists keep
    the order given (the same substances or indications in another order are no change)."""
    changed = [name for name in PROGRAMME_FIELDS if name in values and _differs(getattr(patient, name), values[name])]
    if not changed:
        return []
    if session.scalar(select(ProgrammeChange.id).where(ProgrammeChange.patient_id == patient.user_id)) is None:
        # A patient made without a history row (before it was kept): the programme until now is its first row.
        _history_row(session, patient, patient.enrolled_by_id, patient.enrolled_at)
    for name in changed:
        setattr(patient, name, list(values[name]) if name in _LIST_FIELDS else values[name])
    _history_row(session, patient, by.id if by is not None else None, now)
    return changed


def _differs(old, new) -> bool:
    if isinstance(old, list | tuple) or isinstance(new, list | tuple):
        return set(old or []) != set(new or [])  # the same substances in another order are the same programme
    return old != new


def programme_history(session: Session, patient: Patient) -> list[ProgrammeChange]:
    """The programme's history, oldest first. A patient enrolled before history was kept, and never changed
    since, has none stored: their programme since enrolment stands in as one unsaved row."""
    rows = list(
        session.scalars(
            select(ProgrammeChange)
            .where(ProgrammeChange.patient_id == patient.user_id)
            .order_by(ProgrammeChange.effective_at, ProgrammeChange.id)
        )
    )
    if rows:
        return rows
    return [
        ProgrammeChange(
            patient_id=patient.user_id,
            effective_at=patient.enrolled_at,
            changed_by_id=patient.enrolled_by_id,
            substances=list(patient.substances),
            tracks_pain=patient.tracks_pain,
            sleep_detail=patient.sleep_detail,
            indications=list(patient.indications or ()),
        )
    ]


@dataclass(frozen=True)
class HistoryEntry:
    """One row of the history as the care team reads it."""

    effective_at: datetime
    by: str  # who made the change ("" when not known)
    changes: tuple[str, ...]  # what changed, in words; at enrolment what the programme was


def _names(codes) -> str:
    return ", ".join(SUBSTANCES.get(code, code) for code in codes)


def indication_names(codes) -> str:
    return ", ".join(instruments.INDICATIONS.get(code, code) for code in codes)


def describe_history(rows: Sequence[ProgrammeChange], names: dict[int, str]) -> list[HistoryEntry]:
    """The history in words, newest first: what each row changed from the one before (``names`` maps a user's
    id to their name)."""
    entries = []
    previous: Programme | None = None
    for row in rows:
        current = Programme.of(row)
        if previous is None:
            changes = [
                f"Substances: {_names(current.substances) or 'none'}",
                f"Pain: {'tracked' if current.tracks_pain else 'not tracked'}",
                f"Sleep diary: {'tracked' if current.sleep_detail else 'not tracked'}",
                f"Indications: {indication_names(current.indications) or 'none recorded'}",
            ]
        else:
            changes = []
            added = [c for c in current.indications if c not in previous.indications]
            removed = [c for c in previous.indications if c not in current.indications]
            if added:
                changes.append(f"Added the indication {indication_names(added)}")
            if removed:
                changes.append(f"Removed the indication {indication_names(removed)}")
            added = [c for c in current.substances if c not in previous.substances]
            removed = [c for c in previous.substances if c not in current.substances]
            if added:
                changes.append(f"Started tracking {_names(added)}")
            if removed:
                changes.append(f"Stopped tracking {_names(removed)}")
            if current.tracks_pain != previous.tracks_pain:
                changes.append("Started tracking pain" if current.tracks_pain else "Stopped tracking pain")
            if current.sleep_detail != previous.sleep_detail:
                changes.append("Started the sleep diary" if current.sleep_detail else "Stopped the sleep diary")
        entries.append(HistoryEntry(row.effective_at, names.get(row.changed_by_id or 0, ""), tuple(changes)))
        previous = current
    return list(reversed(entries))


def programme_on(rows: Sequence[ProgrammeChange], day: date, zone: ZoneInfo) -> Programme | None:
    """The programme in force on the patient's local ``day``: as set by the last change made on or before that
    day (of several changes on one day, the last); None before the first."""
    found = None
    for row in sorted(rows, key=lambda r: (r.effective_at, r.id or 0)):
        if row.effective_at.astimezone(zone).date() <= day:
            found = Programme.of(row)
    return found


Period = tuple[date, date | None]  # first and last local day, both included; None: still in the programme


def substance_periods(rows: Sequence[ProgrammeChange], zone: ZoneInfo) -> dict[str, list[Period]]:
    """For each substance ever in the programme, the runs of local days on which it was in force (as
    ``programme_on`` sees them): from the day of the change that added it to the day before the one that
    removed it. A substance added and removed on the same day has no day of its own."""
    by_day: list[tuple[date, Programme]] = []
    for row in sorted(rows, key=lambda r: (r.effective_at, r.id or 0)):
        day = row.effective_at.astimezone(zone).date()
        if by_day and by_day[-1][0] == day:
            by_day[-1] = (day, Programme.of(row))  # the last change of a day is the one in force that day
        else:
            by_day.append((day, Programme.of(row)))
    periods: dict[str, list[Period]] = {}
    open_since: dict[str, date] = {}
    for day, programme in by_day:
        for code in list(open_since):
            if code not in programme.substances:
                periods.setdefault(code, []).append((open_since.pop(code), day - timedelta(days=1)))
        for code in programme.substances:
            open_since.setdefault(code, day)
    for code, since in open_since.items():
        periods.setdefault(code, []).append((since, None))
    return periods


def substance_started(rows: Sequence[ProgrammeChange], zone: ZoneInfo) -> dict[str, date]:
    """The local day each substance now in the programme started its current run in it."""
    return {code: runs[-1][0] for code, runs in substance_periods(rows, zone).items() if runs[-1][1] is None}
