"""Clinicians' pages: their patients, enrolment, care teams, questionnaires and the alerts inbox."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import aliased

from .. import audit
from ..access import get_alert_or_404, get_patient_or_404, open_alerts_for, visible_patients
from ..accounts import EnrolmentError, PatientDetails, create_invitation, enrol_patient
from ..alerts import KIND_LABELS, AlertError, RecentData, acknowledge, recent_data
from ..assessments import AssessmentError, Change, history, set_baseline
from ..db import db, utcnow
from ..links import invitation_url
from ..models import SUBSTANCES, Alert, Assessment, CareTeamMember, EntrySource, Patient, Role, User
from ..questionnaires import ANSWERS
from ..schemas import (
    AcknowledgeSchema,
    BaselineSchema,
    CareTeamAddSchema,
    PatientEnrolmentSchema,
    ProgrammeSchema,
    form_input,
    iana_zones,
    programme_form_input,
)
from ..scoring import BAND_LABELS, GAD7, MCID, PHQ9
from ..security import roles_required
from . import describe_wait, local_time

bp = Blueprint("clinician", __name__, url_prefix="/clinician")

INBOX_LIMIT = 500
INSTRUMENT_NAMES = {PHQ9: "PHQ-9", GAD7: "GAD-7"}
SEVERITY_LABELS = {"high": "High priority", "medium": "Medium priority", "low": "Low priority"}
SOURCE_LABELS = {EntrySource.PATIENT: "Patient, in the app", EntrySource.CLINICIAN: "Paper, entered by staff"}
USUAL_BASELINE = 10  # SPEC 1.6: response and remission are usually measured from a PHQ-9 baseline of 10 or more


# --- Shared helpers ---------------------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_user.timezone)


# --- Patients ---------------------------------------------------------------------------------------------------


@bp.get("/patients")
@roles_required(Role.CLINICIAN)
def patients():
    # Audited first: a commit expires loaded rows, and rendering expired rows would query once per patient.
    audit.record(current_user, "patient.list")
    db.session.commit()
    rows = db.session.scalars(visible_patients(current_user)).all()
    alerts = db.session.scalars(open_alerts_for(current_user)).all()
    names = {patient.user_id: patient.user.name for patient in rows}
    return render_template(
        "clinician/patients.html",
        patients=rows,
        alerts=alerts,
        names=names,
        kind_labels=KIND_LABELS,
        severity_labels=SEVERITY_LABELS,
        local_time=local_time,
        zone=_zone(),
    )


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
    return _render_patient(patient, new_invitation=new_invitation)


@dataclass(frozen=True)
class QuestionnaireRow:
    """One form in the patient's questionnaire table, with what the table says about it."""

    form: Assessment
    change: Change
    after_baseline: bool  # response is measured only for forms after the baseline


def _questionnaire_rows(patient_id: int) -> tuple[list[QuestionnaireRow], dict[str, Assessment]]:
    annotated = history(db.session, patient_id)
    baselines = {form.instrument: form for form, change in annotated if change.is_baseline}
    rows = []
    for form, change in annotated:
        base = baselines.get(form.instrument)
        after = base is not None and (form.completed_at, form.id) > (base.completed_at, base.id)
        rows.append(QuestionnaireRow(form, change, after))
    return rows, baselines


def _render_patient(
    patient: Patient,
    *,
    new_invitation: dict | None = None,
    errors: dict | None = None,
    programme: dict | None = None,
    status: int = 200,
):
    colleagues = db.session.scalars(
        select(User)
        .where(User.clinic_id == current_user.clinic_id, User.role == Role.CLINICIAN, User.disabled_at.is_(None))
        .where(User.id.not_in([c.id for c in patient.clinicians]))
        .order_by(User.name)
    ).all()
    alerts = db.session.scalars(open_alerts_for(current_user).where(Alert.patient_id == patient.user_id)).all()
    rows, baselines = _questionnaire_rows(patient.user_id)
    if programme is None:
        programme = {
            "urinary_check": patient.urinary_check,
            "induction_until": patient.induction_until.isoformat() if patient.induction_until else "",
        }
    return render_template(
        "clinician/patient.html",
        patient=patient,
        alerts=alerts,
        new_invitation=new_invitation,
        colleagues=colleagues,
        substances=SUBSTANCES,
        questionnaires=rows,
        baselines=baselines,
        errors=errors or {},
        programme=programme,
        kind_labels=KIND_LABELS,
        severity_labels=SEVERITY_LABELS,
        instrument_names=INSTRUMENT_NAMES,
        band_labels=BAND_LABELS,
        source_labels=SOURCE_LABELS,
        answers=ANSWERS,
        mcid=MCID,
        usual_baseline=USUAL_BASELINE,
        local_time=local_time,
        zone=_zone(),
    ), status


def _render_patient_again(patient: Patient, errors: dict, **kwargs):
    """The patient page once more, with what to fix: a read of the patient's data, so audited as one."""
    db.session.rollback()
    audit.record(current_user, "patient.read", patient.user_id)
    db.session.commit()
    return _render_patient(patient, errors=errors, status=400, **kwargs)


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


@bp.post("/patients/<id:patient_id>/baseline")
@roles_required(Role.CLINICIAN)
def choose_baseline(patient_id: int):
    """Make one of the patient's forms the baseline its questionnaire measures response against (PHQ-R9)."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    schema = BaselineSchema()
    try:
        assessment_id = schema.load(form_input(schema, request.form))["assessment_id"]
        baseline = set_baseline(db.session, patient, assessment_id, current_user, utcnow())
    except ValidationError:
        return _render_patient_again(patient, {"assessment_id": ["Choose a form from the table."]})
    except AssessmentError as error:
        return _render_patient_again(patient, {"assessment_id": [error.message]})
    form = baseline.assessment
    audit.record(current_user, "baseline.set", patient_id, detail=f"{form.instrument} assessment {form.id}")
    db.session.commit()
    when = form.completed_at.astimezone(_zone()).strftime("%-d %b %Y")
    flash(f"The {INSTRUMENT_NAMES[form.instrument]} of {when} is now the baseline.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="questionnaires"))


@bp.post("/patients/<id:patient_id>/programme")
@roles_required(Role.CLINICIAN)
def update_programme(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id, action=None)
    raw = programme_form_input(request.form)
    try:
        data = ProgrammeSchema().load(raw)
    except ValidationError as error:
        shown = {"urinary_check": raw["urinary_check"], "induction_until": raw["induction_until"] or ""}
        return _render_patient_again(patient, error.messages, programme=shown)
    changed = [name for name, value in data.items() if getattr(patient, name) != value]
    for name, value in data.items():
        setattr(patient, name, value)
    audit.record(current_user, "programme.update", patient_id, detail=", ".join(changed) or "no change")
    db.session.commit()
    flash("The programme is saved.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="programme"))


# --- Alerts inbox (SAFE-R3) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    alert: Alert
    patient_name: str
    recent: RecentData


def _render_inbox(errors: dict | None = None, notes: dict | None = None, status: int = 200):
    """The open alerts about the clinician's patients, most severe then oldest first; the read is audited."""
    # Audited first: a commit expires loaded rows, and rendering expired rows would query once per alert.
    audit.record(current_user, "alert.list")
    db.session.commit()
    now = utcnow()
    about = aliased(User)  # not the care-team query's own user_account, which its subquery names
    found = db.session.execute(
        open_alerts_for(current_user)
        .join(about, about.id == Alert.patient_id)
        .add_columns(about.name, about.timezone)
        .limit(INBOX_LIMIT)
    ).all()
    recent = recent_data(db.session, {alert.patient_id: zone for alert, _, zone in found}, now)
    rows = [InboxRow(alert, name, recent[alert.patient_id]) for alert, name, _ in found]
    return render_template(
        "clinician/alerts.html",
        rows=rows,
        limited=len(rows) == INBOX_LIMIT,
        errors=errors or {},
        notes=notes or {},
        now=now,
        kind_labels=KIND_LABELS,
        severity_labels=SEVERITY_LABELS,
        answers=ANSWERS,
        describe_wait=describe_wait,
        local_time=local_time,
        zone=_zone(),
    ), status


@bp.get("/alerts")
@roles_required(Role.CLINICIAN)
def alerts():
    return _render_inbox()


@bp.post("/alerts/<id:alert_id>/ack")
@roles_required(Role.CLINICIAN)
def acknowledge_alert(alert_id: int):
    """Acknowledge an alert with a note of what was done or decided; only the first acknowledgement counts."""
    alert = get_alert_or_404(current_user, alert_id)  # before the form is read: an outsider learns nothing
    if alert.acknowledged_at is not None:
        return _already_acknowledged(alert)
    field = f"note-{alert.id}"
    schema = AcknowledgeSchema()
    try:
        note = schema.load(form_input(schema, request.form))["note"]
        acknowledge(db.session, alert, current_user, note, utcnow())
    except ValidationError as error:
        messages = error.messages.get("note") or ["Say what you did or decided, for the record."]
        return _render_inbox({field: messages}, {alert.id: request.form.get("note", "")}, 400)
    except AlertError as error:
        db.session.rollback()
        if error.status == 409:  # a colleague acknowledged it a moment ago
            return _already_acknowledged(db.session.get(Alert, alert_id))
        return _render_inbox({field: [error.message]}, {alert.id: request.form.get("note", "")}, 400)
    audit.record(current_user, "alert.ack", alert.patient_id, detail=f"alert {alert.id}")
    db.session.commit()
    flash(f"Alert {alert.id} is acknowledged and your note is recorded.", "success")
    return redirect(url_for("clinician.alerts"))


def _already_acknowledged(alert: Alert):
    """409: the first acknowledgement stands; the clinician's own note is shown back so it is not lost."""
    return render_template(
        "clinician/alert_acknowledged.html",
        alert=alert,
        when=local_time(alert.acknowledged_at, _zone()),
        note=request.form.get("note", "").strip(),
    ), 409
