"""PHQ-9 and GAD-7 forms: a patient's own, a clinician's paper entry, a patient's history, and baselines."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint, abort

from .. import audit
from ..access import get_patient_or_404, patient_in_path_required
from ..assessments import AssessmentError, crisis_resources, history, set_baseline, submit
from ..db import commit_retrying_on_conflict, db, utcnow
from ..models import Assessment, Patient, Role
from ..schemas import AssessmentOutSchema, AssessmentSchema, BaselineSchema
from ..scoring import needs_safety_pathway_for
from ..security import roles_required

blp = Blueprint(
    "api_assessments",
    __name__,
    url_prefix="/api/v1",
    description="Questionnaires: PHQ-9 (or PHQ-8), GAD-7, PCL-5, PEG, PACS, AUDIT-C",
)


FIELDS = tuple(AssessmentOutSchema().fields)


def as_document(assessment: Assessment, change) -> dict:
    """A form as AssessmentOutSchema serialises it."""
    document = {name: getattr(assessment, name) for name in FIELDS if hasattr(assessment, name)}
    flags = vars(change).copy()
    document.update(flags.pop("flags"), **flags)
    document.update(assessment.scores or {})  # the instrument's own results, under the SPEC's names
    is_phq9 = assessment.instrument == "phq9"
    document["item9_positive"] = assessment.item9 >= 1 if is_phq9 and assessment.item9 is not None else None
    document["crisis"] = None
    return document


def _documents(patient_id: int) -> list[dict]:
    return [as_document(form, change) for form, change in history(db.session, patient_id)]


@blp.route("/assessments", methods=["POST"])
@roles_required(Role.PATIENT, Role.CLINICIAN)
@blp.arguments(AssessmentSchema)
@blp.response(200, AssessmentOutSchema)
@blp.alt_response(201, schema=AssessmentOutSchema, description="Created")
def post_assessment(data):
    """Submit a questionnaire; the server scores it from the answers.

    ``instrument`` is phq9 (or phq8 where the clinic chose SAFE-R4), gad7, pcl5, peg, pacs or auditc. The
    answers are one per item in form order: 0-3 (PHQ, GAD-7), 0-4 (PCL-5, AUDIT-C), 0-10 (PEG), 0-6 (PACS).
    The PACS is entered only by a clinician until its wording is verified (PACS-R3). The response names each
    instrument's own results as the SPEC does: PCL-5 ``clusters``, ``provisional_ptsd``, ``probable_ptsd`` and
    ``cut_point``; PEG ``score`` (and ``peg_sum`` = ``total``); AUDIT-C ``positive``, ``threshold`` and
    ``threshold_basis`` (from the patient's recorded sex).

    A patient submits their own (every item answered; at most once in 7 days per questionnaire). A clinician
    enters a paper form for a patient on their care team with ``patient_id`` and a past ``completed_at``.
    When item 9 is 1 or more, or missing, the response carries ``crisis`` (show it at once) and a
    high-priority alert has been raised with the form. A repeated ``submission_id`` returns the stored form.
    """
    if current_user.role == Role.PATIENT:
        if data["patient_id"] not in (None, current_user.id):
            abort(404)
        patient = current_user.patient
    else:
        if data["patient_id"] is None:
            message = "Say which patient the form is for."
            abort(422, message=message, errors={"json": {"patient_id": [message]}})
        patient = get_patient_or_404(current_user, data["patient_id"], action=None)
    try:
        assessment, created = commit_retrying_on_conflict(db.session, lambda: _submit(patient, data))
    except AssessmentError as error:
        db.session.rollback()
        abort(error.status, message=error.message, errors={"json": {error.field: [error.message]}})
    document = next(doc for doc in _documents(patient.user_id) if doc["id"] == assessment.id)
    if needs_safety_pathway_for(assessment.instrument, assessment.safety):
        document["crisis"] = crisis_resources(patient.user.clinic)  # SAFE-R1: for the client to show at once
    return document, 201 if created else 200


def _submit(patient: Patient, data: dict) -> tuple[Assessment, bool]:
    """Store the form, audited when staff enter it, or find it stored under its submission_id."""
    assessment, created = submit(db.session, patient, data, utcnow(), current_user)
    if current_user.is_staff and created:
        audit.record(current_user, "assessment.write", patient.user_id, detail=f"assessment {assessment.id}")
    return assessment, created


@blp.route("/assessments", methods=["GET"])
@roles_required(Role.PATIENT)
@blp.response(200, AssessmentOutSchema(many=True))
def list_own_assessments():
    """The signed-in patient's forms, newest first."""
    return _documents(current_user.id)


@blp.route("/patients/<id:patient_id>/assessments", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(200, AssessmentOutSchema(many=True))
def list_patient_assessments(patient_id: int):
    """A patient's forms, newest first, with change from the previous form and from the baseline."""
    get_patient_or_404(current_user, patient_id, action="assessment.read")
    return _documents(patient_id)


@blp.route("/patients/<id:patient_id>/baselines/<any(phq9,phq8,gad7,pcl5,peg,pacs,auditc):instrument>", methods=["PUT"])
@roles_required(Role.CLINICIAN)
@patient_in_path_required
@blp.arguments(BaselineSchema)
@blp.response(200, AssessmentOutSchema)
def put_baseline(data, patient_id: int, instrument: str):
    """Choose the form that response and remission are measured against (PHQ-R9: stored explicitly)."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    form = db.session.get(Assessment, data["assessment_id"])
    if form is None or form.patient_id != patient_id or form.instrument != instrument:
        message = f"No {instrument} form with this id for this patient."
        abort(422, message=message, errors={"json": {"assessment_id": [message]}})
    try:
        set_baseline(db.session, patient, form.id, current_user, utcnow())
    except AssessmentError as error:
        db.session.rollback()
        abort(422, message=error.message, errors={"json": {error.field: [error.message]}})
    audit.record(current_user, "baseline.set", patient_id, detail=f"{instrument} assessment {form.id}")
    db.session.commit()
    return next(doc for doc in _documents(patient_id) if doc["id"] == form.id)
