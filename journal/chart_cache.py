"""A patient's three clinician charts (outcomes, assessments, adherence): their sentences, their sizes, and
their rendered bytes, cached in the ``chart_cache`` table so that every web process shares them. No Flask.

A chart is cached under a key that names everything its picture depends on: the chart, the format, the range
in days, the patient's local today (the range ends there), the patient's data version (raised by every write
of their data, in the writer's transaction), their time zone and activation date (which decide which diary
days were due), the settings the questionnaires chart reads (``questionnaire_settings``), and
``CHART_VERSION`` (raise it when a chart's drawing changes). A new check-in therefore makes a new key, and
the ETag, a hash of the key, changes with it; a client's ``If-None-Match`` can be answered without rendering or
reading the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from matplotlib.figure import Figure
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from . import charts, instruments, patient_data, scales
from .models import ChartCache, Patient
from .patient_data import PatientData

log = logging.getLogger(__name__)

CHART_VERSION = 4  # raise when any chart is drawn differently, so no cached picture of the old kind is served
NAMES = ("outcomes", "assessments", "adherence")
MIMETYPES = {"png": "image/png", "svg": "image/svg+xml"}
DEFAULT_DAYS = patient_data.DEFAULT_DAYS
RANGES = (30, 90, 180, 365)  # the ranges a page offers and a chart URL's ?days= takes; nothing else is drawn


def parse_days(value: str | None) -> int | None:
    """A page's ``?days=``: DEFAULT_DAYS when absent, one of RANGES, else None (the caller answers 400)."""
    if value is None:
        return DEFAULT_DAYS
    return int(value) if value.isdigit() and int(value) in RANGES else None


TITLES = {"outcomes": "Daily outcomes", "assessments": "Questionnaires", "adherence": "Diary days"}


# --- What the page says about each chart ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChartInfo:
    """What a page needs to show a chart before its picture arrives: the sentence that stands in for it (its
    alternative text) and its size in pixels (so the page does not jump as pictures load)."""

    name: str
    title: str
    sentence: str
    width: int
    height: int


def describe(data: PatientData) -> list[ChartInfo]:
    """The three charts of ``data``, in the order a page shows them."""
    daily = patient_data.daily_series(data)
    states = patient_data.adherence_by_day(data)
    forms = assessment_series(data)
    sizes = {
        "outcomes": charts.pixels(charts.outcomes_size(daily)),
        "assessments": charts.pixels(charts.assessments_size(forms)),
        "adherence": charts.pixels(charts.adherence_size(states)),
    }
    sentences = {
        "outcomes": charts.outcomes_summary(daily),
        "assessments": charts.assessments_summary(forms),
        "adherence": charts.adherence_summary(states),
    }
    return [ChartInfo(name, TITLES[name], sentences[name], *sizes[name]) for name in NAMES]


def figure(data: PatientData, name: str) -> Figure:
    """The chart ``name`` of ``data``, as a Figure (not yet rendered)."""
    if name == "outcomes":
        return charts.outcomes_figure(patient_data.daily_series(data))
    if name == "assessments":
        return charts.assessments_figure(assessment_series(data))
    if name == "adherence":
        return charts.adherence_figure(patient_data.adherence_by_day(data), data.given_days)
    raise ValueError(name)


def assessment_series(data: PatientData) -> charts.AssessmentSeries:
    """Every questionnaire the patient's indications call for (``instruments.for_patient``: the clinic's PHQ-9 or
    PHQ-8, the GAD-7, then PCL-5, PEG, AUDIT-C, PACS as indicated), each with its scored forms in the range, its
    stored baseline, and the cut-point in force where the forms carry none."""
    legacy = patient_data.assessment_series(data)  # the PHQ-9 and GAD-7 lists, as the report draws them
    patient = data.patient
    settings = {
        "pcl5": patient.user.clinic.pcl5_cut_point,
        "auditc": scales.AUDITC_THRESHOLDS.get(patient.sex, scales.AUDITC_DEFAULT_THRESHOLD),
    }
    panels = []
    for definition in instruments.for_patient(patient):
        forms = [
            (data.local(form.completed_at), form.total, form.scores or {})
            for form in data.forms
            if form.instrument == definition.key
            and form.total is not None
            and data.first <= data.local(form.completed_at)
        ]
        baseline = data.baselines.get(definition.key)
        panels.append(
            charts.InstrumentForms(
                definition.key,
                forms,
                baseline.total if baseline is not None else None,
                settings.get(definition.key),
            )
        )
    return dataclasses.replace(legacy, instruments=tuple(panels))


# --- The cache ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartKey:
    """One rendering of one chart of one patient's data."""

    patient_id: int
    name: str
    fmt: str
    days: int
    generation: str  # everything about the patient the picture depends on; other generations are stale

    @property
    def key(self) -> str:
        return f"{self.generation}/{self.name}.{self.fmt}/d{self.days}"

    @property
    def etag(self) -> str:
        """A strong ETag value (unquoted): the same key always has the same picture."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:32]

    @property
    def mimetype(self) -> str:
        return MIMETYPES[self.fmt]


def questionnaire_settings(patient: Patient) -> str:
    """What the questionnaires chart depends on beyond the patient's data version, none of which raises it: the
    indications (which panels), the clinic's depression questionnaire (SAFE-R4) and PCL-5 cut-point, and the
    patient's recorded sex (the AUDIT-C threshold), the last two drawn when no form carries its own."""
    clinic = patient.user.clinic
    indications = "+".join(sorted(patient.indications or ())) or "-"
    return f"i{indications}/{clinic.depression_instrument}/c{clinic.pcl5_cut_point}/s{patient.sex}"


def key_for(patient: Patient, name: str, fmt: str, days: int, now: datetime) -> ChartKey:
    """The cache key of a chart as of ``now``, from the patient row, its user and their clinic (one primary-key
    lookup at most, usually already in the session)."""
    if name not in NAMES or fmt not in MIMETYPES:
        raise ValueError(f"{name}.{fmt}")
    user = patient.user
    zone = ZoneInfo(user.timezone)
    today = now.astimezone(zone).date()
    active = user.activated_at.astimezone(zone).date().isoformat() if user.activated_at is not None else "-"
    generation = (
        f"v{CHART_VERSION}/p{patient.user_id}/{today.isoformat()}/dv{patient.data_version}/{user.timezone}/{active}"
        f"/{questionnaire_settings(patient)}"
    )
    return ChartKey(patient.user_id, name, fmt, days, generation)


def cached(session: Session, key: ChartKey) -> bytes | None:
    return session.scalar(select(ChartCache.content).where(ChartCache.key == key.key))


def store(session: Session, key: ChartKey, content: bytes, now: datetime) -> None:
    """Keep ``content`` under ``key`` and commit. Another process may be storing the same key at the same
    moment: the second insert does nothing (the pictures are the same). Then the patient's stale generations
    are deleted, in a transaction of their own, since a failure there (a lock, a deadlock between two
    clean-ups) costs nothing but a later clean-up."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(ChartCache)
        .values(key=key.key, patient_id=key.patient_id, content=content, created_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    session.commit()
    try:
        session.execute(
            delete(ChartCache).where(
                ChartCache.patient_id == key.patient_id,
                ~ChartCache.key.startswith(key.generation + "/", autoescape=True),
            )
        )
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.warning("stale charts of a patient were not deleted; the next stored chart retries", exc_info=True)


def get_or_render(session: Session, patient: Patient, key: ChartKey, now: datetime) -> bytes:
    """The chart's bytes: from the cache, or drawn from the patient's data, stored (committed) and returned.
    The caller has committed its own work before: this commits."""
    content = cached(session, key)
    if content is not None:
        return content
    data = patient_data.load(session, patient, now, key.days)
    built = figure(data, key.name)
    # Nothing is held open while drawing (a hundred milliseconds or more): the read transaction ends here.
    session.rollback()
    content = charts.render(built, key.fmt)
    store(session, key, content, now)
    return content
