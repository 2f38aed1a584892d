"""Baselines chosen by the rule (PHQ-R9, SPEC 1.6), for every instrument the journal scores.

The rule: an instrument's baseline is the scored form of it completed closest to, and before, the first given
dosing session of the patient's current course, and at most 14 days before that session. "14 days" is counted in
the patient's own calendar days: a form on the local date 14 days before the session's local date qualifies
(whatever its hour), one on the day before that does not; a form on the session's day qualifies only if it was
completed before the session started. The current course is the latest induction course with a given session
(boosters in a maintenance course are measured against the series' baseline); a patient whose given sessions
belong to no induction course is anchored at their first given session.

The choice is stored explicitly (a ``Baseline`` row), and ``chosen_by_id`` says who chose it: NULL is the rule,
a user id the clinician who chose it by hand. A clinician's choice is never replaced by the rule. The rule runs in
the writer's transaction whenever a session is saved and whenever a form is stored, so the stored row always
says what the rule decides from the data at hand; when the rule no longer finds a form (the first session was
cancelled, say), a row it stored is removed.

No Flask; imports only the models, so that ``sessions`` and ``assessments`` may both use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import instruments
from .models import Assessment, Baseline, CourseKind, DosingSession, SessionStatus

INSTRUMENTS = instruments.KEYS  # PHQ-R9's rule, and PCL-R8 and PEG-R4 which repeat it
WINDOW_DAYS = 14  # SPEC 1.6, PHQ-R9: at most 14 days before the first dosing session

# Why an instrument has no baseline, as a code (API) and in words (pages).
NO_SESSION = "no_given_session"
NO_FORM = "no_form_in_window"
NOT_CHOSEN = "not_chosen"
REASONS = {
    NO_SESSION: "No baseline yet: no dosing session has been given, so none can be chosen by the rule.",
    NO_FORM: (
        f"No baseline: no form was completed in the {WINDOW_DAYS} days before the first dosing session of the course."
    ),
    NOT_CHOSEN: "No baseline chosen yet.",
}


def _local(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def anchor(sessions: Iterable[DosingSession]) -> DosingSession | None:
    """The first given session of the patient's current course (see the module's docstring), or None."""
    given = sorted((s for s in sessions if s.status == SessionStatus.GIVEN), key=lambda s: (s.start, s.id or 0))
    if not given:
        return None
    inductions = [s for s in given if s.course is not None and s.course.kind == CourseKind.INDUCTION]
    if inductions:
        current = max(inductions, key=lambda s: (s.course.started_on, s.course.id or 0)).course
        return next(s for s in given if s.course is current)
    return given[0]


def rule_choice(
    forms: Sequence[Assessment], first_session: DosingSession | None, instrument: str, zone: ZoneInfo
) -> Assessment | None:
    """The form the rule chooses for ``instrument`` among ``forms``, given the anchoring session, or None."""
    if first_session is None:
        return None
    before = [
        f for f in forms if f.instrument == instrument and f.total is not None and f.completed_at < first_session.start
    ]
    if not before:
        return None
    closest = max(before, key=lambda f: (f.completed_at, f.id or 0))
    earliest_day = _local(first_session.start, zone) - timedelta(days=WINDOW_DAYS)
    return closest if _local(closest.completed_at, zone) >= earliest_day else None


def apply_rule(
    session: Session, patient_id: int, zone: str, now: datetime, instruments: Iterable[str] = INSTRUMENTS
) -> dict[str, Baseline | None]:
    """Store each instrument's baseline as the rule chooses it, unless a clinician chose one. Runs inside the
    caller's transaction (which holds the patient's row, ``bump_data_version``); the caller commits. Returns the
    stored baseline of each instrument (a clinician's, the rule's, or None)."""
    tz = ZoneInfo(zone)
    session.flush()
    sessions = list(
        session.scalars(
            select(DosingSession).where(
                DosingSession.patient_id == patient_id, DosingSession.status == SessionStatus.GIVEN
            )
        )
    )
    first = anchor(sessions)
    wanted = list(instruments)
    forms = (
        list(
            session.scalars(
                select(Assessment).where(
                    Assessment.patient_id == patient_id,
                    Assessment.instrument.in_(wanted),
                    Assessment.completed_at < first.start,
                    Assessment.completed_at >= first.start - timedelta(days=WINDOW_DAYS + 2),
                )
            )
        )
        if first is not None
        else []
    )
    stored: dict[str, Baseline | None] = {}
    for instrument in wanted:
        key = {"patient_id": patient_id, "instrument": instrument}
        row = session.get(Baseline, key)
        if row is not None and row.chosen_by_id is not None:
            stored[instrument] = row  # a clinician's choice stands
            continue
        form = rule_choice(forms, first, instrument, tz)
        if form is None:
            if row is not None:
                session.delete(row)
            stored[instrument] = None
            continue
        if row is None:
            row = Baseline(**key)
            session.add(row)
        if row.assessment_id != form.id:
            row.assessment_id = form.id
            row.assessment = form
            row.chosen_by_id = None
            row.chosen_at = now
        stored[instrument] = row
    session.flush()
    return stored


@dataclass(frozen=True)
class BaselineState:
    """What the summary and the patient page say about one instrument's baseline."""

    instrument: str
    form: Assessment | None
    chosen_by: str | None  # "rule" | "clinician" | None
    chosen_by_name: str | None  # the clinician's name, when a clinician chose it
    chosen_at: datetime | None
    first_session: datetime | None  # the start of the session the rule anchors to
    missing: str | None  # NO_SESSION | NO_FORM | NOT_CHOSEN when there is no baseline

    @property
    def note(self) -> str | None:
        return REASONS[self.missing] if self.missing is not None else None


def state(
    instrument: str,
    row: Baseline | None,
    form: Assessment | None,
    chooser_name: str | None,
    forms: Sequence[Assessment],
    sessions: Sequence[DosingSession],
    zone: ZoneInfo,
) -> BaselineState:
    """The baseline of ``instrument`` as stored, or why there is none (from the same rule as ``apply_rule``)."""
    first = anchor(sessions)
    missing = None
    if row is None or form is None:
        if first is None:
            missing = NO_SESSION
        elif rule_choice(forms, first, instrument, zone) is None:
            missing = NO_FORM
        else:
            missing = NOT_CHOSEN  # stored before the rule ran: the next session or form saved chooses it
    by_rule = row is not None and row.chosen_by_id is None
    return BaselineState(
        instrument=instrument,
        form=form if missing is None else None,
        chosen_by=None if missing is not None else ("rule" if by_rule else "clinician"),
        chosen_by_name=None if missing is not None or by_rule else chooser_name,
        chosen_at=row.chosen_at if row is not None and missing is None else None,
        first_session=first.start if first is not None else None,
        missing=missing,
    )


def apply_rule_everywhere(session: Session, now: datetime) -> int:
    """Run the rule once for every patient with a given session (for data stored before the rule existed); one
    patient per transaction, each under its patient's row lock as a writer takes it. Returns how many patients
    were looked at. Idempotent: a second run changes nothing."""
    from .models import Patient, User
    from .sessions import bump_data_version

    ids = list(
        session.scalars(select(DosingSession.patient_id).where(DosingSession.status == SessionStatus.GIVEN).distinct())
    )
    for patient_id in ids:
        zone = session.scalar(
            select(User.timezone).join(Patient, Patient.user_id == User.id).where(User.id == patient_id)
        )
        bump_data_version(session, patient_id)
        apply_rule(session, patient_id, zone, now)
        session.commit()
    return len(ids)
