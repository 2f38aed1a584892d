"""The patient's questionnaires, each drawn from its definition in ``instruments``, and the crisis screen that
follows a positive PHQ-9 item 9 (SAFE-R1)."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from marshmallow import ValidationError

from .. import instruments, schedules
from ..assessments import AssessmentError, crisis_resources, due_instruments, latest, local_date, submit
from ..db import commit_retrying_on_conflict, db, utcnow
from ..i18n import current_locale, long_date
from ..models import Assessment, Role
from ..questionnaires import ATTRIBUTION
from ..scales import peg_tenths
from ..schemas import CHOOSE_0_TO_10, AssessmentSchema, flat_messages
from ..scoring import BAND_LABELS, needs_safety_pathway_for
from ..security import roles_required
from ..wording import N_

bp = Blueprint("questionnaires", __name__)

# The questionnaires a patient fills in themselves; the PACS waits for its verified wording (PACS-R3), so it
# has no page at all.
SELF_REPORT = tuple(key for key, definition in instruments.ALL.items() if definition.self_report)
DEPRESSION = (instruments.PHQ9.key, instruments.PHQ8.key)
AUDITC = instruments.AUDITC.key
NEVER = 0  # AUDIT-C item 1 "Never": items 2 and 3 are not asked (AUDC-R3)
# The page's own errors, marked here and translated where they are shown (templates/_forms.html, assessment.html).
CHOOSE_AN_ANSWER = N_("Choose an answer.")
ANSWER_THIS_QUESTION = N_("Please answer this question.")
ANSWER_THESE_QUESTIONS = N_("Please answer these questions.")


def _own_assessment_or_404(assessment_id: int) -> Assessment:
    assessment = db.session.get(Assessment, assessment_id)
    if assessment is None or assessment.patient_id != current_user.id:
        abort(404)
    return assessment


def _offered() -> dict[str, instruments.Instrument]:
    """The questionnaires this patient's indications call for and that they fill in themselves."""
    return {
        definition.key: definition
        for definition in instruments.for_patient(current_user.patient)
        if definition.self_report
    }


def _page_for(key: str) -> str | None:
    """The address of a due questionnaire's page, with the clinic's depression instrument in place of the other
    (SAFE-R4); None when this patient has no page for it."""
    if key in DEPRESSION:
        key = instruments.depression_instrument(current_user.clinic).key
    return url_for("questionnaires.form", instrument=key) if key in _offered() else None


def _due_pages() -> list[str]:
    pages = (_page_for(key) for key in due_instruments(db.session, current_user.patient, utcnow()))
    return list(dict.fromkeys(page for page in pages if page is not None))


def _next_after(instrument: str) -> str:
    """Where to go after a form: the next questionnaire that is due too, else home."""
    here = _page_for(instrument)
    return next((page for page in _due_pages() if page != here), url_for("patient.home"))


@bp.get("/assessments")
@roles_required(Role.PATIENT)
def start():
    due = _due_pages()
    if due:
        return redirect(due[0])
    return render_template("patient/assessment_not_due.html", definition=None, opens=None)


def _opens_on(definition: instruments.Instrument):
    """The local date the questionnaire opens again, while it is inside its minimum gap since the last one
    (SPEC 1.10, PCL-R10, PEG-R6, PACS-R6, AUDC-R7); None when it is open now."""
    last = latest(db.session, current_user.id, definition.key)
    if last is None:
        return None
    zone = ZoneInfo(current_user.timezone)
    reopens = schedules.reopens_on(
        last.completed_at, schedules.min_gap_days(db.session, current_user.clinic, definition), zone
    )
    return reopens if local_date(utcnow(), current_user.timezone) < reopens else None


def _not_open(definition: instruments.Instrument, status: int = 200):
    opens = _opens_on(definition)
    page = render_template(
        "patient/assessment_not_due.html", definition=definition, opens=long_date(opens) if opens else None
    )
    return page, status


@bp.route(f"/assessments/<any({','.join(SELF_REPORT)}):instrument>", methods=["GET", "POST"])
@roles_required(Role.PATIENT)
def form(instrument: str):
    """One scrolling page, the items in the published order, nothing pre-selected (PHQ-R2, PCL-R5, PEG-R2);
    the AUDIT-C in two steps, so a patient who never drinks is not asked about drinking days (AUDC-R3)."""
    definition = _offered().get(instrument)
    if definition is None:
        if instrument in DEPRESSION:  # SAFE-R4: the clinic's choice of PHQ-9 or PHQ-8 decides
            return redirect(url_for("questionnaires.form", instrument=_other_depression(instrument)))
        abort(404)
    asked = _asked(definition, request.form if request.method == "POST" else {})
    if asked == [2, 3] and not _answered(definition.items[0], request.form.get("item-1")):
        asked = [1]  # the second AUDIT-C step lost its first answer: ask it again
    if request.method == "GET":
        if _opens_on(definition) is not None:
            return _not_open(definition)
        return _render(definition, asked, {}, 200)

    answers, errors = _answers_from(definition, request.form, asked)
    if errors:
        return _render(definition, asked, errors, 400)
    if answers is None:  # the first AUDIT-C step, answered with a drinking frequency: on to items 2 and 3
        return _render(definition, _asked(definition, request.form, second_step=True), {}, 200)
    data = {"instrument": instrument, "answers": answers, "submission_id": request.form.get("submission_id")}
    if definition.has_difficulty and request.form.get("difficulty"):
        data["difficulty"] = request.form["difficulty"]
    try:
        loaded = AssessmentSchema().load(data)
        assessment, _created = commit_retrying_on_conflict(
            db.session, lambda: submit(db.session, current_user.patient, loaded, utcnow(), current_user)
        )
    except ValidationError as error:
        db.session.rollback()
        return _render(definition, asked, {"form": flat_messages(error.messages)}, 400)
    except AssessmentError as error:
        db.session.rollback()
        if error.status == 409:
            return _not_open(definition, 409)
        return _render(definition, asked, {"form": [error.message]}, 400)
    # SAFE-R1: after a positive or missing item 9 the very next screen is the crisis screen.
    if needs_safety_pathway_for(assessment.instrument, assessment.safety):
        return redirect(url_for("questionnaires.support", assessment_id=assessment.id))
    return redirect(url_for("questionnaires.done", assessment_id=assessment.id))


def _other_depression(instrument: str) -> str:
    return next(key for key in DEPRESSION if key != instrument)


def _asked(definition: instruments.Instrument, form, *, second_step: bool = False) -> list[int]:
    """The numbers of the items this page asks. The AUDIT-C asks item 1 alone, then items 2 and 3 once item 1
    has an answer other than "Never" (kept from the first step in a hidden field)."""
    if definition.key != AUDITC:
        return list(range(1, len(definition.items) + 1))
    return [2, 3] if second_step or form.get("step") == "2" else [1]


def _answered(item: instruments.Item, raw: str | None) -> bool:
    """Whether a form value is one of the item's answers (its points, or 0-10 on a numeric scale)."""
    choices = [answer.points for answer in item.answers] if item.answers else range(11)
    return raw in {str(points) for points in choices}


def _answers_from(definition: instruments.Instrument, form, asked: list[int]):
    """The answers in form order, and the errors by field. Every item is required (PHQ-R3, PCL-R5, PEG-R2).
    The answers are None after the AUDIT-C's first step when items 2 and 3 are still to be asked."""
    values: dict[int, int] = {}
    errors: dict[str, list[str]] = {}
    numbers = [1, *asked] if definition.key == AUDITC and asked != [1] else asked
    for number in numbers:
        item = definition.items[number - 1]
        raw = form.get(f"item-{number}", "")
        if not _answered(item, raw):
            errors[f"item-{number}"] = [CHOOSE_AN_ANSWER if item.answers else CHOOSE_0_TO_10]
        else:
            values[number] = int(raw)
    if errors:
        errors["form"] = [ANSWER_THIS_QUESTION if len(errors) == 1 else ANSWER_THESE_QUESTIONS]
        return None, errors
    if definition.key == AUDITC:
        if values[1] == NEVER:  # AUDC-R3: items 2 and 3 are not asked, whatever else the form carries
            return [NEVER, None, None], {}
        if asked == [1]:
            return None, {}
    return [values[number] for number in range(1, len(definition.items) + 1)], {}


def _render(definition: instruments.Instrument, asked: list[int], errors: dict, status: int):
    # The page's words: the published version in the patient's language where one is verified, else the English
    # (the page says why). The answers are read and stored by the English definition: the same codes and points.
    shown = instruments.in_language(definition, current_locale()) or definition
    difficulty_question, difficulty_answers = instruments.DIFFICULTY[shown.language]
    kept = []
    if definition.key == AUDITC and asked != [1]:
        first = shown.items[0]
        points = int(request.form.get("item-1", "-1"))
        kept = [(1, first, next(answer for answer in first.answers if answer.points == points))]
    return render_template(
        "patient/assessment.html",
        definition=shown,
        items=[(number, shown.items[number - 1]) for number in asked],
        kept=kept,
        step="1" if asked == [1] and definition.key == AUDITC else "2" if kept else None,
        difficulty_question=difficulty_question,
        difficulty_answers=difficulty_answers,
        values=request.form,
        errors=errors,
        submission_id=request.form.get("submission_id") or uuid.uuid4().hex,
    ), status


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


def shown_score(assessment: Assessment) -> str | None:
    """The score a patient sees: the PEG as its mean to one decimal ("5.0", PEG-R3), every other questionnaire
    its total. Never a category word for the PACS, nor the PCL-5's flags (PACS-R5, PCL-R7)."""
    if assessment.total is None:
        return None
    if assessment.instrument == instruments.PEG.key:
        tenths = peg_tenths(assessment.total)
        return f"{tenths // 10}.{tenths % 10}"
    return str(assessment.total)


@bp.get("/assessments/<id:assessment_id>/done")
@roles_required(Role.PATIENT)
def done(assessment_id: int):
    assessment = _own_assessment_or_404(assessment_id)
    if needs_safety_pathway_for(assessment.instrument, assessment.safety):
        return redirect(url_for("questionnaires.support", assessment_id=assessment_id))
    definition = instruments.ALL[assessment.instrument]
    return render_template(
        "patient/assessment_done.html",
        definition=definition,
        score=shown_score(assessment),
        # The PEG's score is the mean of its items, 0-10; every other score is the total.
        averaged=assessment.instrument == instruments.PEG.key,
        highest=10 if assessment.instrument == instruments.PEG.key else definition.total_max,
        # Only the PHQ and the GAD-7 have severity bands a patient is shown.
        band=gettext(BAND_LABELS[assessment.band]) if definition.bands and assessment.band in BAND_LABELS else "",
        next_url=_next_after(assessment.instrument),
        review_promise=(current_user.clinic.review_promise, current_user.clinic.review_promise_es),
    )


@bp.get("/about/questionnaires")
def about():
    """The developers' attribution of every questionnaire (PHQ-R1, PCL-R2, PEG-R1, PACS-R1, AUDC-R1)."""
    clinic = getattr(current_user, "clinic", None) if current_user.is_authenticated else None
    listed = instruments.offered_to(clinic) if clinic is not None else list(instruments.ALL.values())
    return render_template("about_questionnaires.html", attribution=ATTRIBUTION, definitions=listed)
