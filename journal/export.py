"""One patient's data to take away: a CSV with one row per record, and a FHIR R4 Bundle coded as SPEC 9 says.

No Flask. ``load`` reads everything the patient has recorded (not only a chart's window); ``to_csv`` and
``fhir_bundle`` turn it into text and a JSON document; ``read_csv`` reads the CSV back into typed values, so a
test (or another program) can check that nothing was lost on the way.

The CSV
-------
One row per record, told apart by ``record_type``: ``checkin`` (one a day), ``craving`` and ``use`` (one per
tracked substance, under the check-in they were answered in), ``sleep`` (the night before a check-in's date),
``assessment`` (a PHQ-9 or GAD-7) and ``session`` (a dosing session, planned, given or cancelled). Every row has
every column (``COLUMNS`` says what each holds); a column that does not apply to a record type is empty.

Instants are ISO 8601 with the patient's own UTC offset at that moment (so the wall-clock time reads as the
patient lived it and still names one instant); dates are the patient's local calendar dates. Lists are codes
joined with ``;``, with ``none`` for an empty list and an empty cell for a question not asked. Free text that
a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
written with a leading ``'``, as is text that itself starts with ``'``; ``read_csv`` takes it off again.
The file starts with a UTF-8 byte-order mark: without it, a spreadsheet opened with a double click shows
accented letters in a note as garbage.

The FHIR Bundle
---------------
A ``collection`` Bundle (FHIR R4) holding:

* ``Patient``: the id and the clinic's identifier only. No name, e-mail, birth date or address: whoever
  receives the file (an EHR, another clinic) already knows who the patient is and matches on the identifier,
  and a file that names nobody does less harm if it goes astray (data minimisation).
* The ``Questionnaire`` definitions (PHQ-9 and/or GAD-7, with ordinal values, SPEC 9.2) and a ``CodeSystem``
  for the journal's local codes, so the Bundle explains itself.
* One ``QuestionnaireResponse`` per form (SPEC 9.2: ``linkId`` = the item's LOINC code, answers as LOINC
  answer codes); an ``Observation`` for each total (PHQ-9 44261-6, GAD-7 70274-6; ``valueQuantity`` in
  ``{score}``, the severity band as a component in the local code system, ``derivedFrom`` the response,
  SPEC 9.3); and the PHQ-9 item 9 answer as its own Observation, 44260-8 (PHQ-R6).
* Daily mood, pain, craving (per substance) and substance use as ``survey`` Observations with local codes
  (SPEC 9.4: no LOINC code could be verified for them, and none is invented); each sleep diary night as an
  Observation of total sleep time (93832-4) over ``effectivePeriod`` into bed..out of bed, with the other
  diary answers and metrics as components.
* Each given dosing session as a ``MedicationAdministration`` (status ``completed``; route and product as
  text, since no coded route or product is recorded; dose with its UCUM unit). Planned and cancelled sessions
  were never administered, so they are in the CSV only.

URLs (canonical Questionnaire URLs, the local CodeSystem, ``fullUrl``) sit under the clinic's ``BASE_URL``
followed by ``/fhir/``; they name things, they are not a FHIR server the journal runs. Side effects, urinary
symptoms, free-text notes and the at-session measures (blood pressure, CADSS) are in the CSV only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .checkins import CRAVING_FREQUENCIES, SIDE_EFFECTS, SLEEP_QUALITY, sleep_metrics, use_day
from .models import (
    ROUTES,
    SUBSTANCES,
    Assessment,
    CheckIn,
    DosingSession,
    EntrySource,
    Patient,
    SessionStatus,
    SideEffectCheck,
)
from .questionnaires import ANSWERS, ATTRIBUTION, DIFFICULTY_ANSWERS, DIFFICULTY_QUESTION, FORMS, Questionnaire
from .scoring import BAND_LABELS, PHQ9

# --- Loading -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportData:
    """Everything one patient has recorded, oldest first."""

    patient: Patient
    checkins: list[CheckIn]
    forms: list[Assessment]
    sessions: list[DosingSession]
    session_checks: list[SideEffectCheck] = field(default_factory=list)  # KET-R3 answers, by session then kind

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.patient.user.timezone)

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)


def load(session: Session, patient: Patient) -> ExportData:
    """Every check-in, form and session of the patient, whatever its date."""
    pid = patient.user_id
    return ExportData(
        patient=patient,
        checkins=list(session.scalars(select(CheckIn).where(CheckIn.patient_id == pid).order_by(CheckIn.local_date))),
        forms=list(
            session.scalars(
                select(Assessment).where(Assessment.patient_id == pid).order_by(Assessment.completed_at, Assessment.id)
            )
        ),
        sessions=list(
            session.scalars(
                select(DosingSession)
                .where(DosingSession.patient_id == pid)
                .order_by(DosingSession.start, DosingSession.id)
            )
        ),
        session_checks=list(
            session.scalars(
                select(SideEffectCheck)
                .where(SideEffectCheck.patient_id == pid)
                .order_by(SideEffectCheck.session_id, SideEffectCheck.completed_at, SideEffectCheck.id)
            )
        ),
    )


# --- CSV ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # how the value is written and read back: see _WRITE / _READ
    doc: str


COLUMNS: tuple[Column, ...] = (
    Column("record_type", "str", "checkin, craving, use, sleep, assessment, session or session_check"),
    Column("patient_id", "int", "the patient's id in the journal"),
    Column("id", "int", "the record's id; for craving, use and sleep rows, the id of their check-in"),
    Column("local_date", "date", "the patient's calendar date of the record (a session's or form's local day)"),
    Column("source", "str", "patient (in the app) or clinician (entered by staff, e.g. from paper)"),
    # checkin
    Column("mood", "int", "checkin: mood today, 0 worst .. 10 best"),  # MOOD-R1
    Column("pain", "int", "checkin: average pain over 24 hours, 0 none .. 10 worst; empty if not asked"),  # PAIN-R1
    Column("side_effects", "codes", "checkin: side effects reported, codes joined with ';', or none"),
    Column("urinary", "codes", "checkin: urinary symptoms, codes, none, or empty if not asked that day"),
    Column("note", "text", "checkin: the patient's note"),
    Column("report_mode", "str", "checkin: on_time, or retrospective (filled in later)"),
    Column("days_after_event", "int", "checkin: how many days after its date it was filled in"),
    Column("saved_at", "instant", "checkin: when it was last saved"),
    # craving, use
    Column("substance", "str", "craving, use: the substance's code"),
    Column("intensity", "int", "craving: strongest craving on the check-in's date, 0 none .. 10 extreme"),  # CRV-R1
    Column("frequency", "str", "craving: how often (none, 1-2, 3-5, 6+), if asked"),
    Column("used", "bool", "use: true or false, on the check-in's date (its local_date)"),  # SUD-R1
    Column("amount", "text", "use: how much, as the patient wrote it"),
    # sleep
    Column("into_bed", "instant", "sleep: got into bed"),
    Column("tried_sleep", "instant", "sleep: started trying to sleep"),
    Column("sol_min", "int", "sleep: minutes to fall asleep"),
    Column("awakenings", "int", "sleep: number of awakenings"),
    Column("waso_min", "int", "sleep: minutes awake in the night"),
    Column("final_wake", "instant", "sleep: final awakening"),
    Column("out_of_bed", "instant", "sleep: got out of bed"),
    Column("quality", "str", "sleep: very_poor, poor, fair, good or very_good"),
    Column("tib_min", "int", "sleep: time in bed, minutes (derived)"),
    Column("tst_min", "int", "sleep: total sleep time, minutes (derived)"),
    Column("se_pct", "float", "sleep: sleep efficiency, % (derived)"),
    # assessment
    Column("instrument", "str", "assessment: phq9 or gad7"),
    Column("completed_at", "instant", "assessment, session_check: when it was filled in"),
    Column("answers", "answers", "assessment: item answers 0-3 in form order, joined with ';' (empty: unanswered)"),
    Column("difficulty", "str", "assessment: PHQ-9 item 10, or not_applicable when every item is 0"),
    Column("total", "int", "assessment: total score (empty only when PHQ-9 item 9 is unanswered)"),
    Column("band", "str", "assessment: severity band"),
    Column("prorated", "bool", "assessment: total prorated for one or two unanswered items"),
    Column("two_item_total", "int", "assessment: PHQ-2 or GAD-2 total"),
    Column("item9", "int", "assessment: PHQ-9 item 9 answer"),
    Column("safety", "str", "assessment: PHQ-9 safety screen: positive, negative or unknown"),
    # session
    Column("status", "str", "session: planned, given or cancelled"),
    Column("start", "instant", "session: start"),
    Column("route", "str", "session: iv, im, intranasal, oral or sublingual"),
    Column("product", "text", "session: product"),
    Column("dose", "float", "session: dose, in dose_unit"),
    Column("dose_unit", "str", "session: mg, mg/kg or mcg"),
    Column("weight_kg", "float", "session: weight for a weight-based dose"),
    Column("setting", "str", "session: clinic or home"),
    Column("bp_systolic_pre", "int", "session: blood pressure before dosing, systolic mmHg"),
    Column("bp_diastolic_pre", "int", "session: blood pressure before dosing, diastolic mmHg"),
    Column("heart_rate_pre", "int", "session: heart rate before dosing, /min"),
    Column("bp_systolic_post", "int", "session: blood pressure about 40 minutes after dosing, systolic mmHg"),
    Column("bp_diastolic_post", "int", "session: blood pressure about 40 minutes after dosing, diastolic mmHg"),
    Column("heart_rate_post", "int", "session: heart rate about 40 minutes after dosing, /min"),
    Column("dissociation_score", "int", "session: CADSS total (tolerability, not efficacy)"),  # KET-R7
    Column("observation_minutes", "int", "session: minutes observed before discharge"),
    Column("discharge_at", "instant", "session: discharged"),
    Column("notes", "text", "session: the care team's notes (not in a patient's own download)"),
    # session_check (KET-R3): the patient's answers the morning after a session and at 72 hours
    Column("session_id", "int", "session_check: the id of the session it follows"),
    Column("check", "str", "session_check: morning_after or 72h (which check was answered)"),
    Column("skipped", "bool", "session_check: true when the patient skipped the check"),
    Column("ratings", "codes", "session_check: items rated 0-10 as item=rating, joined with ';', or none"),
    Column("drove", "bool", "session_check: drove or operated machinery on the day of the session"),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
_KINDS = {column.name: column.kind for column in COLUMNS}

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_EMPTY_LIST = "none"


def _write_text(value: str) -> str:
    # A cell starting like a formula would run in a spreadsheet (CSV injection); a quote mark defuses it.
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _read_text(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def _write_codes(value: list[str]) -> str:
    return ";".join(value) if value else _EMPTY_LIST


def _read_codes(cell: str) -> list[str]:
    return [] if cell == _EMPTY_LIST else cell.split(";")


def _write_answers(value: list[int | None]) -> str:
    return ";".join("" if answer is None else str(answer) for answer in value)


def _read_answers(cell: str) -> list[int | None]:
    return [None if part == "" else int(part) for part in cell.split(";")]


def _read_bool(cell: str) -> bool:
    if cell not in ("true", "false"):
        raise ValueError(f"not a boolean: {cell!r}")
    return cell == "true"


_WRITE: dict[str, Callable] = {
    "str": str,
    "text": _write_text,
    "int": str,
    "float": repr,  # the shortest text that reads back as the same float
    "bool": lambda value: "true" if value else "false",
    "date": date.isoformat,
    "instant": datetime.isoformat,  # given already in the patient's zone
    "codes": _write_codes,
    "answers": _write_answers,
}
_READ: dict[str, Callable] = {
    "str": str,
    "text": _read_text,
    "int": int,
    "float": float,
    "bool": _read_bool,
    "date": date.fromisoformat,
    "instant": datetime.fromisoformat,
    "codes": _read_codes,
    "answers": _read_answers,
}


def csv_records(data: ExportData, *, staff_notes: bool = True) -> Iterator[dict]:
    """The rows, as plain values: check-ins each followed by their cravings, uses and night, then the forms,
    then the sessions. ``staff_notes=False`` leaves out the care team's free-text session notes (a patient's
    own download: the clinic decides through its records process whether to release clinicians' notes)."""
    pid = data.patient.user_id

    def local(instant: datetime | None) -> datetime | None:
        return None if instant is None else data.local(instant)

    for checkin in data.checkins:
        common = {"patient_id": pid, "id": checkin.id, "local_date": checkin.local_date}
        yield {
            "record_type": "checkin",
            **common,
            "source": checkin.source.value,
            "mood": checkin.mood,
            "pain": checkin.pain,
            "side_effects": checkin.side_effects,
            "urinary": checkin.urinary,
            "note": checkin.note,
            "report_mode": checkin.report_mode.value,
            "days_after_event": checkin.days_after_event,
            "saved_at": local(checkin.updated_at),
        }
        for craving in checkin.cravings:
            yield {
                "record_type": "craving",
                **common,
                "substance": craving.substance,
                "intensity": craving.intensity,
                "frequency": craving.frequency,
            }
        for use in checkin.uses:
            yield {"record_type": "use", **common, "substance": use.substance, "used": use.used, "amount": use.amount}
        night = checkin.sleep
        if night is not None:
            yield {
                "record_type": "sleep",
                **common,
                "into_bed": local(night.into_bed),
                "tried_sleep": local(night.tried_sleep),
                "sol_min": night.sol_min,
                "awakenings": night.awakenings,
                "waso_min": night.waso_min,
                "final_wake": local(night.final_wake),
                "out_of_bed": local(night.out_of_bed),
                "quality": night.quality,
                "tib_min": night.tib_min,
                "tst_min": night.tst_min,
                "se_pct": sleep_metrics(night).se_pct,
            }
    for form in data.forms:
        yield {
            "record_type": "assessment",
            "patient_id": pid,
            "id": form.id,
            "local_date": data.local(form.completed_at).date(),
            "source": form.source.value,
            "instrument": form.instrument,
            "completed_at": local(form.completed_at),
            "answers": form.answers,
            "difficulty": form.difficulty,
            "total": form.total,
            "band": form.band,
            "prorated": form.prorated,
            "two_item_total": form.two_item_total,
            "item9": form.item9,
            "safety": form.safety,
        }
    for record in data.sessions:
        yield {
            "record_type": "session",
            "patient_id": pid,
            "id": record.id,
            "local_date": data.local(record.start).date(),
            "source": EntrySource.CLINICIAN.value,  # only staff record sessions (KET-R1)
            "status": record.status.value,
            "start": local(record.start),
            "route": record.route,
            "product": record.product,
            "dose": record.dose,
            "dose_unit": record.dose_unit,
            "weight_kg": record.weight_kg,
            "setting": record.setting,
            "bp_systolic_pre": record.bp_systolic_pre,
            "bp_diastolic_pre": record.bp_diastolic_pre,
            "heart_rate_pre": record.heart_rate_pre,
            "bp_systolic_post": record.bp_systolic_post,
            "bp_diastolic_post": record.bp_diastolic_post,
            "heart_rate_post": record.heart_rate_post,
            "dissociation_score": record.dissociation_score,
            "observation_minutes": record.observation_minutes,
            "discharge_at": local(record.discharge_at),
            "notes": record.notes if staff_notes else None,
        }
    for check in data.session_checks:
        yield {
            "record_type": "session_check",
            "patient_id": pid,
            "id": check.id,
            "local_date": data.local(check.completed_at).date(),
            "source": EntrySource.PATIENT.value,
            "completed_at": local(check.completed_at),
            "session_id": check.session_id,
            "check": check.kind,
            "skipped": check.skipped,
            "ratings": [f"{item}={check.answers[item]}" for item in SIDE_EFFECTS if item in check.answers],
            "drove": check.answers.get("drove"),
        }


def to_csv(data: ExportData, *, staff_notes: bool = True) -> str:
    """The CSV text (RFC 4180: CRLF line ends, quotes where needed), byte-order mark first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMN_NAMES)
    for record in csv_records(data, staff_notes=staff_notes):
        writer.writerow("" if record.get(name) is None else _WRITE[_KINDS[name]](record[name]) for name in COLUMN_NAMES)
    return "\ufeff" + buffer.getvalue()


def read_csv(text: str) -> list[dict]:
    """The rows of a CSV written by ``to_csv``, each a dict of the columns that are not empty, typed as written.

    Raises ``ValueError`` for a file with other columns or a value that does not read as its column's type.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMN_NAMES:
        raise ValueError("not a journal export: the columns differ")
    rows = []
    for cells in reader:
        if len(cells) != len(COLUMN_NAMES):
            raise ValueError(f"line {reader.line_num}: {len(cells)} cells, expected {len(COLUMN_NAMES)}")
        rows.append(
            {name: _READ[_KINDS[name]](cell) for name, cell in zip(COLUMN_NAMES, cells, strict=True) if cell != ""}
        )
    return rows


# --- FHIR R4 -----------------------------------------------------------------------------------------------------

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
QUESTIONNAIRE_VERSION = "1.0"
QUESTIONNAIRE_IDS = {"phq9": "phq-9", "gad7": "gad-7"}

TOTAL_DISPLAYS = {  # LOINC display names of the totals (SPEC 9.3; LOINC)
    "44261-6": "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    "70274-6": "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
}
ITEM9_CODE = "44260-8"
SLEEP_DURATION = ("93832-4", "Sleep duration")
DOSE_UNITS_UCUM = {"mg": "mg", "mg/kg": "mg/kg", "mcg": "ug"}

# The journal's own codes (SPEC 9.1: local CodeSystem; SPEC 12.2: no LOINC code verified for these).
LOCAL_CONCEPTS: dict[str, str] = {
    "phq9-severity-band": "PHQ-9 severity band",
    "gad7-severity-band": "GAD-7 severity band",
    **{band: label for band, label in BAND_LABELS.items()},
    "daily-mood": "Mood today, 0 worst to 10 best",
    "daily-pain": "Average pain on the day, 0 no pain to 10 worst imaginable",
    "craving-nrs": "Strongest craving on the day, 0 none to 10 extreme",
    "craving-substance": "Substance craved",
    "craving-frequency": "How often the craving came",
    **{f"craving-frequency-{key}": label for key, label in CRAVING_FREQUENCIES.items()},
    "substance-use": "Used the substance on this day",
    "substance-used": "Substance",
    "substance-amount": "Amount used, as the patient wrote it",
    **{f"substance-{key}": label for key, label in SUBSTANCES.items()},
    "sleep-tib": "Time in bed",
    "sleep-sol": "Sleep onset latency",
    "sleep-waso": "Wake after sleep onset",
    "sleep-nwak": "Number of awakenings",
    "sleep-se": "Sleep efficiency",
    "sleep-tried-sleep": "Started trying to sleep",
    "sleep-final-wake": "Final awakening",
    "sleep-quality": "Sleep quality",
    "post-session-check-morning_after": "Post-session side-effect check, the morning after",
    "post-session-check-72h": "Post-session side-effect check, 72 hours after",
    **{f"side-effect-{item}": f"{label}, 0 none to 10 worst" for item, label in SIDE_EFFECTS.items()},
    "drove-on-session-day": "Drove or operated machinery on the day of the session",
    **{f"sleep-quality-{key}": label for key, label in SLEEP_QUALITY.items()},
}


class _Fhir:
    """Builds one patient's resources; every URL sits under the clinic's base URL."""

    def __init__(self, data: ExportData, base_url: str):
        self.data = data
        self.base = base_url.rstrip("/") + "/fhir"
        self.local_system = f"{self.base}/CodeSystem/ketamine-journal"
        self.patient_ref = {"reference": f"Patient/{data.patient.user_id}"}

    # small pieces

    def when(self, instant: datetime) -> str:
        return self.data.local(instant).isoformat()

    def local_code(self, code: str) -> dict:
        return {"system": self.local_system, "code": code, "display": LOCAL_CONCEPTS[code]}

    def local_concept(self, code: str) -> dict:
        return {"coding": [self.local_code(code)]}

    def survey(self, resource_id: str, code: dict, effective: dict, **fields) -> dict:
        return {
            "resourceType": "Observation",
            "id": resource_id,
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
            "code": code,
            "subject": self.patient_ref,
            **effective,
            **fields,
        }

    @staticmethod
    def quantity(value: float, unit: str) -> dict:
        return {"value": value, "unit": unit, "system": UCUM, "code": unit}

    # resources

    def patient(self) -> dict:
        pid = str(self.data.patient.user_id)
        return {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"system": f"{self.base}/sid/patient-id", "value": pid}],
        }

    def code_system(self) -> dict:
        return {
            "resourceType": "CodeSystem",
            "id": "ketamine-journal",
            "url": self.local_system,
            "version": QUESTIONNAIRE_VERSION,
            "name": "JournalLocalCodes",
            "title": "The journal's local codes, for concepts without a verified LOINC code",
            "status": "active",
            "content": "complete",
            "concept": [{"code": code, "display": display} for code, display in LOCAL_CONCEPTS.items()],
        }

    def canonical(self, form: Questionnaire) -> str:
        return f"{self.base}/Questionnaire/{QUESTIONNAIRE_IDS[form.key]}"

    def questionnaire(self, form: Questionnaire) -> dict:
        """The form's definition, with each answer's points as its ordinal value (SPEC 9.2, as MII does)."""
        options = [
            {
                "valueCoding": {
                    "extension": [{"url": ORDINAL_VALUE, "valueDecimal": points}],
                    "system": LOINC,
                    "code": code,
                    "display": label,
                }
            }
            for points, label, code in ANSWERS
        ]
        items = [
            {
                "linkId": code,
                "code": [{"system": LOINC, "code": code}],
                "text": wording,
                "type": "choice",
                "required": True,
                "answerOption": options,
            }
            for wording, code in form.items
        ]
        if form.has_difficulty:
            items.append(
                {
                    "linkId": "69722-7",
                    "code": [{"system": LOINC, "code": "69722-7"}],
                    "text": DIFFICULTY_QUESTION,
                    "type": "choice",
                    "required": False,
                    "answerOption": [
                        {"valueCoding": {"system": LOINC, "code": code, "display": label}}
                        for label, code in DIFFICULTY_ANSWERS.values()
                    ],
                }
            )
        return {
            "resourceType": "Questionnaire",
            "id": QUESTIONNAIRE_IDS[form.key],
            "url": self.canonical(form),
            "version": QUESTIONNAIRE_VERSION,
            "name": form.name.replace("-", ""),
            "title": form.name,
            "status": "active",
            "subjectType": ["Patient"],
            "code": [{"system": LOINC, "code": form.panel_code}],
            "copyright": ATTRIBUTION,
            "item": [{"linkId": "stem", "text": form.stem, "type": "display"}, *items],
        }

    def form_resources(self, form: Assessment) -> list[dict]:
        """The QuestionnaireResponse of one form, its total's Observation and (PHQ-9) item 9's (PHQ-R6)."""
        definition = FORMS[form.instrument]
        response_id = f"qr-{form.id}"
        items = [
            {
                "linkId": code,
                "text": wording,
                "answer": [
                    {"valueCoding": {"system": LOINC, "code": ANSWERS[answer][2], "display": ANSWERS[answer][1]}}
                ],
            }
            for (wording, code), answer in zip(definition.items, form.answers, strict=True)
            if answer is not None  # an unanswered paper item has no answer to record
        ]
        if definition.has_difficulty and form.difficulty in DIFFICULTY_ANSWERS:
            label, code = DIFFICULTY_ANSWERS[form.difficulty]
            items.append(
                {
                    "linkId": "69722-7",
                    "text": DIFFICULTY_QUESTION,
                    "answer": [{"valueCoding": {"system": LOINC, "code": code, "display": label}}],
                }
            )
        response = {
            "resourceType": "QuestionnaireResponse",
            "id": response_id,
            "questionnaire": f"{self.canonical(definition)}|{QUESTIONNAIRE_VERSION}",
            "status": "completed",
            "subject": self.patient_ref,
            "authored": self.when(form.completed_at),
            # The patient answered, in the app or on a paper form that staff typed in.
            "source": self.patient_ref,
            "item": items,
        }
        resources = [response]
        effective = {"effectiveDateTime": self.when(form.completed_at)}
        derived = {"derivedFrom": [{"reference": f"QuestionnaireResponse/{response_id}"}]}
        if form.total is not None:
            band_code = f"{form.instrument}-severity-band"
            total = self.survey(
                f"{form.instrument}-total-{form.id}",
                {
                    "coding": [
                        {
                            "system": LOINC,
                            "code": definition.total_code,
                            "display": TOTAL_DISPLAYS[definition.total_code],
                        }
                    ]
                },
                effective,
                issued=self.when(form.created_at),
                valueQuantity=self.quantity(form.total, "{score}"),
                **derived,
            )
            if form.band is not None:
                total["component"] = [
                    {"code": self.local_concept(band_code), "valueCodeableConcept": self.local_concept(form.band)}
                ]
            if form.prorated:
                total["note"] = [{"text": "Prorated: one or two items were unanswered."}]  # PHQ-R12
            resources.append(total)
        if form.instrument == PHQ9 and form.item9 is not None:
            wording = definition.items[8][0]
            _points, label, code = ANSWERS[form.item9]
            resources.append(
                self.survey(
                    f"phq9-item9-{form.id}",
                    {"coding": [{"system": LOINC, "code": ITEM9_CODE, "display": wording}], "text": "PHQ-9 item 9"},
                    effective,
                    issued=self.when(form.created_at),
                    valueCodeableConcept={"coding": [{"system": LOINC, "code": code, "display": label}]},
                    **derived,
                )
            )
        return resources

    def checkin_resources(self, checkin: CheckIn) -> list[dict]:
        """Mood, pain, cravings and use as survey Observations (SPEC 9.4), and the night's sleep."""
        day = {"effectiveDateTime": checkin.local_date.isoformat()}  # the day the rating is about
        issued = self.when(checkin.updated_at)
        resources = [
            self.survey(
                f"mood-{checkin.id}", self.local_concept("daily-mood"), day, issued=issued, valueInteger=checkin.mood
            )
        ]
        if checkin.pain is not None:
            resources.append(
                self.survey(
                    f"pain-{checkin.id}",
                    self.local_concept("daily-pain"),
                    day,
                    issued=issued,
                    valueInteger=checkin.pain,
                )
            )
        for craving in checkin.cravings:
            components = [
                {
                    "code": self.local_concept("craving-substance"),
                    "valueCodeableConcept": self.local_concept(f"substance-{craving.substance}"),
                }
            ]
            if craving.frequency is not None:
                components.append(
                    {
                        "code": self.local_concept("craving-frequency"),
                        "valueCodeableConcept": self.local_concept(f"craving-frequency-{craving.frequency}"),
                    }
                )
            resources.append(
                self.survey(
                    f"craving-{checkin.id}-{craving.substance}",
                    self.local_concept("craving-nrs"),
                    day,
                    issued=issued,
                    valueInteger=craving.intensity,
                    component=components,
                )
            )
        # SUD-R1: the use question is about the check-in's own day (checkins.use_day).
        use_date = {"effectiveDateTime": use_day(checkin).isoformat()}
        for use in checkin.uses:
            components = [
                {
                    "code": self.local_concept("substance-used"),
                    "valueCodeableConcept": self.local_concept(f"substance-{use.substance}"),
                }
            ]
            if use.amount:
                components.append({"code": self.local_concept("substance-amount"), "valueString": use.amount})
            resources.append(
                self.survey(
                    f"use-{checkin.id}-{use.substance}",
                    self.local_concept("substance-use"),
                    use_date,
                    issued=issued,
                    valueBoolean=use.used,
                    component=components,
                )
            )
        if checkin.sleep is not None:
            resources.append(self.sleep(checkin, issued))
        return resources

    def sleep(self, checkin: CheckIn, issued: str) -> dict:
        """One night (SPEC 9.4): total sleep time over into bed..out of bed, the rest as components."""
        night = checkin.sleep
        metrics = sleep_metrics(night)

        def minutes(code: str, value: int) -> dict:
            return {"code": self.local_concept(code), "valueQuantity": self.quantity(value, "min")}

        return self.survey(
            f"sleep-{checkin.id}",
            {"coding": [{"system": LOINC, "code": SLEEP_DURATION[0], "display": SLEEP_DURATION[1]}]},
            {"effectivePeriod": {"start": self.when(night.into_bed), "end": self.when(night.out_of_bed)}},
            issued=issued,
            valueQuantity=self.quantity(night.tst_min, "min"),
            component=[
                minutes("sleep-tib", night.tib_min),
                minutes("sleep-sol", night.sol_min),
                minutes("sleep-waso", night.waso_min),
                {"code": self.local_concept("sleep-nwak"), "valueInteger": night.awakenings},
                {"code": self.local_concept("sleep-se"), "valueQuantity": self.quantity(metrics.se_pct, "%")},
                {"code": self.local_concept("sleep-tried-sleep"), "valueDateTime": self.when(night.tried_sleep)},
                {"code": self.local_concept("sleep-final-wake"), "valueDateTime": self.when(night.final_wake)},
                {
                    "code": self.local_concept("sleep-quality"),
                    "valueCodeableConcept": self.local_concept(f"sleep-quality-{night.quality}"),
                },
            ],
        )

    def session_check(self, check: SideEffectCheck) -> dict:
        """One post-session check (KET-R3) as a survey Observation: each rated item and the driving answer as
        components (local codes: SPEC 9.1 has no LOINC code for them), part of the session it follows; a skipped
        check carries the reason its values are absent."""
        components = [
            {"code": self.local_concept(f"side-effect-{item}"), "valueInteger": check.answers[item]}
            for item in SIDE_EFFECTS
            if item in check.answers
        ]
        if "drove" in check.answers:
            components.append(
                {"code": self.local_concept("drove-on-session-day"), "valueBoolean": check.answers["drove"]}
            )
        fields: dict = {"component": components} if components else {}
        if check.skipped or not components:
            fields["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "asked-declined"}]}
        return self.survey(
            f"session-check-{check.id}",
            self.local_concept(f"post-session-check-{check.kind}"),
            {"effectiveDateTime": self.when(check.completed_at)},
            issued=self.when(check.completed_at),
            partOf=[{"reference": f"MedicationAdministration/session-{check.session_id}"}],
            **fields,
        )

    def administration(self, record: DosingSession) -> dict:
        unit = record.dose_unit
        return {
            "resourceType": "MedicationAdministration",
            "id": f"session-{record.id}",
            "status": "completed",
            "medicationCodeableConcept": {"text": record.product},
            "subject": self.patient_ref,
            "effectiveDateTime": self.when(record.start),
            "dosage": {
                "route": {"text": ROUTES.get(record.route, record.route)},
                "dose": {"value": record.dose, "unit": unit, "system": UCUM, "code": DOSE_UNITS_UCUM[unit]},
            },
        }


def fhir_bundle(data: ExportData, base_url: str, now: datetime) -> dict:
    """A FHIR R4 ``collection`` Bundle of everything the patient recorded, as JSON-ready dicts."""
    build = _Fhir(data, base_url)
    instruments = sorted({form.instrument for form in data.forms}, key=list(FORMS).index)
    resources = [
        build.patient(),
        build.code_system(),
        *(build.questionnaire(FORMS[key]) for key in instruments),
    ]
    for form in data.forms:
        resources.extend(build.form_resources(form))
    for checkin in data.checkins:
        resources.extend(build.checkin_resources(checkin))
    resources.extend(build.administration(s) for s in data.sessions if s.status == SessionStatus.GIVEN)
    given = {s.id for s in data.sessions if s.status == SessionStatus.GIVEN}
    resources.extend(build.session_check(check) for check in data.session_checks if check.session_id in given)
    return {
        "resourceType": "Bundle",
        "id": f"patient-{data.patient.user_id}-export",
        "type": "collection",
        "timestamp": now.astimezone(data.zone).isoformat(),
        "entry": [
            {"fullUrl": f"{build.base}/{resource['resourceType']}/{resource['id']}", "resource": resource}
            for resource in resources
        ],
    }
