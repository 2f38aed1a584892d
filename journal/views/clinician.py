"""Clinicians' pages: their patients, enrolment and care teams."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from .. import audit
from ..access import get_patient_or_404, open_alerts_for, visible_patients
from ..accounts import EnrolmentError, PatientDetails, create_invitation, enrol_patient
from ..db import db, utcnow
from ..links import invitation_url
from ..models import SUBSTANCES, Alert, CareTeamMember, Role, User
from ..schemas import CareTeamAddSchema, PatientEnrolmentSchema, form_input, iana_zones
from ..security import roles_required

bp = Blueprint("clinician", __name__, url_prefix="/clinician")


@bp.get("/patients")
@roles_required(Role.CLINICIAN)
def patients():
    # Audited first: a commit expires loaded rows, and rendering expired rows would query once per patient.
    audit.record(current_user, "patient.list")
    db.session.commit()
    rows = db.session.scalars(visible_patients(current_user)).all()
    alerts = db.session.scalars(open_alerts_for(current_user)).all()
    names = {patient.user_id: patient.user.name for patient in rows}
    return render_template("clinician/patients.html", patients=rows, alerts=alerts, names=names)


@bp.route("/patients/new", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def enrol():
    errors: dict = {}
    values = request.form
    if request.method == "POST":
        schema = PatientEnrolmentSchema()
        try:
            data = schema.load(form_input(schema, request.form))
            patient, token = enrol_patient(
                db.session, current_user, PatientDetails(**data), utcnow(), current_app.config["INVITATION_DAYS"]
            )
        except ValidationError as error:
            errors = error.messages
        except EnrolmentError as error:
            db.session.rollback()
            errors = {error.field: [error.message]}
        else:
            audit.record(current_user, "patient.create", patient.id)
            db.session.commit()
            # Shown once on the next page; only the hash is stored.
            session["new_invitation"] = {"patient_id": patient.id, "url": invitation_url(token)}
            return redirect(url_for("clinician.patient", patient_id=patient.id))
    return render_template(
        "clinician/enrol.html",
        errors=errors,
        values=values,
        substances=SUBSTANCES,
        zones=sorted(iana_zones()),
        default_zone=current_user.timezone,
    ), 400 if errors else 200


@bp.get("/patients/<id:patient_id>")
@roles_required(Role.CLINICIAN)
def patient(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id)
    new_invitation = session.pop("new_invitation", None)
    if new_invitation and new_invitation.get("patient_id") != patient_id:
        new_invitation = None
    colleagues = db.session.scalars(
        select(User)
        .where(User.clinic_id == current_user.clinic_id, User.role == Role.CLINICIAN, User.disabled_at.is_(None))
        .where(User.id.not_in([c.id for c in patient.clinicians]))
        .order_by(User.name)
    ).all()
    alerts = db.session.scalars(open_alerts_for(current_user).where(Alert.patient_id == patient_id)).all()
    return render_template(
        "clinician/patient.html",
        patient=patient,
        alerts=alerts,
        new_invitation=new_invitation,
        colleagues=colleagues,
        substances=SUBSTANCES,
    )


@bp.post("/patients/<id:patient_id>/invitation")
@roles_required(Role.CLINICIAN)
def new_invitation(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id, action="invitation.create")
    token = create_invitation(db.session, patient.user, current_user, utcnow(), current_app.config["INVITATION_DAYS"])
    db.session.commit()
    session["new_invitation"] = {"patient_id": patient_id, "url": invitation_url(token)}
    return redirect(url_for("clinician.patient", patient_id=patient_id))


@bp.post("/patients/<id:patient_id>/care-team")
@roles_required(Role.CLINICIAN)
def add_to_care_team(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id, action=None)
    schema = CareTeamAddSchema()
    try:
        clinician_id = schema.load(form_input(schema, request.form))["clinician_id"]
    except ValidationError:
        abort(400)
    clinician = db.session.get(User, clinician_id)
    if clinician is None or clinician.role != Role.CLINICIAN or clinician.clinic_id != current_user.clinic_id:
        abort(400)
    if db.session.get(CareTeamMember, {"patient_id": patient_id, "clinician_id": clinician.id}) is None:
        db.session.add(CareTeamMember(patient_id=patient.user_id, clinician_id=clinician.id, added_at=utcnow()))
        audit.record(current_user, "careteam.add", patient_id, detail=f"clinician {clinician.id}")
    db.session.commit()
    flash(f"{clinician.name} is now on the care team.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id))
