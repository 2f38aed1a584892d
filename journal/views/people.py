"""Contact details and programme: the patient's phone, emergency contact and time zone (theirs to change), and
for the care team also the programme, with its history."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import audit, instruments
from ..access import get_patient_or_404
from ..db import db, utcnow
from ..models import SUBSTANCES, Patient, Role, User
from ..people import (
    SEXES,
    DetailsError,
    contact_from,
    describe_history,
    display_phone,
    everyone_questionnaires,
    indication_effects,
    indication_names,
    programme_history,
    questionnaire_words,
    update_details,
)
from ..schemas import MeUpdateSchema, PatientUpdateSchema, details_form_input, flat_errors, iana_zones
from ..security import roles_required
from ..wording import N_
from . import local_time

bp = Blueprint("people", __name__)

SAVED_FOR_PATIENT = N_("Your details are saved.")


@bp.app_template_filter("phone")
def phone_filter(e164: str | None, zone: str | None = None) -> str:
    """A stored number as people write it: nationally in the country of ``zone``, internationally else."""
    return display_phone(e164, zone)


@bp.app_template_global("programme_summary")
def programme_summary(patient: Patient) -> dict:
    """What a patient is treated for, and the questionnaires that calls for, in words (the patient page)."""
    return {
        "indications": indication_names(patient.indications or ()),
        "questionnaires": ", ".join(questionnaire_words(i) for i in instruments.for_patient(patient)),
    }


def _form_values(patient: Patient) -> MultiDict:
    """A patient's details as the form's values."""
    values = MultiDict(
        {
            "timezone": patient.user.timezone,
            "phone": display_phone(patient.phone, patient.user.timezone),
            "emergency_contact_name": patient.emergency_contact_name or "",
            "emergency_contact_phone": display_phone(patient.emergency_contact_phone, patient.user.timezone),
            "sex": patient.sex,
            "language": patient.language,
            "induction_until": patient.induction_until.isoformat() if patient.induction_until else "",
            "birth_date": patient.birth_date.isoformat() if patient.birth_date else "",
            "rems_enrolled": {True: "yes", False: "no"}.get(patient.rems_enrolled, ""),
        }
    )
    for code in patient.indications or ():
        values.add("indications", code)
    for code in patient.substances:
        values.add("substances", code)
    for name in ("tracks_pain", "sleep_detail", "urinary_check"):
        if getattr(patient, name):
            values[name] = "yes"
    return values


def _save(patient: Patient, form: MultiDict, *, care_team: bool, action: str) -> dict[str, list[str]]:
    """Validate and save the form, audited and committed; the errors by field (nothing saved) or {}."""
    schema = PatientUpdateSchema() if care_team else MeUpdateSchema()
    raw = details_form_input(form, care_team=care_team)
    try:
        values = schema.load(raw)
        changed = update_details(db.session, patient, values, current_user, utcnow())
    except ValidationError as error:
        db.session.rollback()
        return {**phone_errors(raw, error.messages, patient.user.timezone), **flat_errors(error.messages)}
    except DetailsError as error:
        db.session.rollback()
        return {field: [message] for field, message in error.errors.items()}
    audit.record(current_user, action, patient.user_id, detail=", ".join(changed) or "no change")
    db.session.commit()
    return {}


def phone_errors(raw: dict, refused: dict, fallback_zone: str) -> dict[str, list[str]]:
    """What is wrong with the numbers too, when other fields were refused first: every error shows at once. The
    numbers are read in the zone given, or in ``fallback_zone`` when that was refused."""
    given = {name: raw[name] for name in ("phone", "emergency_contact") if name in raw and name not in refused}
    zone = raw["timezone"] if raw.get("timezone") in iana_zones() else fallback_zone
    try:
        contact_from(given, zone)
    except DetailsError as error:
        return {field: [message] for field, message in error.errors.items()}
    return {}


def _zone_now(zone: str, now: datetime) -> str:
    return now.astimezone(ZoneInfo(zone)).strftime("%H:%M %Z")


@bp.route("/settings/contact", methods=["GET", "POST"])
@roles_required(Role.PATIENT)
def contact():
    """The patient's own phone, emergency contact and time zone."""
    patient = current_user.patient
    errors: dict = {}
    values = _form_values(patient)
    if request.method == "POST":
        errors = _save(patient, request.form, care_team=False, action="details.update")
        if not errors:
            flash(SAVED_FOR_PATIENT, "success")
            return redirect(url_for("people.contact"))
        values = request.form
    zone = current_user.timezone
    return render_template(
        "people/contact.html",
        errors=errors,
        values=values,
        zones=sorted(iana_zones()),
        current_zone=zone,
        zone_now=_zone_now(zone, utcnow()),
    ), 400 if errors else 200


@bp.route("/clinician/patients/<id:patient_id>/details", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def edit_patient(patient_id: int):
    """The care team's page for a patient's details and programme, with the programme's history."""
    if request.method == "GET":
        # "details.read": a read, but not one the on-call grant allows (journal/access.py): the page is for changing.
        patient = get_patient_or_404(current_user, patient_id, action="details.read")
        return _render_edit(patient, _form_values(patient), {})
    patient = get_patient_or_404(current_user, patient_id, action=None)
    errors = _save(patient, request.form, care_team=True, action="patient.update")
    if not errors:
        flash(f"{patient.user.name}'s details are saved.", "success")
        return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="details-heading"))
    # Shown again with what to fix: a read of the patient's record, so audited as one.
    audit.record(current_user, "patient.read", patient_id, detail="details")
    db.session.commit()
    patient = get_patient_or_404(current_user, patient_id, action=None)
    return _render_edit(patient, request.form, errors, status=400)


def programme_history_entries(patient: Patient):
    """The programme's history in words, newest first, with who made each change."""
    rows = programme_history(db.session, patient)
    ids = {row.changed_by_id for row in rows if row.changed_by_id}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    return describe_history(rows, names)


def _render_edit(patient: Patient, values, errors: dict, status: int = 200):
    zone = ZoneInfo(current_user.timezone)
    return render_template(
        "people/edit.html",
        patient=patient,
        errors=errors,
        values=values,
        zones=sorted(iana_zones()),
        zone_now=_zone_now(patient.user.timezone, utcnow()),
        sexes=SEXES,
        substances=SUBSTANCES,
        indications=indication_effects(patient.user.clinic),
        everyone=everyone_questionnaires(patient.user.clinic),
        history=programme_history_entries(patient),
        local_time=local_time,
        zone=zone,
    ), status
