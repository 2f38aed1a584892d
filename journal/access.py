"""Object-level authorisation, in one place.

A patient sees only themselves; a clinician sees only the patients on whose care team they are; an admin
manages accounts and sees no patient's health data. Everything else is a 404, so nobody learns even that a
patient exists. Every staff read goes into the audit trail here, so no view can forget it.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, g
from flask_login import current_user
from sqlalchemy import Select, case, select
from sqlalchemy.orm import contains_eager, selectinload

from . import audit
from .db import db
from .models import Alert, CareTeamMember, Patient, Role, User


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


def get_patient_or_404(user: User, patient_id: int, action: str | None = "patient.read", detail: str = "") -> Patient:
    """The patient ``user`` asked for, if they may see them; otherwise abort with 404.

    ``action`` names what the caller is about to do, for the audit trail; reads are committed at once,
    while a change is committed by the caller with the change. ``action=None`` is only for a caller that
    records a more specific event itself once its input is validated (the check must still come first).
    """
    checked_for, checked = g.get("patient_in_path", (None, None))
    if checked is not None and checked_for == user.id and checked.user_id == patient_id:
        patient = checked  # found for this caller by patient_in_path_required, a moment ago in this request
    else:
        patient = db.session.scalar(visible_patients(user).where(Patient.user_id == patient_id))
    if patient is None:
        abort(404)
    if user.is_staff and action is not None:
        audit.record(user, action, patient.user_id, detail)
        if action.endswith(".read"):
            db.session.commit()
    return patient


def patient_in_path_required(view):
    """For a route with ``<id:patient_id>``: 404 unless the caller may see that patient, decided before the
    request body is parsed (so an outsider learns nothing from validation errors either)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        patient = db.session.scalar(visible_patients(current_user).where(Patient.user_id == kwargs["patient_id"]))
        if patient is None:
            abort(404)
        # The handler's get_patient_or_404 takes it from here rather than asking the database again.
        g.patient_in_path = (current_user.id, patient)
        return view(*args, **kwargs)

    return wrapped


def alerts_for(user: User) -> Select:
    """Alerts about the patients ``user`` may see."""
    patients = visible_patients(user).with_only_columns(Patient.user_id)
    return select(Alert).where(Alert.patient_id.in_(patients))


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


def open_alerts_for(user: User) -> Select:
    """Unacknowledged alerts about the patients ``user`` may see, most severe then oldest first."""
    severity = case({"high": 0, "medium": 1}, value=Alert.severity, else_=2)
    return alerts_for(user).where(Alert.acknowledged_at.is_(None)).order_by(severity, Alert.created_at, Alert.id)
