"""Dosing sessions for the patient's clinicians (KET-R1).

Every answer about one session carries its ETag (a digest of ``sessions.session_version``). A ``PUT`` must
send it back in ``If-Match``: without one it is refused with 428, and with one that is no longer current with
412, so a clinician's change never silently replaces one a colleague made after they read the session.

The session record (``record.pdf``, SPEC 7.4 KET-R8) is a one-page PDF for the care team; the clinician's page
serves the same download through ``record_response``.
"""

from __future__ import annotations

from functools import wraps
from typing import NoReturn

from flask import Response, current_app, request
from flask_login import current_user
from flask_smorest import Blueprint, abort
from flask_smorest.exceptions import PreconditionFailed

from .. import audit, session_record
from ..access import get_patient_or_404, patient_in_path_required
from ..db import db, utcnow
from ..models import DosingSession, Patient, Role, User
from ..schemas import DosingSessionOutSchema, DosingSessionSchema
from ..security import roles_required
from ..sessions import (
    SessionChanged,
    SessionError,
    audit_detail,
    last_writer,
    save_session,
    session_version,
    sessions_of,
)

blp = Blueprint("api_sessions", __name__, url_prefix="/api/v1/patients", description="Dosing sessions")

IF_MATCH_REQUIRED = (
    "Send If-Match with the session's ETag, from GET /api/v1/patients/{id}/sessions/{sid} or from the answer "
    "that created or last changed it, so that a change made since you read the session is never overwritten."
)


def _session_or_404(patient_id: int, session_id: int) -> DosingSession:
    record = db.session.get(DosingSession, session_id)
    if record is None or record.patient_id != patient_id:
        abort(404)
    return record


def _save(patient, data, existing=None):
    try:
        record = save_session(db.session, patient, data, utcnow(), current_user, existing)
    except SessionChanged:
        db.session.rollback()  # another writer got there between our read and our write
        _changed_since_read(existing)
    except SessionError as error:
        db.session.rollback()
        abort(error.status, message=error.message, errors={"json": {error.field: [error.message]}})
    audit.record(current_user, "session.write", patient.user_id, detail=audit_detail(record))
    db.session.commit()
    blp.set_etag(session_version(record))
    return record


def _changed_since_read(record: DosingSession) -> NoReturn:
    """412, saying who changed the session and when, so the clinician knows whose change to read first."""
    writer = last_writer(db.session, record)
    if writer is None:
        who = "someone else"
    else:
        who = "you, in another request," if writer.id == current_user.id else writer.name
    message = (
        f"This session was changed by {who} at {record.updated_at.isoformat()} since you read it, and nothing "
        "was saved. Read it again (GET) for the current record and its ETag, and send your change with that ETag."
    )
    abort(412, message=message, errors={"headers": {"If-Match": ["This is not the session's current ETag."]}})


def _if_match_required(view):
    """428 for a ``PUT`` without ``If-Match``, saying what to send (flask-smorest's own check, which this one
    comes before, says only "try If-Match"). Placed after the access checks: an outsider still gets a 404."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not request.if_match:
            abort(428, message=IF_MATCH_REQUIRED)
        return view(*args, **kwargs)

    return wrapped


@blp.route("/<id:patient_id>/sessions", methods=["POST"])
@roles_required(Role.CLINICIAN)
@patient_in_path_required
@blp.arguments(DosingSessionSchema)
@blp.etag
@blp.response(201, DosingSessionOutSchema)
def create_session(data, patient_id: int):
    """Record a dosing session, planned or given, with its at-session measures (audited).

    The answer's ETag is what a later ``PUT`` of this session sends in ``If-Match``."""
    return _save(get_patient_or_404(current_user, patient_id, action=None), data)


@blp.route("/<id:patient_id>/sessions", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(200, DosingSessionOutSchema(many=True))
def list_sessions(patient_id: int):
    """The patient's sessions, oldest first."""
    get_patient_or_404(current_user, patient_id, action="session.read")
    return sessions_of(db.session, patient_id)


@blp.route("/<id:patient_id>/sessions/<id:session_id>", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.etag
@blp.response(200, DosingSessionOutSchema)
def get_session(patient_id: int, session_id: int):
    """One session (audited), with the ETag a ``PUT`` of it sends in ``If-Match``."""
    get_patient_or_404(current_user, patient_id, action=None)
    record = _session_or_404(patient_id, session_id)
    audit.record(current_user, "session.read", patient_id, detail=audit_detail(record))
    db.session.commit()
    blp.set_etag(session_version(record))
    return record


@blp.route("/<id:patient_id>/sessions/<id:session_id>", methods=["PUT"])
@roles_required(Role.CLINICIAN)
@patient_in_path_required
@blp.arguments(DosingSessionSchema)
@_if_match_required
@blp.etag
@blp.response(200, DosingSessionOutSchema)
def update_session(data, patient_id: int, session_id: int):
    """Replace a session's record: say, a planned session that was given, with its measures.

    Send the session's ETag in ``If-Match`` (from ``GET`` of the session, or the answer that created or last
    changed it). Without it the answer is 428; if the session has changed since, 412, naming who changed it and
    when, and nothing is written. The answer carries the new ETag."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    record = _session_or_404(patient_id, session_id)
    try:
        blp.check_etag(session_version(record))
    except PreconditionFailed:
        _changed_since_read(record)
    return _save(patient, data, record)


def record_response(viewer: User, patient: Patient, record: DosingSession) -> Response:
    """The session record as a PDF download, for a clinician who has passed ``get_patient_or_404``; the read is
    audited. Named by ids only, and kept by no cache (as the visit report is)."""
    audit.record(viewer, "session_record.read", patient.user_id, detail=audit_detail(record))
    db.session.commit()
    context = session_record.RecordContext(
        patient=patient,
        first_given=session_record.first_given(sessions_of(db.session, patient.user_id), record),
        monitored_by=db.session.get(User, record.monitored_by_id) if record.monitored_by_id else None,
        entered_by=db.session.get(User, record.entered_by_id) if record.entered_by_id else None,
        last_writer=last_writer(db.session, record),
        clinic_name=patient.user.clinic.name,
        clinic_phone=patient.user.clinic.clinic_phone or "",
        viewer=viewer,
    )
    pdf = session_record.build(record, context, utcnow())
    response = current_app.response_class(pdf, content_type="application/pdf")
    filename = f"patient-{patient.user_id}-session-{record.id}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/<id:patient_id>/sessions/<id:session_id>/record.pdf", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(
    200,
    description="The session record as a one-page PDF attachment",
    content_type="application/pdf",
    schema={"type": "string", "format": "binary"},
)
def get_session_record(patient_id: int, session_id: int):
    """The session's printable record (SPEC 7.4, KET-R8): every field of the esketamine REMS monitoring form that
    the journal stores, saying which are empty, on one page. For the patient's care team only (audited)."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    return record_response(current_user, patient, _session_or_404(patient_id, session_id))
