"""People: a patient changes their own time zone, phone and emergency contact (PATCH /me); the care team those
and the programme (PATCH /patients/{id})."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint, abort

from .. import audit
from ..access import get_patient_or_404, patient_in_path_required
from ..db import db, utcnow
from ..models import Patient, Role
from ..people import DetailsError, update_details
from ..schemas import MeSchema, MeUpdateSchema, PatientDetailSchema, PatientUpdateSchema
from ..security import roles_required
from .patients import with_unseen_notes

blp = Blueprint("api_people", __name__, url_prefix="/api/v1", description="Contact details and programme")


def _update(patient: Patient, values: dict, action: str) -> list[str]:
    """Apply ``values``, audited with the names of the fields that changed, and commit; 422 naming the field
    (nothing saved) for a phone number or emergency contact that cannot be used."""
    try:
        changed = update_details(db.session, patient, values, current_user, utcnow())
    except DetailsError as error:
        db.session.rollback()
        abort(422, message=error.message, errors={"json": error.json_errors})
    audit.record(current_user, action, patient.user_id, detail=", ".join(changed) or "no change")
    db.session.commit()
    return changed


@blp.route("/me", methods=["PATCH"])
@roles_required(Role.PATIENT)
@blp.arguments(MeUpdateSchema, required=False)  # no body: the same as {}, nothing changed
@blp.response(200, MeSchema)
def update_me(values):
    """Change any of your time zone (reminders follow it), phone and emergency contact; a field left out stays
    as it is. A phone without a country code is read in the country of your time zone."""
    _update(current_user.patient, values, "details.update")
    return current_user


@blp.route("/patients/<id:patient_id>", methods=["PATCH"])
@roles_required(Role.CLINICIAN)
@patient_in_path_required  # 404 for a patient not on the caller's care team, before the body is read
@blp.arguments(PatientUpdateSchema, required=False)  # no body: the same as {}
@blp.response(200, PatientDetailSchema)
def update_patient(values, patient_id: int):
    """Change any of a patient's time zone, phone, emergency contact, sex, birth date, REMS enrolment and programme
    (substances, pain, sleep diary, urinary check, end of the induction series); a field left out stays as it is.
    A programme change is kept in the programme's history, so figures count each substance only while it was in the
    programme. A birth date in the future, or more than 120 years back, is a 422 naming ``birth_date``."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    _update(patient, values, "patient.update")
    return with_unseen_notes(patient)
