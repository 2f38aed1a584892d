"""Object-level authorisation, in one place.

A patient sees only themselves; a clinician sees only the patients on whose care team they are; an admin
manages accounts and sees no patient's health data. Everything else is a 404, so nobody learns even that a
patient exists. Every staff read goes into the audit trail here, so no view can forget it.

One exception, bounded (SAFE-R3): the on-call clinician a high-priority alert was routed to
(``Alert.on_call_id``), and its backup once it is escalated (``Alert.backup_id``), may see that alert and read
that patient's record (the patient page, its days and charts, and the API's reads of it) for ``ON_CALL_ACCESS``
from the routing (for the backup, from the escalation), even when they are not on the care team. Reads only:
no change, no export, no report download, and the patient stays off their lists. Each such read is audited with
the alert that allowed it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps

from flask import abort, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, and_, case, false, or_, select
from sqlalchemy.orm import contains_eager, selectinload

from . import audit
from .db import db, utcnow
from .models import Alert, CareTeamMember, Patient, Role, User

# How long the on-call clinician (from the routing) and the backup (from the escalation) may read the patient's
# record. Three days: long enough for the same-day or immediate review SAFE-R3 asks for, a call back the next
# day, and the hand-over after a weekend shift (a Friday-evening alert reaches the care team on Monday
# morning); short enough that it ends by itself, with nobody having to remember to take it back.
ON_CALL_ACCESS = timedelta(hours=72)
# What the on-call grant lets its holder do: read the patient's record, by GET. Exports and the report are not
# among them: the grant is for acting on one alert, not for taking the record out of the portal.
ON_CALL_READS = {"patient.read", "summary.read", "checkin.read", "session.read", "assessment.read"}
# The pages that check with ``action=None`` and audit their own read, named one by one: a form page that only
# leads to a change (a new session) is not a read, and stays closed.
ON_CALL_SELF_AUDITED = {"clinician.chart", "api_charts.get_chart", "clinician.edit_session", "api_sessions.get_session"}


def visible_patients(user: User) -> Select:
    """A query for the patients ``user`` may see (ordered by name), with their user rows."""
    query = select(Patient).join(Patient.user).options(contains_eager(Patient.user)).order_by(User.name, User.id)
    if user.role == Role.PATIENT:
        return query.where(Patient.user_id == user.id)
    if user.role == Role.CLINICIAN:
        return query.join(CareTeamMember, CareTeamMember.patient_id == Patient.user_id).where(
            CareTeamMember.clinician_id == user.id
        )
    return query.where(False)


def patient_list(user: User) -> Select:
    """The patients ``user`` may see, for a list that names each one's care team: the teams come in one more
    query, not one per patient."""
    return visible_patients(user).options(selectinload(Patient.clinicians))


def on_call_alerts(user: User, now: datetime | None = None) -> ColumnElement[bool]:
    """The alerts whose routing gives ``user`` access at ``now``: routed to them on call less than
    ``ON_CALL_ACCESS`` ago, or naming them as backup and escalated less than that ago; about a patient of
    their own clinic."""
    if user.role != Role.CLINICIAN:
        return false()
    now = now or utcnow()
    since = now - ON_CALL_ACCESS
    return and_(
        or_(
            and_(Alert.on_call_id == user.id, Alert.created_at > since, Alert.created_at <= now),
            and_(Alert.backup_id == user.id, Alert.escalated_at > since, Alert.escalated_at <= now),
        ),
        Alert.patient_id.in_(
            select(User.id).where(User.clinic_id == user.clinic_id, User.role == Role.PATIENT).correlate(None)
        ),
    )


def on_call_grant(user: User, patient_id: int, now: datetime | None = None) -> Alert | None:
    """The latest alert about this patient that lets ``user`` read their record now as on-call or backup."""
    return db.session.scalar(
        select(Alert)
        .where(Alert.patient_id == patient_id, on_call_alerts(user, now))
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(1)
    )


def _grant_covers(action: str | None) -> bool:
    """Whether this request is a read the on-call grant allows."""
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return False
    return action in ON_CALL_READS if action is not None else request.endpoint in ON_CALL_SELF_AUDITED


def _find_patient(user: User, patient_id: int, action: str | None) -> tuple[Patient | None, Alert | None]:
    """The patient if ``user`` may see them, and the alert that allows it when that is the on-call grant."""
    patient = db.session.scalar(visible_patients(user).where(Patient.user_id == patient_id))
    if patient is not None or user.role != Role.CLINICIAN:
        return patient, None
    if not _grant_covers(action):
        return None, None
    grant = on_call_grant(user, patient_id)
    if grant is None:
        return None, None
    patient = db.session.scalar(
        select(Patient).join(Patient.user).options(contains_eager(Patient.user)).where(Patient.user_id == patient_id)
    )
    return patient, grant


def get_patient_or_404(user: User, patient_id: int, action: str | None = "patient.read", detail: str = "") -> Patient:
    """The patient ``user`` asked for, if they may see them; otherwise abort with 404.

    ``action`` names what the caller is about to do, for the audit trail; reads are committed at once,
    while a change is committed by the caller with the change. ``action=None`` is only for a caller that
    records a more specific event itself once its input is validated (the check must still come first).
    """
    checked_for, checked, grant = g.get("patient_in_path", (None, None, None))
    if checked is not None and checked_for == user.id and checked.user_id == patient_id:
        patient = checked  # found for this caller by patient_in_path_required, a moment ago in this request
        if grant is not None and not _grant_covers(action):
            abort(404)
    else:
        patient, grant = _find_patient(user, patient_id, action)
    if patient is None:
        abort(404)
    if grant is not None:
        # Not on the care team: say so in the trail, with the alert that allowed the read.
        because = f"on call for alert {grant.id}"
        audit.record(user, action or "on_call.read", patient.user_id, f"{because}; {detail}" if detail else because)
        db.session.commit()
    elif user.is_staff and action is not None:
        audit.record(user, action, patient.user_id, detail)
        if action.endswith(".read"):
            db.session.commit()
    return patient


def patient_in_path_required(view):
    """For a route with ``<id:patient_id>``: 404 unless the caller may see that patient, decided before the
    request body is parsed (so an outsider learns nothing from validation errors either)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        # action None: only a read by GET may pass on the on-call grant, and the handler's own call decides
        patient, grant = _find_patient(current_user, kwargs["patient_id"], None)
        if patient is None:
            abort(404)
        # The handler's get_patient_or_404 takes it from here rather than asking the database again.
        g.patient_in_path = (current_user.id, patient, grant)
        return view(*args, **kwargs)

    return wrapped


def alerts_for(user: User, now: datetime | None = None) -> Select:
    """Alerts about the patients ``user`` may see, and those routed to them on call (``on_call_alerts``)."""
    patients = visible_patients(user).with_only_columns(Patient.user_id)
    return select(Alert).where(or_(Alert.patient_id.in_(patients), on_call_alerts(user, now)))


def get_alert_or_404(user: User, alert_id: int) -> Alert:
    alert = db.session.scalar(alerts_for(user).where(Alert.id == alert_id))
    if alert is None:
        abort(404)
    return alert


def alert_in_path_required(view):
    """For a route with ``<id:alert_id>``: 404 unless the alert is about a patient the caller may see, decided
    before the request body is parsed."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        get_alert_or_404(current_user, kwargs["alert_id"])
        return view(*args, **kwargs)

    return wrapped


def open_alerts_for(user: User, now: datetime | None = None) -> Select:
    """Unacknowledged alerts ``user`` may see (``alerts_for``), most severe then oldest first."""
    severity = case({"high": 0, "medium": 1}, value=Alert.severity, else_=2)
    return alerts_for(user, now).where(Alert.acknowledged_at.is_(None)).order_by(severity, Alert.created_at, Alert.id)
