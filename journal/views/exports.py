"""Downloads: the visit report (PDF) and the data exports (CSV, FHIR JSON), as pages for the browser.

The care team downloads a patient's report and exports from the patient page; a patient downloads their own
data from "Your data", signed in with their usual session. The JSON API (``api/exports.py``) answers the same
downloads for bearer-token clients with the functions below.

Every download is an attachment whose file name carries the patient's id and the date, never a name, and is
sent ``Cache-Control: private, no-store`` so no shared cache or back button keeps health data. Each one goes
into the audit trail: staff reads through ``get_patient_or_404``, a patient's own download here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext
from flask_login import current_user
from marshmallow import ValidationError, fields, validate

from .. import audit, export, patient_data, report
from ..access import get_patient_or_404, open_alerts_for
from ..checkins import local_today
from ..db import db, utcnow
from ..models import Alert, Patient, Role, User
from ..schemas import StrictSchema
from ..security import roles_required

bp = Blueprint("exports", __name__)

CSV_TYPE = "text/csv; charset=utf-8"
FHIR_TYPE = "application/fhir+json; charset=utf-8"
PDF_TYPE = "application/pdf"


class ReportQuerySchema(StrictSchema):
    days = fields.Integer(
        load_default=patient_data.DEFAULT_DAYS,
        validate=validate.Range(7, 366),
        metadata={"description": "How many days the report covers, ending today (the patient's local date)."},
    )


# --- Shared with the API ----------------------------------------------------------------------------------------


def attachment(body: bytes | str, content_type: str, patient: Patient, extension: str, now: datetime) -> Response:
    """A download: named by patient id and local date only, and kept by no cache."""
    filename = f"patient-{patient.user_id}-{local_today(patient.user, now).isoformat()}.{extension}"
    response = current_app.response_class(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def report_response(viewer: User, patient: Patient, days: int) -> Response:
    """The visit report for a clinician who has already passed ``get_patient_or_404``."""
    now = utcnow()
    data = patient_data.load(db.session, patient, now, days)
    alerts = db.session.scalars(open_alerts_for(viewer).where(Alert.patient_id == patient.user_id)).all()
    pdf = report.build(data, patient_data.summary(data, now), list(alerts), now)
    return attachment(pdf, PDF_TYPE, patient, "pdf", now)


def csv_response(patient: Patient, *, staff_only: bool, gettext: Callable[[str], str] | None = None) -> Response:
    now = utcnow()
    text = export.to_csv(export.load(db.session, patient), staff_only=staff_only, gettext=gettext)
    return attachment(text, CSV_TYPE, patient, "csv", now)


def fhir_response(patient: Patient) -> Response:
    now = utcnow()
    bundle = export.fhir_bundle(export.load(db.session, patient), current_app.config["BASE_URL"], now)
    return attachment(json.dumps(bundle, ensure_ascii=False, indent=2), FHIR_TYPE, patient, "fhir.json", now)


def own_patient(kind: str) -> Patient:
    """The signed-in patient, with their own download recorded: the data leaves the journal."""
    audit.record(current_user, "export.read", current_user.id, detail=kind)
    db.session.commit()
    return current_user.patient


# --- The patient's own ----------------------------------------------------------------------------------------------


@bp.get("/settings/data")
@roles_required(Role.PATIENT)
def your_data():
    """Where a patient downloads everything they have recorded."""
    return render_template("patient/your_data.html")


@bp.get("/settings/export.csv")
@roles_required(Role.PATIENT)
def own_csv():
    """The patient's own CSV, for reading in a spreadsheet: header and the file's own words in their language
    (export.to_csv). The API's download of the same data (api/exports.py) keeps the machine words for programs."""
    return csv_response(own_patient("csv"), staff_only=False, gettext=gettext)


@bp.get("/settings/export.fhir.json")
@roles_required(Role.PATIENT)
def own_fhir():
    # In English whatever the patient's language: the file is for machines (codes; the display strings are the
    # terminologies' own, LOINC's and UCUM's, and the questionnaires' published English wording). The page says so.
    return fhir_response(own_patient("fhir"))


# --- The care team's ------------------------------------------------------------------------------------------------


@bp.get("/clinician/patients/<id:patient_id>/report.pdf")
@roles_required(Role.CLINICIAN)
def patient_report(patient_id: int):
    try:
        args = ReportQuerySchema().load(request.args.to_dict())
    except ValidationError:
        abort(400)
    patient = get_patient_or_404(current_user, patient_id, action="report.read", detail=f"{args['days']} days")
    return report_response(current_user, patient, args["days"])


@bp.get("/clinician/patients/<id:patient_id>/export.csv")
@roles_required(Role.CLINICIAN)
def patient_csv(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id, action="export.read", detail="csv")
    return csv_response(patient, staff_only=True)


@bp.get("/clinician/patients/<id:patient_id>/export.fhir.json")
@roles_required(Role.CLINICIAN)
def patient_fhir(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id, action="export.read", detail="fhir")
    return fhir_response(patient)
