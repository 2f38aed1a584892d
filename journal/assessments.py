"""Questionnaire forms: storing them, the safety pathway, baselines, change and cadence.

What each instrument asks and how it is scored lives in ``instruments`` (with ``scoring`` and ``scales``); this
module stores what it computed (GEN-R2), and in the same transaction raises the high-priority alert a positive or
missing item 9 calls for (PHQ-R5, PHQ-R7, SAFE-R3), so the answers can never be stored without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import instruments, schedules, scoring
from .alerts import raise_alert
from .baselines import apply_rule
from .models import Assessment, Baseline, Clinic, EntrySource, Patient, User
from .questionnaires import ANSWERS
from .schedules import interval_days  # noqa: F401 (the demo and older callers use it from here)
from .scoring import PHQ8, PHQ9
from .sessions import bump_data_version
from .wording import N_

MIN_GAP = timedelta(days=7)  # SPEC 1.10: never ask the PHQ-9 more than once in 7 days
LATE_LIMIT = timedelta(hours=24)  # a patient's own completed_at (say, answered offline) may be this old
CLOCK_SKEW = timedelta(minutes=5)
OVERLAP_DAYS = 14  # SPEC 1.10: closer than the 2-week recall window, two forms' windows overlap


class AssessmentError(Exception):
    """The form cannot be stored as given; ``field`` names what to fix, ``status`` suits an HTTP answer."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def local_date(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def latest(session: Session, patient_id: int, instrument: str, before: datetime | None = None) -> Assessment | None:
    query = select(Assessment).where(Assessment.patient_id == patient_id, Assessment.instrument == instrument)
    if before is not None:
        query = query.where(Assessment.completed_at < before)
    return session.scalar(query.order_by(Assessment.completed_at.desc(), Assessment.id.desc()).limit(1))


def submit(session: Session, patient: Patient, data: dict, now: datetime, entered_by: User) -> tuple[Assessment, bool]:
    """Score and store a form; return it and whether it is new. The caller commits.

    A patient answers in the app: every item (PHQ-R3), at most once in 7 days per questionnaire. A clinician
    enters a paper form with its past ``completed_at``, where one or two unanswered items are prorated
    (PHQ-R12) and an unanswered item 9 is never imputed (PHQ-R7). A repeated ``submission_id`` returns the
    stored form, so a retried request records it once.
    """
    user = patient.user
    source = EntrySource.PATIENT if entered_by.id == user.id else EntrySource.CLINICIAN
    instrument = data["instrument"]
    definition = _recordable(patient, instrument, source)
    submission_id = data.get("submission_id")
    if submission_id and (stored := _submitted(session, user.id, submission_id)) is not None:
        return stored, False
    # Claim the patient's row before deciding: a simultaneous form for this patient waits here until this one
    # commits, then finds it (its submission_id stored, or the 7-day rule met) as a form sent after it would.
    bump_data_version(session, user.id)
    if submission_id and (stored := _submitted(session, user.id, submission_id)) is not None:
        return stored, False

    completed_at = data.get("completed_at")
    if source == EntrySource.PATIENT:
        completed_at = completed_at or now
        if not now - LATE_LIMIT <= completed_at <= now + CLOCK_SKEW:
            raise AssessmentError("completed_at", "Give the time you finished, within the last 24 hours.")
        last = latest(session, user.id, instrument)
        gap_days = schedules.min_gap_days(session, user.clinic, definition)
        zone = ZoneInfo(user.timezone)
        next_day = schedules.reopens_on(last.completed_at, gap_days, zone) if last is not None else None
        if next_day is not None and local_date(completed_at, user.timezone) < next_day:
            raise AssessmentError(
                "instrument", f"You filled this in recently. It opens again on {next_day:%A %-d %B}.", 409
            )
    else:
        if completed_at is None:
            raise AssessmentError("completed_at", "Give the date and time the paper form was completed.")
        if completed_at > now + CLOCK_SKEW:
            raise AssessmentError("completed_at", "A form cannot be completed in the future.")

    try:
        result = definition.score(
            data["answers"],
            difficulty=data.get("difficulty"),
            allow_missing=source == EntrySource.CLINICIAN,
            sex=patient.sex,
            pcl5_cut_point=user.clinic.pcl5_cut_point,
        )
    except scoring.ScoringError as error:
        raise AssessmentError(error.field, error.message) from error

    previous = latest(session, user.id, instrument, before=completed_at)
    assessment = Assessment(
        patient_id=user.id,
        instrument=instrument,
        answers=list(result.answers or data["answers"]),
        difficulty=result.difficulty,
        total=result.total,
        band=result.band,
        prorated=result.prorated,
        two_item_total=result.two_item_total,
        item9=result.item9,
        safety=result.safety,
        scores=result.scores,
        completed_at=completed_at,
        days_since_previous=(
            (local_date(completed_at, user.timezone) - local_date(previous.completed_at, user.timezone)).days
            if previous is not None
            else None
        ),
        source=source,
        entered_by_id=entered_by.id,
        submission_id=submission_id,
        created_at=now,
    )
    session.add(assessment)
    session.flush()
    following = session.scalar(
        select(Assessment)
        .where(
            Assessment.patient_id == user.id,
            Assessment.instrument == instrument,
            Assessment.completed_at > completed_at,
        )
        .order_by(Assessment.completed_at, Assessment.id)
        .limit(1)
    )
    if following is not None:
        # A paper form dated before a stored one is now that form's previous: its gap (SPEC 1.10) follows.
        gap = local_date(following.completed_at, user.timezone) - local_date(completed_at, user.timezone)
        following.days_since_previous = gap.days
    # PHQ-R9: a form completed before the first given session of the course may be its baseline by the rule.
    apply_rule(session, user.id, user.timezone, now, [instrument])
    if scoring.needs_safety_pathway(result):
        raise_alert(session, now, **safety_alert(assessment))
    if instrument in (PHQ9, PHQ8) and assessment.total is not None:
        booster = booster_review_alert(session, patient, assessment)
        if booster is not None:
            raise_alert(session, now, **booster)
    return assessment, True


def _recordable(patient: Patient, instrument: str, source: EntrySource) -> instruments.Instrument:
    """The definition of an instrument this clinic records and this person may enter, or an error saying why.
    A patient fills in only the questionnaires of their programme; a clinician may enter any the clinic records
    (a paper form, or the PACS, which patients are not offered: PACS-R3)."""
    clinic = patient.user.clinic
    definition = instruments.get(instrument)
    if definition is None:
        raise AssessmentError("instrument", f"Choose one of {', '.join(instruments.KEYS)}.")
    if definition not in instruments.offered_to(clinic):
        used = instruments.depression_instrument(clinic)
        raise AssessmentError("instrument", f"This clinic records the {used.name} in place of the {definition.name}.")
    if source == EntrySource.PATIENT and not definition.self_report:
        raise AssessmentError("instrument", f"The {definition.name} is entered by your care team.")
    if source == EntrySource.PATIENT and definition not in instruments.for_patient(patient):
        raise AssessmentError("instrument", f"The {definition.name} is not part of your programme.")
    return definition


def _submitted(session: Session, patient_id: int, submission_id: str) -> Assessment | None:
    return session.scalar(
        select(Assessment).where(Assessment.patient_id == patient_id, Assessment.submission_id == submission_id)
    )


def safety_alert(assessment: Assessment) -> dict:
    """SAFE-R3: a high-priority alert, with the tier the clinic's default protocol gives it."""
    if assessment.item9 is None:
        kind, reason = "safety_unknown", "PHQ-9 item 9 was not answered on a paper form: never imputed."  # PHQ-R7
        tier = "Review the form and ask the patient about item 9."
    else:
        label = ANSWERS[assessment.item9][1]
        kind, reason = "safety_item9", f"PHQ-9 item 9 answered “{label}” ({assessment.item9} of 3)."
        tier = "Immediate review per the clinic's emergency protocol." if assessment.item9 >= 2 else "Same-day review."
    total = f" PHQ-9 total {assessment.total}." if assessment.total is not None else ""
    return {
        "patient_id": assessment.patient_id,
        "kind": kind,
        "severity": "high",
        "reason": f"{reason}{total} {tier}",
        "dedup_key": f"safety:{assessment.id}",
        "assessment_id": assessment.id,
    }


def booster_review_alert(session: Session, patient: Patient, assessment: Assessment) -> dict | None:
    """KET-R2 loss-of-response watch: a PHQ-9 at least ``booster_review_points`` above the lowest since the
    induction series ended, or no longer a response against the baseline once it had been one. One alert per
    nadir: a new, lower nadir can raise another."""
    if patient.induction_until is None:
        return None
    zone = patient.user.timezone
    if local_date(assessment.completed_at, zone) <= patient.induction_until:
        return None
    since_series = [
        form
        for form in session.scalars(
            select(Assessment).where(
                Assessment.patient_id == patient.user_id,
                Assessment.instrument == assessment.instrument,
                Assessment.total.is_not(None),
                Assessment.completed_at < assessment.completed_at,
            )
        )
        if local_date(form.completed_at, zone) > patient.induction_until
    ]
    if not since_series:
        return None
    nadir = min(since_series, key=lambda form: (form.total, form.completed_at))
    points = patient.user.clinic.booster_review_points
    reasons = []
    if assessment.total - nadir.total >= points:
        reasons.append(
            f"{instruments.ALL[assessment.instrument].name} {assessment.total} is {assessment.total - nadir.total} "
            f"points above the lowest since the series ended ({nadir.total}; clinic threshold {points})."
        )
    baseline = baseline_total(session, patient.user_id, assessment.instrument)
    if baseline is not None:
        responded = any(scoring.response(baseline, form.total) for form in since_series)
        if responded and scoring.response(baseline, assessment.total) is False:
            reasons.append(f"No longer a response against the baseline of {baseline}.")
    if not reasons:
        return None
    return {
        "patient_id": patient.user_id,
        "kind": "booster_review",
        "severity": "medium",
        "reason": " ".join(reasons) + " Consider a booster review.",  # KET-R2
        "dedup_key": f"booster:{patient.user_id}:{nadir.id}",
        "assessment_id": assessment.id,
    }


# --- Baselines and change (PHQ-R9, PHQ-R10, GAD-R1) ------------------------------------------------------------


def baseline_total(session: Session, patient_id: int, instrument: str) -> int | None:
    row = session.get(Baseline, {"patient_id": patient_id, "instrument": instrument})
    return row.assessment.total if row is not None else None


def set_baseline(session: Session, patient: Patient, assessment_id: int, user: User, now: datetime) -> Baseline:
    """Store the baseline explicitly (PHQ-R9). The caller audits and commits."""
    # First, so that two clinicians choosing at once are decided one after the other (it locks the patient's row).
    bump_data_version(session, patient.user_id)
    assessment = session.get(Assessment, assessment_id)
    if assessment is None or assessment.patient_id != patient.user_id:
        raise AssessmentError("assessment_id", "No such form for this patient.", 404)
    if assessment.total is None:
        raise AssessmentError("assessment_id", "A form without a total (item 9 unanswered) cannot be a baseline.")
    key = {"patient_id": patient.user_id, "instrument": assessment.instrument}
    baseline = session.get(Baseline, key) or Baseline(**key)
    baseline.assessment_id = assessment.id
    baseline.assessment = assessment
    baseline.chosen_by_id = user.id
    baseline.chosen_at = now
    session.add(baseline)
    return baseline


@dataclass(frozen=True)
class Change:
    """How one form compares with the one before it and with the baseline."""

    change_from_previous: int | None
    meaningful_change: bool | None  # PHQ-R10 / GAD-R1, and each instrument's own threshold
    is_baseline: bool
    baseline_total: int | None
    response: bool | None  # by the instrument's rule: PHQ-R9, PCL-R8 (5 points), PEG-R4 (30 %); GAD-7 has none
    remission: bool | None  # PHQ-9 (and PHQ-8) only
    pct_reduction: float | None
    overlapping_window: bool  # SPEC 1.10
    flags: dict  # the instrument's named change flags against the baseline (PCL-R8, PEG-R4)


def history(session: Session, patient_id: int) -> list[tuple[Assessment, Change]]:
    """Every form of a patient, newest first, each with its change figures: two queries in all."""
    forms = session.scalars(
        select(Assessment).where(Assessment.patient_id == patient_id).order_by(Assessment.completed_at, Assessment.id)
    ).all()
    baselines = {
        row.instrument: row.assessment_id
        for row in session.scalars(select(Baseline).where(Baseline.patient_id == patient_id))
    }
    totals = {form.id: form.total for form in forms}
    completed = {form.id: form.completed_at for form in forms}
    previous: dict[str, Assessment] = {}
    annotated = []
    for form in forms:
        definition = instruments.ALL[form.instrument]
        before = previous.get(form.instrument)
        base_id = baselines.get(form.instrument)
        # Change is measured forwards from the baseline: the baseline itself and earlier forms have no response.
        after_baseline = base_id is not None and (completed[form.id], form.id) > (completed[base_id], base_id)
        base = totals.get(base_id) if base_id is not None else None
        change = None if before is None or before.total is None or form.total is None else form.total - before.total
        scored = form.total is not None
        judged = definition.judge(base, form.total) if scored and after_baseline else {}
        is_phq = form.instrument in (PHQ9, PHQ8)
        meaningful = None if change is None or definition.mcid is None else abs(change) >= definition.mcid
        annotated.append(
            (
                form,
                Change(
                    change_from_previous=change,
                    meaningful_change=meaningful,
                    is_baseline=form.id == base_id,
                    baseline_total=base,
                    response=judged.get("response"),
                    remission=scoring.remission(form.total) if is_phq and scored else None,
                    pct_reduction=scoring.pct_reduction(base, form.total) if scored and after_baseline else None,
                    overlapping_window=form.days_since_previous is not None and form.days_since_previous < OVERLAP_DAYS,
                    flags={key: value for key, value in judged.items() if key not in ("response", "remission")},
                ),
            )
        )
        previous[form.instrument] = form
    annotated.reverse()
    return annotated


# --- Cadence (PHQ-R13; the rules are journal/schedules.py's) ------------------------------------------------------


def due_instruments(session: Session, patient: Patient, now: datetime) -> list[str]:
    """The questionnaires the patient may fill in now, in the order the pages show them: those of their indications
    that they answer themselves, due by the clinic's schedule and outside each one's minimum gap."""
    return [due.instrument for due in schedules.patient_due(session, patient, now)]


DEFAULT_CRISIS_RESOURCES = {
    "call": "988",
    "text": "988",
    "emergency": "911",
    "clinic_phone": None,
    "clinic_hours": "",
    "review_promise": "Your care team reads entries during clinic hours.",
}
# The journal's own words (no clinic to speak for): translated from the catalogue where shown (the help page).
N_("Your care team reads entries during clinic hours.")


def crisis_resources(clinic: Clinic) -> dict:
    """What the crisis screen offers (SAFE-R1), from the clinic's settings."""
    return {
        "call": clinic.crisis_call_number,
        "text": clinic.crisis_text_number,
        "emergency": clinic.emergency_number,
        "clinic_phone": clinic.clinic_phone or None,
        "clinic_hours": clinic.clinic_hours,
        "review_promise": clinic.review_promise,
        # In Spanish, if the clinic gave them (empty otherwise). Pages choose (journal/i18n.py clinic_words); the
        # API's schema (CrisisResourcesSchema) does not carry them.
        "clinic_hours_es": clinic.clinic_hours_es,
        "review_promise_es": clinic.review_promise_es,
    }
