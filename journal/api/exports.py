"""The visit report and the data exports: a patient's for their care team, and a patient's own.

Downloads, not JSON documents: each answers with an attachment named by patient id and date only, sent
``Cache-Control: private, no-store`` (see ``views/exports.py``, whose functions these share).
"""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import RAISE

from ..access import get_patient_or_404
from ..models import Role
from ..security import roles_required
from ..views.exports import ReportQuerySchema, csv_response, fhir_response, own_patient, report_response

blp = Blueprint("api_exports", __name__, url_prefix="/api/v1", description="The visit report and data exports")

PDF = {"content_type": "application/pdf", "schema": {"type": "string", "format": "binary"}}
CSV = {"content_type": "text/csv", "schema": {"type": "string"}}
FHIR = {"content_type": "application/fhir+json", "schema": {"type": "object"}}


@blp.route("/patients/<id:patient_id>/report.pdf", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.arguments(ReportQuerySchema, location="query", unknown=RAISE)
@blp.response(200, description="The report as a PDF attachment", **PDF)
def patient_report(args, patient_id: int):
    """The visit report: summary, charts, open alerts and sessions over the last ``days`` days (audited)."""
    patient = get_patient_or_404(current_user, patient_id, action="report.read", detail=f"{args['days']} days")
    return report_response(current_user, patient, args["days"])


@blp.route("/patients/<id:patient_id>/export.csv", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(200, description="Every record, one row each, as a CSV attachment", **CSV)
def patient_csv(patient_id: int):
    """All of a patient's records as CSV, one row per record with a ``record_type`` column (audited)."""
    patient = get_patient_or_404(current_user, patient_id, action="export.read", detail="csv")
    return csv_response(patient, staff_only=True)


@blp.route("/patients/<id:patient_id>/export.fhir.json", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(200, description="A FHIR R4 Bundle (type collection) as a JSON attachment", **FHIR)
def patient_fhir(patient_id: int):
    """All of a patient's records as a FHIR R4 Bundle: QuestionnaireResponses, Observations coded with LOINC
    where a code is verified (local codes otherwise) and MedicationAdministrations (audited)."""
    patient = get_patient_or_404(current_user, patient_id, action="export.read", detail="fhir")
    return fhir_response(patient)


@blp.route("/me/export.csv", methods=["GET"])
@roles_required(Role.PATIENT)
@blp.response(200, description="Every record, one row each, as a CSV attachment", **CSV)
def own_csv():
    """The signed-in patient's own records as CSV (the care team's session notes and the escort's name left out)."""
    return csv_response(own_patient("csv"), staff_only=False)


@blp.route("/me/export.fhir.json", methods=["GET"])
@roles_required(Role.PATIENT)
@blp.response(200, description="A FHIR R4 Bundle (type collection) as a JSON attachment", **FHIR)
def own_fhir():
    """The signed-in patient's own records as a FHIR R4 Bundle."""
    return fhir_response(own_patient("fhir"))
