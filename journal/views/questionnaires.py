"""The patient's PHQ-9 and GAD-7, and the crisis screen that follows a positive item 9 (SAFE-R1)."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from ..assessments import (
    MIN_GAP,
    AssessmentError,
    crisis_resources,
    due_instruments,
    latest,
    local_date,
    submit,
)
from ..db import commit_retrying_on_conflict, db, utcnow
from ..models import Assessment, Role
from ..questionnaires import ANSWERS, ATTRIBUTION, DIFFICULTY_ANSWERS, DIFFICULTY_QUESTION, FORMS
from ..schemas import AssessmentSchema
from ..scoring import BAND_LABELS, needs_safety_pathway_for
from ..security import roles_required

bp = Blueprint("questionnaires", __name__)


def _own_assessment_or_404(assessment_id: int) -> Assessment:
    assessment = db.session.get(Assessment, assessment_id)
    if assessment is None or assessment.patient_id != current_user.id:
        abort(404)
    return assessment


def _next_after(instrument: str) -> str:
    """Where to go after a form: the other questionnaire if it is due too, else home."""
    for other in due_instruments(db.session, current_user.patient, utcnow()):
        if other != instrument:
            return url_for("questionnaires.form", instrument=other)
    return url_for("patient.home")


@bp.get("/assessments")
@roles_required(Role.PATIENT)
def start():
    due = due_instruments(db.session, current_user.patient, utcnow())
    if due:
        return redirect(url_for("questionnaires.form", instrument=due[0]))
    return render_template("patient/assessment_not_due.html", opens=_opens_on("phq9"))


def _opens_on(instrument: str):
    last = latest(db.session, current_user.id, instrument)
    return local_date(last.completed_at + MIN_GAP, current_user.timezone) if last is not None else None


@bp.route("/assessments/<any(phq9,gad7):instrument>", methods=["GET", "POST"])
@roles_required(Role.PATIENT)
def form(instrument: str):
    """One scrolling page, the items in the published order, nothing pre-selected (PHQ-R2, PHQ-R3)."""
    questionnaire = FORMS[instrument]
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        answers, errors = _answers_from(request.form, len(questionnaire.items))
        if not errors:
            data = {"instrument": instrument, "answers": answers, "submission_id": request.form.get("submission_id")}
            if questionnaire.has_difficulty and request.form.get("difficulty"):
                data["difficulty"] = request.form["difficulty"]
            try:
                loaded = AssessmentSchema().load(data)
                assessment, _created = commit_retrying_on_conflict(
                    db.session, lambda: submit(db.session, current_user.patient, loaded, utcnow(), current_user)
                )
            except ValidationError as error:
                db.session.rollback()
                errors = {"form": _flatten(error.messages)}
            except AssessmentError as error:
                db.session.rollback()
                errors = {"form": [error.message]}
                if error.status == 409:
                    return render_template("patient/assessment_not_due.html", opens=_opens_on(instrument)), 409
            else:
                # SAFE-R1: after a positive or missing item 9 the very next screen is the crisis screen.
                if needs_safety_pathway_for(assessment.instrument, assessment.safety):
                    return redirect(url_for("questionnaires.support", assessment_id=assessment.id))
                return redirect(url_for("questionnaires.done", assessment_id=assessment.id))
        status = 400
    elif instrument not in due_instruments(db.session, current_user.patient, utcnow()):
        return render_template("patient/assessment_not_due.html", opens=_opens_on(instrument))
    return render_template(
        "patient/assessment.html",
        questionnaire=questionnaire,
        answers=ANSWERS,
        difficulty_question=DIFFICULTY_QUESTION,
        difficulty_answers=DIFFICULTY_ANSWERS,
        values=request.form,
        errors=errors,
        submission_id=request.form.get("submission_id") or uuid.uuid4().hex,
    ), status


def _answers_from(form, count: int) -> tuple[list[int], dict[str, list[str]]]:
    answers, errors = [], {}
    for number in range(1, count + 1):
        value = form.get(f"item-{number}", "")
        if value not in ("0", "1", "2", "3"):
            errors[f"item-{number}"] = ["Choose an answer."]  # PHQ-R3: every item is required in the app
        else:
            answers.append(int(value))
    if errors:
        errors["form"] = [f"Please answer {'this question' if len(errors) == 1 else 'these questions'}."]
    return answers, errors


def _flatten(messages) -> list[str]:
    if isinstance(messages, dict):
        return [text for value in messages.values() for text in _flatten(value)]
    if isinstance(messages, list):
        return [text for value in messages for text in _flatten(value)]
    return [str(messages)]


@bp.get("/assessments/<id:assessment_id>/support")
@roles_required(Role.PATIENT)
def support(assessment_id: int):
    """The crisis screen (SAFE-R1): call and text the crisis line, the emergency number, the clinic, and when
    the care team will read the answers. Reachable again from the same link; it never expires."""
    assessment = _own_assessment_or_404(assessment_id)
    return render_template(
        "patient/crisis.html",
        resources=crisis_resources(current_user.clinic),
        next_url=_next_after(assessment.instrument),
    )


@bp.get("/assessments/<id:assessment_id>/done")
@roles_required(Role.PATIENT)
def done(assessment_id: int):
    assessment = _own_assessment_or_404(assessment_id)
    if needs_safety_pathway_for(assessment.instrument, assessment.safety):
        return redirect(url_for("questionnaires.support", assessment_id=assessment_id))
    return render_template(
        "patient/assessment_done.html",
        assessment=assessment,
        questionnaire=FORMS[assessment.instrument],
        band=BAND_LABELS.get(assessment.band or "", ""),
        next_url=_next_after(assessment.instrument),
        review_promise=current_user.clinic.review_promise,
    )


@bp.get("/about/questionnaires")
def about():
    """PHQ-R1: the developers' attribution."""
    return render_template("about_questionnaires.html", attribution=ATTRIBUTION)
