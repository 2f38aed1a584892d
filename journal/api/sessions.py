"""Dosing sessions for the patient's clinicians (KET-R1)."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint, abort

from .. import audit
from ..access import get_patient_or_404, patient_in_path_required
from ..db import db, utcnow
from ..models import DosingSession, Role
from ..schemas import DosingSessionOutSchema, DosingSessionSchema
from ..security import roles_required
from ..sessions import SessionError, save_session, sessions_of

blp = Blueprint("api_sessions", __name__, url_prefix="/api/v1/patients", description="Dosing sessions")


def _save(patient, data, existing=None):
    try:
        record = save_session(db.session, patient, data, utcnow(), current_user, existing)
    except SessionError as error:
        db.session.rollback()
        abort(error.status, message=error.message, errors={"json": {error.field: [error.message]}})
    audit.record(current_user, "session.write", patient.user_id, detail=f"session {record.id}")
    db.session.commit()
    return record


@blp.route("/<id:patient_id>/sessions", methods=["POST"])
@roles_required(Role.CLINICIAN)
@patient_in_path_required
@blp.arguments(DosingSessionSchema)
@blp.response(201, DosingSessionOutSchema)
def create_session(data, patient_id: int):
    """Record a dosing session, planned or given, with its at-session measures (audited)."""
    return _save(get_patient_or_404(current_user, patient_id, action=None), data)


@blp.route("/<id:patient_id>/sessions", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(200, DosingSessionOutSchema(many=True))
def list_sessions(patient_id: int):
    """The patient's sessions, oldest first."""
    get_patient_or_404(current_user, patient_id, action="session.read")
    return sessions_of(db.session, patient_id)


@blp.route("/<id:patient_id>/sessions/<id:session_id>", methods=["PUT"])
@roles_required(Role.CLINICIAN)
@patient_in_path_required
@blp.arguments(DosingSessionSchema)
@blp.response(200, DosingSessionOutSchema)
def update_session(data, patient_id: int, session_id: int):
    """Replace a session's record: say, a planned session that was given, with its measures."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    record = db.session.get(DosingSession, session_id)
    if record is None or record.patient_id != patient_id:
        abort(404)
    return _save(patient, data, record)
