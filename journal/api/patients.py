"""Patients, for their clinicians."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user
from flask_smorest import Blueprint, abort

from .. import audit
from ..access import get_patient_or_404, patient_list
from ..accounts import EnrolmentError, PatientDetails, enrol_patient
from ..db import commit_retrying_on_conflict, db, utcnow
from ..links import invitation_url
from ..models import Patient, Role, User
from ..people import DetailsError, enrolment_programme, start_indications, unseen_notes
from ..schemas import EnrolledPatientSchema, PatientDetailSchema, PatientEnrolmentSchema, PatientSchema
from ..security import roles_required

blp = Blueprint(
    "api_patients", __name__, url_prefix="/api/v1/patients", description="Patients on the caller's care teams"
)


@blp.route("", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(200, PatientSchema(many=True))
def list_patients():
    """The patients on the signed-in clinician's care teams."""
    # Audited first: a commit expires loaded rows, and serialising expired rows would query once per patient.
    audit.record(current_user, "patient.list")
    db.session.commit()
    return db.session.scalars(patient_list(current_user)).all()


@blp.route("", methods=["POST"])
@roles_required(Role.CLINICIAN)  # before the body is read: who may ask comes first
@blp.arguments(PatientEnrolmentSchema)
@blp.response(201, EnrolledPatientSchema)
def enrol(details):
    """Enrol a patient on the caller's care team; the response carries their single-use invitation link.

    ``phone`` (and the emergency contact's) is read in the country of ``timezone`` unless it starts with + and
    a country code; a number that cannot be called is a 422 naming the field, an address in use a 409.
    ``indications`` switch on their daily items (chronic_pain the pain item, alcohol the alcohol item); with
    substance_use and no substance besides alcohol the answer is a 422 naming ``substances``."""
    try:
        details = enrolment_programme(details, utcnow())
    except DetailsError as error:
        abort(422, message=error.message, errors={"json": error.json_errors})
    try:
        # A simultaneous enrolment of the same e-mail that commits first makes this one a sequential duplicate.
        patient, token = commit_retrying_on_conflict(db.session, lambda: _enrol(details))
    except EnrolmentError as error:
        db.session.rollback()
        if error.field == "email":
            abort(409, message=error.message, errors={"json": {error.field: [error.message]}})
        details = DetailsError(error.field, error.message, error.errors)
        abort(422, message=error.message, errors={"json": details.json_errors})
    enrolled = patient.patient
    enrolled.invitation_url = invitation_url(token)  # shown once in this response; only the hash is stored
    return enrolled


def _enrol(details: dict) -> tuple[User, str]:
    """Enrol the patient on the caller's care team, audited; the patient and their raw invitation token."""
    details = dict(details)
    indications = details.pop("indications")
    patient, token = enrol_patient(
        db.session, current_user, PatientDetails(**details), utcnow(), current_app.config["INVITATION_DAYS"]
    )
    start_indications(db.session, patient.patient, indications)
    audit.record(current_user, "patient.create", patient.id)
    audit.record(current_user, "invitation.create", patient.id)
    return patient, token


def with_unseen_notes(patient: Patient) -> Patient:
    """The patient with ``unseen_notes`` counted, for PatientDetailSchema."""
    patient.unseen_notes = unseen_notes(db.session, patient.user_id)
    return patient


@blp.route("/<id:patient_id>", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(200, PatientDetailSchema)
def get_patient(patient_id: int):
    """One patient, if they are on the caller's care team (otherwise 404): with their phone, emergency contact,
    sex, time zone and how many check-in notes the care team has not yet opened."""
    return with_unseen_notes(get_patient_or_404(current_user, patient_id))
