"""Treatment sessions (KET-R1): recording them, grouping them into courses, and what follows from them.

Only staff record sessions (SPEC 7.4). Every write raises the patient's data version, which is what the
cached charts are keyed by.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import CourseKind, DosingSession, Patient, SessionStatus, TreatmentCourse, User

CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_OBSERVATION = timedelta(minutes=120)  # esketamine REMS minimum (SPEC 7.4); used when none is recorded

# SPEC 7.5: preparation is health information, shown only inside the app, never in a reminder (PRIV-R1).
PREPARATION = {
    "intranasal": [
        "No food for 2 hours before the session.",
        "No drinks for 30 minutes before.",
        "Use any nasal steroid or decongestant at least 1 hour before.",
        "Do not drive until the day after, after a restful sleep: arrange a ride home.",
    ],
    "default": [
        "Follow the fasting instructions your clinic gave you.",
        "Take your usual medicines unless your clinician told you otherwise.",
        "Do not drive until the day after, after a restful sleep: arrange a ride home.",
    ],
}


class SessionError(Exception):
    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def bump_data_version(session: Session, patient_id: int) -> None:
    """In the writer's transaction: a cached chart of this patient is out of date from the commit on."""
    session.execute(update(Patient).where(Patient.user_id == patient_id).values(data_version=Patient.data_version + 1))


FIELDS = (
    "status", "start", "route", "product", "dose", "dose_unit", "weight_kg", "setting",
    "bp_systolic_pre", "bp_diastolic_pre", "heart_rate_pre", "bp_systolic_post", "bp_diastolic_post",
    "heart_rate_post", "dissociation_score", "observation_minutes", "discharge_at", "notes",
)  # fmt: skip


def save_session(
    session: Session,
    patient: Patient,
    data: dict,
    now: datetime,
    user: User,
    existing: DosingSession | None = None,
) -> DosingSession:
    """Record a new session, or change one (say, a planned session that was given). The caller audits and
    commits."""
    status = SessionStatus(data["status"])
    start = data["start"]
    if status == SessionStatus.GIVEN and start > now + CLOCK_SKEW:
        raise SessionError("start", "A given session cannot start in the future; record it as planned.")
    if data.get("discharge_at") is not None and data["discharge_at"] < start:
        raise SessionError("discharge_at", "Discharge cannot come before the start of the session.")
    if status != SessionStatus.GIVEN and any(
        data.get(name) is not None for name in ("bp_systolic_post", "dissociation_score", "discharge_at")
    ):
        raise SessionError("status", "Post-dose measures belong to a session that was given.")
    record = existing or DosingSession(patient_id=patient.user_id, created_at=now, entered_by_id=user.id)
    for name in FIELDS:
        setattr(record, name, data.get(name, getattr(record, name, None)))
    record.notes = (data.get("notes") or "").strip()
    record.setting = data.get("setting") or "clinic"
    record.updated_at = now
    if data.get("course"):
        record.course = course_for(session, patient, CourseKind(data["course"]), local_day(start, patient.user))
    session.add(record)
    session.flush()
    bump_data_version(session, patient.user_id)
    return record


def local_day(instant: datetime, user: User) -> date:
    return instant.astimezone(ZoneInfo(user.timezone)).date()


def course_for(session: Session, patient: Patient, kind: CourseKind, day: date) -> TreatmentCourse:
    """The patient's open course of this kind, or a new one starting ``day``. Starting a maintenance course
    ends an open induction series the day before (SPEC 7.2: the series, then boosters)."""
    course = session.scalar(
        select(TreatmentCourse)
        .where(
            TreatmentCourse.patient_id == patient.user_id,
            TreatmentCourse.kind == kind,
            TreatmentCourse.ended_on.is_(None),
        )
        .order_by(TreatmentCourse.started_on.desc())
        .limit(1)
    )
    if course is not None:
        course.started_on = min(course.started_on, day)
        return course
    if kind == CourseKind.MAINTENANCE:
        for induction in session.scalars(
            select(TreatmentCourse).where(
                TreatmentCourse.patient_id == patient.user_id,
                TreatmentCourse.kind == CourseKind.INDUCTION,
                TreatmentCourse.ended_on.is_(None),
            )
        ):
            induction.ended_on = day - timedelta(days=1)
    course = TreatmentCourse(patient_id=patient.user_id, kind=kind, started_on=day)
    session.add(course)
    return course


def sessions_of(session: Session, patient_id: int) -> list[DosingSession]:
    return list(
        session.scalars(
            select(DosingSession)
            .where(DosingSession.patient_id == patient_id)
            .order_by(DosingSession.start, DosingSession.id)
        )
    )


def preparation_for(route: str) -> list[str]:
    return PREPARATION.get(route, PREPARATION["default"])
