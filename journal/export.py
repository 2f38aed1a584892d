"""One patient's data to take away: a CSV with one row per record, and a FHIR R4 Bundle coded as SPEC 9 says.

No Flask. ``load`` reads everything the patient has recorded (not only a chart's window); ``to_csv`` and
``fhir_bundle`` turn it into text and a JSON document; ``read_csv`` reads the CSV back into typed values, so a
test (or another program) can check that nothing was lost on the way.

The CSV
-------
One row per record, told apart by ``record_type``: ``checkin`` (one a day), ``craving`` and ``use`` (one per
tracked substance, under the check-in they were answered in), ``sleep`` (the night before a check-in's date),
``assessment`` (a questionnaire: its answers, total and the results the instrument reports beyond it, under
the SPEC's names), ``session`` (a dosing session, planned, given or cancelled, with its at-session record) and
``session_check`` (the patient's check after a session). Every row has every column (``COLUMNS`` says what
each holds); a column that does not apply to a record type is empty. A patient's own download leaves out the
care team's session notes and the escort's name (third-party data, for staff: SPEC 7.4).

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
* The ``Questionnaire`` of each instrument used (answers with their points as ordinal values, SPEC 9.2) and
  a ``CodeSystem`` for the journal's local codes, so the Bundle explains itself. Every code comes from the
  instrument's definition (``instruments``): LOINC where SPEC 9.1 verified one, the local system otherwise
  (PHQ-8, PCL-5, PEG, PACS, AUDIT-C item 1 and most AUDIT-C answers; SPEC 12.2, 12.17). No LOINC code is
  invented.
* One ``QuestionnaireResponse`` per form (SPEC 9.2: ``linkId`` = the item's code, labelled answers as codings,
  numeric ones as integers); an ``Observation`` for each total (``valueQuantity`` in ``{score}``,
  ``derivedFrom`` the response, SPEC 9.3) with what the instrument reports beyond it as components (SPEC 9.4:
  the severity band; the PCL-5's cluster subtotals, both flags and the cut-point in force; the PEG's sum, its
  value being the one-decimal score; the AUDIT-C's ``positive`` and threshold); the AUDIT-C as US Core's panel
  (72109-2 with ``hasMember`` its items and total, 75626-2); and the PHQ-9 item 9 answer as its own
  Observation, 44260-8 (PHQ-R6).
* Daily mood, pain, craving (per substance) and substance use as ``survey`` Observations with local codes
  (SPEC 9.4: no LOINC code could be verified for them, and none is invented); each sleep diary night as an
  Observation of total sleep time (93832-4) over ``effectivePeriod`` into bed..out of bed, with the other
  diary answers and metrics as components.
* Each given dosing session as a ``MedicationAdministration`` (status ``completed``; route and product as
  text, since no coded route or product is recorded; the product a contained ``Medication`` carrying the lot
  number; dose with its UCUM unit), its at-session record as Observations ``partOf`` it (SPEC 9.4; local
  codes, UCUM ``mm[Hg]``, ``/min``, ``%``) and the patient's checks after it. Planned and cancelled sessions
  were never administered, so they are in the CSV only.

URLs (canonical Questionnaire URLs, the local CodeSystem, ``fullUrl``) sit under the clinic's ``BASE_URL``
followed by ``/fhir/``; they name things, they are not a FHIR server the journal runs. The daily side effects
and urinary symptoms, free-text notes, the concomitant medication as written, the escort's name and who monitored
the patient are in the CSV only. Neither file has the patient's birth date or REMS enrolment (staff only).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import instruments
from .checkins import CRAVING_FREQUENCIES, SIDE_EFFECTS, SLEEP_QUALITY, sleep_metrics, use_day
from .instruments import Answer, Instrument, Item
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
from .questionnaires import ANSWERS, ATTRIBUTION, DIFFICULTY_ANSWERS, DIFFICULTY_QUESTION
from .scoring import BAND_LABELS, PHQ9
from .vitals import CONCOMITANT_CLASSES, concomitant_answers
from .wording import N_

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


# Each name is marked for translation: a patient's own download from their page has its header in their language
# (see to_csv). The name stays the English file's machine name, which read_csv and other programs rely on.
COLUMNS: tuple[Column, ...] = (
    Column(N_("record_type"), "str", "checkin, craving, use, sleep, assessment, session or session_check"),
    Column(N_("patient_id"), "int", "the patient's id in the journal"),
    Column(N_("id"), "int", "the record's id; for craving, use and sleep rows, the id of their check-in"),
    Column(N_("local_date"), "date", "the patient's calendar date of the record (a session's or form's local day)"),
    Column(N_("source"), "str", "patient (in the app) or clinician (entered by staff, e.g. from paper)"),
    # checkin
    Column(N_("mood"), "int", "checkin: mood today, 0 worst .. 10 best"),  # MOOD-R1
    Column(N_("pain"), "int", "checkin: average pain over 24 hours, 0 none .. 10 worst; empty if not asked"),  # PAIN-R1
    Column(N_("side_effects"), "codes", "checkin: side effects reported, codes joined with ';', or none"),
    Column(N_("urinary"), "codes", "checkin: urinary symptoms, codes, none, or empty if not asked that day"),
    Column(N_("note"), "text", "checkin: the patient's note"),
    Column(N_("report_mode"), "str", "checkin: on_time, or retrospective (filled in later)"),
    Column(N_("days_after_event"), "int", "checkin: how many days after its date it was filled in"),
    Column(N_("saved_at"), "instant", "checkin: when it was last saved"),
    # craving, use
    Column(N_("substance"), "str", "craving, use: the substance's code"),
    Column(N_("intensity"), "int", "craving: strongest craving on the check-in's date, 0 none .. 10 extreme"),  # CRV-R1
    Column(N_("frequency"), "str", "craving: how often (none, 1-2, 3-5, 6+), if asked"),
    Column(N_("used"), "bool", "use: true or false, on the check-in's date (its local_date)"),  # SUD-R1
    Column(N_("amount"), "text", "use: how much, as the patient wrote it"),
    # sleep
    Column(N_("into_bed"), "instant", "sleep: got into bed"),
    Column(N_("tried_sleep"), "instant", "sleep: started trying to sleep"),
    Column(N_("sol_min"), "int", "sleep: minutes to fall asleep"),
    Column(N_("awakenings"), "int", "sleep: number of awakenings"),
    Column(N_("waso_min"), "int", "sleep: minutes awake in the night"),
    Column(N_("final_wake"), "instant", "sleep: final awakening"),
    Column(N_("out_of_bed"), "instant", "sleep: got out of bed"),
    Column(N_("quality"), "str", "sleep: very_poor, poor, fair, good or very_good"),
    Column(N_("tib_min"), "int", "sleep: time in bed, minutes (derived)"),
    Column(N_("tst_min"), "int", "sleep: total sleep time, minutes (derived)"),
    Column(N_("se_pct"), "float", "sleep: sleep efficiency, % (derived)"),
    # assessment
    Column(N_("instrument"), "str", "assessment: phq9, phq8, gad7, pcl5, peg, pacs or auditc"),
    Column(N_("completed_at"), "instant", "assessment, session_check: when it was filled in"),
    Column(
        N_("answers"),
        "answers",
        "assessment: item answers in form order, joined with ';' (empty: unanswered); each 0-3 for the PHQ and "
        "GAD-7, 0-4 for the PCL-5 and AUDIT-C, 0-10 for the PEG, 0-6 for the PACS",
    ),
    Column(N_("difficulty"), "str", "assessment: PHQ item 10, or not_applicable when every item is 0"),
    Column(
        N_("total"),
        "int",
        "assessment: total score (PEG: the sum of the three items; empty only when PHQ-9 item 9 is unanswered)",
    ),
    Column(N_("band"), "str", "assessment: severity band (PHQ-9, PHQ-8, GAD-7)"),
    Column(N_("prorated"), "bool", "assessment: total prorated for one or two unanswered items"),
    Column(N_("two_item_total"), "int", "assessment: PHQ-2 or GAD-2 total"),
    Column(N_("item9"), "int", "assessment: PHQ-9 item 9 answer"),
    Column(N_("safety"), "str", "assessment: PHQ-9 safety screen: positive, negative or unknown"),
    # the results an instrument reports beyond its total, under the names the SPEC gives them
    Column(N_("cluster_b"), "int", "assessment: PCL-5 cluster B (intrusion, items 1-5) subtotal"),  # PCL-R6
    Column(N_("cluster_c"), "int", "assessment: PCL-5 cluster C (avoidance, items 6-7) subtotal"),
    Column(N_("cluster_d"), "int", "assessment: PCL-5 cluster D (negative cognitions and mood, items 8-14) subtotal"),
    Column(N_("cluster_e"), "int", "assessment: PCL-5 cluster E (arousal and reactivity, items 15-20) subtotal"),
    Column(N_("provisional_ptsd"), "bool", "assessment: PCL-5 provisional DSM-5 symptom pattern"),  # PCL-R7
    Column(N_("probable_ptsd"), "bool", "assessment: PCL-5 score at or above the screening cut-point"),
    Column(N_("cut_point"), "int", "assessment: the PCL-5 screening cut-point in force when it was scored"),
    Column(N_("peg_sum"), "int", "assessment: PEG sum of the three items, 0-30 (what every decision uses)"),  # PEG-R3
    Column(N_("peg_score"), "float", "assessment: PEG score, the mean of the three items to one decimal"),
    Column(N_("positive"), "bool", "assessment: AUDIT-C positive screen"),  # AUDC-R5
    Column(N_("threshold"), "int", "assessment: the AUDIT-C threshold used"),
    Column(
        N_("threshold_basis"),
        "str",
        "assessment: AUDIT-C threshold from the recorded sex: male, female or "
        "default-lower (sex other or not recorded)",
    ),
    Column(
        N_("all_points_from_item1"),
        "bool",
        "assessment: AUDIT-C points all from item 1 (likely below the recommended limits; for the clinician's review)",
    ),
    # session
    Column(N_("status"), "str", "session: planned, given or cancelled"),
    Column(N_("start"), "instant", "session: start"),
    Column(N_("route"), "str", "session: iv, im, intranasal, oral or sublingual"),
    Column(N_("product"), "text", "session: product"),
    Column(N_("dose"), "float", "session: dose, in dose_unit"),
    Column(N_("dose_unit"), "str", "session: mg, mg/kg or mcg"),
    Column(N_("weight_kg"), "float", "session: weight for a weight-based dose"),
    Column(N_("setting"), "str", "session: clinic or home"),
    Column(N_("bp_systolic_pre"), "int", "session: blood pressure before dosing, systolic mmHg"),
    Column(N_("bp_diastolic_pre"), "int", "session: blood pressure before dosing, diastolic mmHg"),
    Column(N_("heart_rate_pre"), "int", "session: heart rate before dosing, /min"),
    Column(N_("bp_systolic_post"), "int", "session: blood pressure about 40 minutes after dosing, systolic mmHg"),
    Column(N_("bp_diastolic_post"), "int", "session: blood pressure about 40 minutes after dosing, diastolic mmHg"),
    Column(N_("heart_rate_post"), "int", "session: heart rate about 40 minutes after dosing, /min"),
    Column(N_("dissociation_score"), "int", "session: CADSS total (tolerability, not efficacy)"),  # KET-R7
    Column(N_("observation_minutes"), "int", "session: minutes observed before discharge"),
    Column(N_("discharge_at"), "instant", "session: discharged"),
    # the rest of the at-session record (KET-R8)
    Column(N_("spo2_pre"), "int", "session: oxygen saturation before dosing, %"),
    Column(N_("spo2_post"), "int", "session: oxygen saturation after dosing, %"),
    Column(N_("sedation"), "int", "session: sedation, MOAA/S, 0 (no response) to 5 (alert)"),
    Column(N_("bp_systolic_discharge"), "int", "session: blood pressure before the end of the session, systolic mmHg"),
    Column(
        N_("bp_diastolic_discharge"), "int", "session: blood pressure before the end of the session, diastolic mmHg"
    ),
    Column(N_("heart_rate_discharge"), "int", "session: heart rate before the end of the session, /min"),
    Column(
        N_("ready_to_leave_minutes"),
        "int",
        "session: minutes from the start of administration at which the "
        "patient would have been ready to leave without a minimum observation time",
    ),
    Column(N_("lot_number"), "text", "session: the product's lot number"),
    Column(N_("transport_arranged"), "bool", "session: a way home other than driving was arranged before dosing"),
    Column(N_("escort"), "text", "session: who takes the patient home (not in a patient's own download)"),
    Column(N_("spo2_pre_at"), "instant", "session: when the SpO2 before dosing was read"),
    Column(N_("spo2_post_at"), "instant", "session: when the lowest SpO2 after dosing was read"),
    Column(N_("sedation_at"), "instant", "session: when the sedation score was taken"),
    Column(
        N_("concomitant_classes"),
        "codes",
        "session: medication that may cause sedation or blood-pressure changes, each class answered as class=yes or "
        "class=no (benzodiazepines, sedative_hypnotics, psychostimulants, maois, opioids), joined with ';', or none",
    ),
    Column(
        N_("concomitant_medication"), "text", "session: medication relevant to the session, as the clinician wrote it"
    ),
    Column(N_("monitored_by_id"), "int", "session: the id of the clinician who monitored the patient"),
    Column(N_("notes"), "text", "session: the care team's notes (not in a patient's own download)"),
    # session_check (KET-R3): the patient's answers the morning after a session and at 72 hours
    Column(N_("session_id"), "int", "session_check: the id of the session it follows"),
    Column(N_("check"), "str", "session_check: morning_after or 72h (which check was answered)"),
    Column(
        N_("skipped"),
        "bool",
        "session_check: true when the patient skipped the check; assessment (AUDIT-C): items "
        "2 and 3 not asked after 'Never' for item 1, and stored as 0",
    ),
    Column(N_("ratings"), "codes", "session_check: items rated 0-10 as item=rating, joined with ';', or none"),
    Column(N_("drove"), "bool", "session_check: drove or operated machinery on the day of the session"),
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


def csv_records(data: ExportData, *, staff_only: bool = True) -> Iterator[dict]:
    """The rows, as plain values: check-ins each followed by their cravings, uses and night, then the forms,
    then the sessions. ``staff_only=False`` leaves out what only staff see: the care team's free-text session
    notes (the clinic decides through its records process whether to release clinicians' notes) and the name
    of the escort home, a third party's data (SPEC 7.4, PRIV-R1). That is a patient's own download."""
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
            **_form_results(form),
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
            "spo2_pre": record.spo2_pre,
            "spo2_post": record.spo2_post,
            "sedation": record.sedation,
            "bp_systolic_discharge": record.bp_systolic_discharge,
            "bp_diastolic_discharge": record.bp_diastolic_discharge,
            "heart_rate_discharge": record.heart_rate_discharge,
            "ready_to_leave_minutes": record.ready_to_leave_minutes,
            "lot_number": record.lot_number or None,
            "transport_arranged": record.transport_arranged,
            "escort": (record.escort or None) if staff_only else None,
            "spo2_pre_at": local(record.spo2_pre_at),
            "spo2_post_at": local(record.spo2_post_at),
            "sedation_at": local(record.sedation_at),
            "concomitant_classes": [
                f"{key}={'yes' if answer else 'no'}"
                for key, answer in concomitant_answers(record.concomitant_classes).items()
                if answer is not None
            ],
            "concomitant_medication": record.concomitant_medication or None,
            "monitored_by_id": record.monitored_by_id,
            "notes": record.notes if staff_only else None,
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


def _form_results(form: Assessment) -> dict:
    """The CSV cells of what an instrument reports beyond its total (``Assessment.scores``), empty for the rest."""
    scores = form.scores or {}
    clusters = scores.get("clusters") or {}
    return {
        **{f"cluster_{name.lower()}": value for name, value in clusters.items()},
        "provisional_ptsd": scores.get("provisional_ptsd"),
        "probable_ptsd": scores.get("probable_ptsd"),
        "cut_point": scores.get("cut_point"),
        "peg_sum": scores.get("peg_sum"),
        "peg_score": scores.get("score") if form.instrument == "peg" else None,
        "positive": scores.get("positive"),
        "threshold": scores.get("threshold"),
        "threshold_basis": scores.get("threshold_basis"),
        "skipped": scores.get("skipped"),
        "all_points_from_item1": scores.get("all_points_from_item1"),
    }


# The words the file itself writes, besides the column names: the record types, yes and no, an empty list. Marked
# for translation with the machine word as the message, so that the English file stays the machine file.
RECORD_TYPES = (
    N_("checkin"),
    N_("craving"),
    N_("use"),
    N_("sleep"),
    N_("assessment"),
    N_("session"),
    N_("session_check"),
)
_FILE_WORDS = {"true": N_("true"), "false": N_("false"), _EMPTY_LIST: N_("none")}


def to_csv(data: ExportData, *, staff_only: bool = True, gettext: Callable[[str], str] | None = None) -> str:
    """The CSV text (RFC 4180: CRLF line ends, quotes where needed), byte-order mark first.

    With ``gettext`` (a patient's own download from their page, in their language) the header, the record types,
    the booleans and the empty list's "none" are in that language, for a person to read; the data's own codes
    (instruments, substances, answers) are not translated. Such a file is for reading, not for ``read_csv``:
    programs use the API's download, always written without ``gettext`` in the machine words, as the care
    team's is. In English the translation is the machine word itself, so the English file is the machine file."""
    words = gettext or (lambda word: word)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(words(name) for name in COLUMN_NAMES)
    for record in csv_records(data, staff_only=staff_only):
        writer.writerow(_cell(record, name, words) for name in COLUMN_NAMES)
    return "\ufeff" + buffer.getvalue()


def _cell(record: dict, name: str, words: Callable[[str], str]) -> str:
    value = record.get(name)
    if value is None:
        return ""
    cell = _WRITE[_KINDS[name]](value)
    if name == "record_type" or (cell in _FILE_WORDS and _KINDS[name] in ("bool", "codes")):
        return words(cell)
    return cell


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
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
QUESTIONNAIRE_VERSION = "1.0"
SURVEY, EXAM = "survey", "exam"
CATEGORY_DISPLAYS = {SURVEY: "Survey", EXAM: "Exam"}

# A LOINC code (item or answer) as the definitions in ``instruments`` write it; anything else there is local.
_LOINC_FORM = re.compile(r"^(LA)?\d{1,8}-\d$")

LOINC_DISPLAYS = {  # LOINC display names of the totals and the AUDIT-C panel (SPEC 9.1, 9.3)
    "44261-6": "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    "70274-6": "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
    "72109-2": "Alcohol Use Disorder Identification Test - Consumption [AUDIT-C]",
    "75626-2": "Total score [AUDIT-C]",
}
ITEM9_CODE = "44260-8"
SLEEP_DURATION = ("93832-4", "Sleep duration")
DOSE_UNITS_UCUM = {"mg": "mg", "mg/kg": "mg/kg", "mcg": "ug"}


def is_loinc(code: str) -> bool:
    return bool(_LOINC_FORM.match(code))


def questionnaire_id(instrument: Instrument) -> str:
    """``phq-9``, ``gad-7``, ``phq-8``, ``pcl-5``, ``peg``, ``pacs``, ``audit-c``: the name, as an id."""
    return instrument.name.lower()


def answer_code(instrument: Instrument, number: int, points: int) -> str:
    """The local code of an answer that has no LOINC code. Items sharing one answer list (the PCL-5's) share
    its codes, as LOINC answer lists are shared; otherwise each item's answers are its own."""
    if all(item.answers == instrument.items[0].answers for item in instrument.items):
        return f"{instrument.key}-answer-{points}"
    return f"{instrument.key}-item-{number}-answer-{points}"


def _instrument_concepts() -> dict[str, str]:
    """The local codes the instrument definitions use: panels and totals without a LOINC code (SPEC 9.1, 12.2,
    12.17), items and answers likewise, and each severity band's component."""
    concepts: dict[str, str] = {}
    for instrument in instruments.ALL.values():
        if instrument.code_system != "loinc":
            concepts[instrument.panel_code] = instrument.title
            what = "total score" if instrument.chart_total == "total" else f"{instrument.chart_total}, to one decimal"
            concepts[instrument.total_code] = f"{instrument.name} {what}"
        if instrument.bands:
            concepts[f"{instrument.key}-severity-band"] = f"{instrument.name} severity band"
        for number, item in enumerate(instrument.items, start=1):
            if not is_loinc(item.code):
                concepts[item.code] = item.wording
            for answer in item.answers:
                if answer.code is None:
                    concepts[answer_code(instrument, number, answer.points)] = answer.label
    return concepts


PCL5_CLUSTER_NAMES = {
    "B": "intrusion, items 1-5",
    "C": "avoidance, items 6-7",
    "D": "negative cognitions and mood, items 8-14",
    "E": "arousal and reactivity, items 15-20",
}

# The at-session record (SPEC 7.4, KET-R8): SPEC 9 verified no code for any of these, so all are local.
SESSION_TIMES = {"pre-dose": "before dosing", "post-dose": "about 40 minutes after dosing",
                 "discharge": "before the end of the session"}  # fmt: skip
SESSION_CONCEPTS: dict[str, str] = {
    **{f"blood-pressure-{key}": f"Blood pressure {words}" for key, words in SESSION_TIMES.items()},
    **{f"heart-rate-{key}": f"Heart rate {words}" for key, words in SESSION_TIMES.items()},
    "bp-systolic": "Systolic blood pressure",
    "bp-diastolic": "Diastolic blood pressure",
    "spo2-pre-dose": "Oxygen saturation (pulse oximetry) before dosing",
    "spo2-post-dose": "Oxygen saturation (pulse oximetry) after dosing",
    "sedation-moaas": (
        "Sedation, Modified Observer's Assessment of Alertness/Sedation (MOAA/S), 0 no response to 5 alert"
    ),
    "dissociation-cadss": "Dissociation, CADSS total (tolerability, not efficacy)",  # KET-R7
    "observation-minutes": "Minutes observed before discharge",
    "ready-to-leave-minutes": (
        "Minutes from the start of administration at which the patient would have been ready to leave without a "
        "minimum observation time"
    ),
    "discharge-time": "Discharged",
    "transport-arranged": "A way home other than driving arranged before dosing",
    **{
        f"concomitant-{key.replace('_', '-')}": f"Takes medication of this class: {name.lower()}"
        for key, name in CONCOMITANT_CLASSES.items()
    },
}

# The journal's own codes (SPEC 9.1: local CodeSystem; SPEC 12.2: no LOINC code verified for these).
LOCAL_CONCEPTS: dict[str, str] = {
    **_instrument_concepts(),
    **{band: label for band, label in BAND_LABELS.items()},
    **{
        f"pcl5-cluster-{name.lower()}": f"PCL-5 cluster {name} ({words}) subtotal"
        for name, words in PCL5_CLUSTER_NAMES.items()
    },
    "pcl5-provisional-ptsd": "Provisional DSM-5 symptom pattern",  # PCL-R7: never "PTSD" or "no PTSD"
    "pcl5-probable-ptsd": "Score at or above screening cut-point",
    "pcl5-cut-point": "Screening cut-point in force",
    "peg-sum": "PEG sum of the three items, 0-30",
    "auditc-positive": "Positive screen",
    "auditc-threshold": "Threshold used for a positive screen",
    "auditc-threshold-basis": "What the threshold was chosen by",
    "auditc-threshold-basis-male": "Recorded sex male",
    "auditc-threshold-basis-female": "Recorded sex female",
    "auditc-threshold-basis-default-lower": "Sex other or not recorded: the lower threshold",
    "auditc-all-points-from-item1": "Every point from item 1: likely drinking below the recommended limits",
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
    **SESSION_CONCEPTS,
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

    def coding(self, code: str) -> dict:
        """An item's coding: LOINC where the definition gives a LOINC code, the local system otherwise."""
        return {"system": LOINC, "code": code} if is_loinc(code) else self.local_code(code)

    def instrument_concept(self, instrument: Instrument, code: str) -> dict:
        """A panel or total code, in the system the definition names."""
        if instrument.code_system == "loinc":
            coding = {"system": LOINC, "code": code}
            if code in LOINC_DISPLAYS:
                coding["display"] = LOINC_DISPLAYS[code]
            return {"coding": [coding]}
        return self.local_concept(code)

    def answer_coding(self, instrument: Instrument, number: int, answer: Answer) -> dict:
        if answer.code is not None:
            return {"system": LOINC, "code": answer.code, "display": answer.label}
        return self.local_code(answer_code(instrument, number, answer.points))

    def observation(self, resource_id: str, code: dict, effective: dict, category: str | None, **fields) -> dict:
        resource = {"resourceType": "Observation", "id": resource_id, "status": "final"}
        if category is not None:
            coding = {"system": OBSERVATION_CATEGORY, "code": category, "display": CATEGORY_DISPLAYS[category]}
            resource["category"] = [{"coding": [coding]}]
        return {**resource, "code": code, "subject": self.patient_ref, **effective, **fields}

    def survey(self, resource_id: str, code: dict, effective: dict, **fields) -> dict:
        return self.observation(resource_id, code, effective, SURVEY, **fields)

    @staticmethod
    def quantity(value: float, unit: str) -> dict:
        return {"value": value, "unit": unit, "system": UCUM, "code": unit}

    def score(self, value: float) -> dict:
        return self.quantity(value, "{score}")

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

    def canonical(self, instrument: Instrument) -> str:
        return f"{self.base}/Questionnaire/{questionnaire_id(instrument)}"

    def questionnaire(self, instrument: Instrument) -> dict:
        """The form's definition: each answer with its points as its ordinal value (SPEC 9.2, as MII does), a
        numeric item with its range."""
        items = [
            {"linkId": link, "text": text, "type": "display"}
            for link, text in (("instruction", instrument.instruction), ("stem", instrument.stem))
            if text
        ]
        items += [self.questionnaire_item(instrument, number, item) for number, item in enumerate(instrument.items, 1)]
        if instrument.has_difficulty:
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
            "id": questionnaire_id(instrument),
            "url": self.canonical(instrument),
            "version": QUESTIONNAIRE_VERSION,
            "name": instrument.name.replace("-", ""),
            "title": instrument.title,
            "status": "active",
            "subjectType": ["Patient"],
            "code": self.instrument_concept(instrument, instrument.panel_code)["coding"],
            "copyright": instrument.attribution or ATTRIBUTION,  # the PHQ and GAD-7's line lives in questionnaires
            "item": items,
        }

    def questionnaire_item(self, instrument: Instrument, number: int, item: Item) -> dict:
        entry = {"linkId": item.code, "code": [self.coding(item.code)], "text": item.wording, "required": True}
        if item.answers:
            entry["type"] = "choice"
            entry["answerOption"] = [
                {
                    "valueCoding": {
                        "extension": [{"url": ORDINAL_VALUE, "valueDecimal": answer.points}],
                        **self.answer_coding(instrument, number, answer),
                    }
                }
                for answer in item.answers
            ]
        else:
            # A numeric scale (the PEG's 0-10, the PACS items taken from the clinic's copy, 0-6): every item of
            # these instruments has the same range, so the highest answer is the highest total over the items.
            highest = instrument.total_max // len(instrument.items)
            entry["type"] = "integer"
            entry["extension"] = [{"url": MIN_VALUE, "valueInteger": 0}, {"url": MAX_VALUE, "valueInteger": highest}]
            if item.anchors:
                low, high = item.anchors
                entry["item"] = [
                    {"linkId": f"{item.code}-anchors", "text": f"0: {low}. {highest}: {high}.", "type": "display"}
                ]
        if instrument.key == "auditc" and number > 1:
            # AUDC-R3: after "Never" for item 1, items 2 and 3 are not asked.
            never = self.answer_coding(instrument, 1, instrument.items[0].answers[0])
            entry["enableWhen"] = [{"question": instrument.items[0].code, "operator": "!=", "answerCoding": never}]
        return entry

    def asked(self, instrument: Instrument, form: Assessment) -> list[tuple[int, Item, int]]:
        """(item number, item, points) of each item answered: an unanswered paper item has no answer to record,
        and AUDIT-C items 2 and 3 were not asked after "Never" (AUDC-R3), though stored as 0."""
        skipped = bool((form.scores or {}).get("skipped"))
        return [
            (number, item, answer)
            for number, (item, answer) in enumerate(zip(instrument.items, form.answers, strict=True), start=1)
            if answer is not None and not (skipped and number > 1)
        ]

    def answer_value(self, instrument: Instrument, number: int, item: Item, points: int) -> dict:
        if not item.answers:
            return {"valueInteger": points}
        answer = next(answer for answer in item.answers if answer.points == points)
        return {"valueCoding": self.answer_coding(instrument, number, answer)}

    def form_resources(self, form: Assessment) -> list[dict]:
        """The QuestionnaireResponse of one form, its total's Observation (the AUDIT-C's within its panel) and
        (PHQ-9) item 9's (PHQ-R6)."""
        definition = instruments.ALL[form.instrument]
        response_id = f"qr-{form.id}"
        asked = self.asked(definition, form)
        items = [
            {"linkId": item.code, "text": item.wording, "answer": [self.answer_value(definition, number, item, points)]}
            for number, item, points in asked
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
        timing = {"effectiveDateTime": self.when(form.completed_at)}
        common = {
            "issued": self.when(form.created_at),
            "derivedFrom": [{"reference": f"QuestionnaireResponse/{response_id}"}],
        }
        if form.total is not None:
            total = self.total(definition, form, timing, common)
            if definition.key == "auditc":
                resources.extend(self.auditc_panel(definition, form, asked, total, timing, common))
            else:
                resources.append(total)
        if form.instrument == PHQ9 and form.item9 is not None:
            wording = definition.items[8].wording
            _points, label, code = ANSWERS[form.item9]
            resources.append(
                self.survey(
                    f"phq9-item9-{form.id}",
                    {"coding": [{"system": LOINC, "code": ITEM9_CODE, "display": wording}], "text": "PHQ-9 item 9"},
                    timing,
                    valueCodeableConcept={"coding": [{"system": LOINC, "code": code, "display": label}]},
                    **common,
                )
            )
        return resources

    def total(self, definition: Instrument, form: Assessment, timing: dict, common: dict) -> dict:
        """The total (SPEC 9.3), or the PEG's one-decimal score (PEG-R3), with the instrument's other results
        as components (SPEC 9.4)."""
        scores = form.scores or {}
        value = form.total if definition.chart_total == "total" else scores[definition.chart_total]
        total = self.survey(
            f"{form.instrument}-total-{form.id}",
            self.instrument_concept(definition, definition.total_code),
            timing,
            valueQuantity=self.score(value),
            **common,
        )
        components = []
        if form.band is not None:
            band = {"code": self.local_concept(f"{form.instrument}-severity-band")}
            components.append({**band, "valueCodeableConcept": self.local_concept(form.band)})
        components += self.result_components(form.instrument, scores)
        if components:
            total["component"] = components
        if form.prorated:
            total["note"] = [{"text": "Prorated: one or two items were unanswered."}]  # PHQ-R12
        return total

    def result_components(self, instrument: str, scores: dict) -> list[dict]:
        """What the PCL-5, PEG and AUDIT-C report beyond the total, each under a local code."""

        def part(code: str, **value) -> dict:
            return {"code": self.local_concept(code), **value}

        if instrument == "pcl5":
            return [
                *(
                    part(f"pcl5-cluster-{name.lower()}", valueQuantity=self.score(v))
                    for name, v in scores["clusters"].items()
                ),
                part("pcl5-provisional-ptsd", valueBoolean=scores["provisional_ptsd"]),
                part("pcl5-probable-ptsd", valueBoolean=scores["probable_ptsd"]),
                part("pcl5-cut-point", valueQuantity=self.score(scores["cut_point"])),  # PCL-R6: stored with each
            ]
        if instrument == "peg":
            return [part("peg-sum", valueQuantity=self.score(scores["peg_sum"]))]
        if instrument == "auditc":
            basis = f"auditc-threshold-basis-{scores['threshold_basis']}"
            return [
                part("auditc-positive", valueBoolean=scores["positive"]),
                part("auditc-threshold", valueQuantity=self.score(scores["threshold"])),
                part("auditc-threshold-basis", valueCodeableConcept=self.local_concept(basis)),
                part("auditc-all-points-from-item1", valueBoolean=scores["all_points_from_item1"]),  # AUDC-R6
            ]
        return []

    def auditc_panel(
        self, definition: Instrument, form: Assessment, asked: list, total: dict, timing: dict, common: dict
    ) -> list[dict]:
        """The US Core pattern (SPEC 9.4): a 72109-2 panel whose members are an Observation per item asked and
        the total."""
        members = [
            self.survey(
                f"auditc-item{number}-{form.id}",
                {"coding": [self.coding(item.code)], "text": item.wording},
                timing,
                valueCodeableConcept={"coding": [self.answer_value(definition, number, item, points)["valueCoding"]]},
                **common,
            )
            for number, item, points in asked
        ] + [total]
        panel = self.survey(
            f"auditc-panel-{form.id}",
            self.instrument_concept(definition, definition.panel_code),
            timing,
            hasMember=[{"reference": f"Observation/{member['id']}"} for member in members],
            **common,
        )
        return [panel, *members]

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
        """A given session. The product is a contained Medication, the one place FHIR R4 has for its lot number
        (``batch.lotNumber``, KET-R8); route and product are text, since no coded ones are recorded."""
        unit = record.dose_unit
        medication = {"resourceType": "Medication", "id": "product", "code": {"text": record.product}}
        if record.lot_number:
            medication["batch"] = {"lotNumber": record.lot_number}
        return {
            "resourceType": "MedicationAdministration",
            "id": f"session-{record.id}",
            "contained": [medication],
            "status": "completed",
            "medicationReference": {"reference": "#product", "display": record.product},
            "subject": self.patient_ref,
            "effectiveDateTime": self.when(record.start),
            "dosage": {
                "route": {"text": ROUTES.get(record.route, record.route)},
                "dose": {"value": record.dose, "unit": unit, "system": UCUM, "code": DOSE_UNITS_UCUM[unit]},
            },
        }

    def session_measures(self, record: DosingSession) -> list[dict]:
        """The at-session record of a given session (SPEC 7.4, 9.4) as Observations ``partOf`` its
        MedicationAdministration, under local codes (SPEC 9 verified none). A SpO2 or sedation reading whose time
        was recorded is dated by it (``effectiveDateTime``); every other is dated by the session, from its start to
        its discharge when recorded, and its code says when in the session it was taken. Each class of concomitant
        medication answered (the REMS form's item 2) is an Observation of its own, true or false.

        Blood pressure, heart rate, oxygen saturation and sedation are in category ``exam`` (a clinician's
        measure with a simple instrument), not ``vital-signs``: FHIR R4 requires a vital-signs Observation to
        carry the vital-signs profile's LOINC codes, which SPEC 9 could not verify. The CADSS is a rating scale
        (``survey``). The escort's name is not here: FHIR has no place for it on these resources, and a
        patient downloads this file too (the name is third-party data, for staff only: SPEC 7.4). Nor are the
        staff: who monitored the patient and the medication as written are in the CSV."""
        period = {"start": self.when(record.start)}
        if record.discharge_at is not None:
            period["end"] = self.when(record.discharge_at)
        part_of = {"partOf": [{"reference": f"MedicationAdministration/session-{record.id}"}]}
        found: list[dict] = []

        def add(code: str, category: str | None, effective: dict | None = None, **value) -> None:
            effective = effective or {"effectivePeriod": period}
            resource_id = f"session-{record.id}-{code}"
            found.append(
                self.observation(resource_id, self.local_concept(code), effective, category, **part_of, **value)
            )

        def at(instant: datetime | None) -> dict | None:
            """A timed reading's own instant, where it was recorded; else the session's period."""
            return None if instant is None else {"effectiveDateTime": self.when(instant)}

        readings = {
            "pre-dose": (record.bp_systolic_pre, record.bp_diastolic_pre, record.heart_rate_pre, record.spo2_pre),
            "post-dose": (record.bp_systolic_post, record.bp_diastolic_post, record.heart_rate_post, record.spo2_post),
            "discharge": (
                record.bp_systolic_discharge,
                record.bp_diastolic_discharge,
                record.heart_rate_discharge,
                None,
            ),
        }
        spo2_times = {"pre-dose": record.spo2_pre_at, "post-dose": record.spo2_post_at}
        for when, (systolic, diastolic, heart_rate, spo2) in readings.items():
            pressures = [
                {"code": self.local_concept(code), "valueQuantity": self.quantity(value, "mm[Hg]")}
                for code, value in (("bp-systolic", systolic), ("bp-diastolic", diastolic))
                if value is not None
            ]
            if pressures:
                add(f"blood-pressure-{when}", EXAM, component=pressures)
            if heart_rate is not None:
                add(f"heart-rate-{when}", EXAM, valueQuantity=self.quantity(heart_rate, "/min"))
            if spo2 is not None:
                add(f"spo2-{when}", EXAM, at(spo2_times[when]), valueQuantity=self.quantity(spo2, "%"))
        if record.sedation is not None:
            add("sedation-moaas", EXAM, at(record.sedation_at), valueInteger=record.sedation)
        if record.dissociation_score is not None:
            add("dissociation-cadss", SURVEY, valueQuantity=self.score(record.dissociation_score))
        for code, minutes in (
            ("observation-minutes", record.observation_minutes),
            ("ready-to-leave-minutes", record.ready_to_leave_minutes),
        ):
            if minutes is not None:
                add(code, None, valueQuantity=self.quantity(minutes, "min"))
        if record.transport_arranged is not None:
            add("transport-arranged", None, valueBoolean=record.transport_arranged)
        for key, answer in concomitant_answers(record.concomitant_classes).items():
            if answer is not None:
                add(f"concomitant-{key.replace('_', '-')}", None, valueBoolean=answer)
        if record.discharge_at is not None:
            discharged = self.when(record.discharge_at)
            add("discharge-time", None, {"effectiveDateTime": discharged}, valueDateTime=discharged)
        return found


def fhir_bundle(data: ExportData, base_url: str, now: datetime) -> dict:
    """A FHIR R4 ``collection`` Bundle of everything the patient recorded, as JSON-ready dicts."""
    build = _Fhir(data, base_url)
    used = {form.instrument for form in data.forms}
    resources = [
        build.patient(),
        build.code_system(),
        *(build.questionnaire(instrument) for key, instrument in instruments.ALL.items() if key in used),
    ]
    for form in data.forms:
        resources.extend(build.form_resources(form))
    for checkin in data.checkins:
        resources.extend(build.checkin_resources(checkin))
    given = [s for s in data.sessions if s.status == SessionStatus.GIVEN]
    for record in given:
        resources.append(build.administration(record))
        resources.extend(build.session_measures(record))
    given_ids = {s.id for s in given}
    resources.extend(build.session_check(check) for check in data.session_checks if check.session_id in given_ids)
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
