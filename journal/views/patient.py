"""The patient's own pages, made for a phone: home, the daily check-in, and the offline app shell."""

from __future__ import annotations

import hmac
import json
import uuid
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from .. import charts, device, instruments
from ..assessments import due_instruments
from ..checkins import (
    CRAVING_FREQUENCIES,
    SIDE_EFFECTS,
    SLEEP_QUALITY,
    URINARY_SYMPTOMS,
    CheckInError,
    StaleCheckIn,
    day_words,
    get_checkin,
    local_today,
    missing_days,
    save_checkin,
    sleep_metrics,
    timing_for,
    urinary_check_due,
)
from ..db import db, utcnow
from ..i18n import current_locale, in_every_language, request_language, translated
from ..i18n import long_date as localized_long_date
from ..models import SUBSTANCES, Alert, CheckIn, EntrySource, Role
from ..schemas import CheckInSchema, checkin_form_errors, checkin_form_input, checkin_form_values
from ..security import roles_required
from ..sleep import describe_duration
from .patient_sessions import session_cards_for_home

bp = Blueprint("patient", __name__)

RECENT_DAYS = 30


def _day_or_404(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(404)


def day_label(day: date, today: date) -> str:
    """The day as the patient's pages name it, in their language: today, yesterday, or its long date."""
    if day == today:
        return gettext("today")
    if day == today - timedelta(days=1):
        return gettext("yesterday")
    return localized_long_date(day)


def day_kind(day: date, today: date) -> str:
    """Which of the check-in page's headings fits: today's, yesterday's or a named day's."""
    return {today: "today", today - timedelta(days=1): "yesterday"}.get(day, "other")


@bp.get("/home")
@roles_required(Role.PATIENT)
def home():
    now = utcnow()
    today = local_today(current_user, now)
    recent = db.session.scalars(
        select(CheckIn)
        .where(CheckIn.patient_id == current_user.id, CheckIn.local_date > today - timedelta(days=RECENT_DAYS))
        .order_by(CheckIn.local_date.desc())
    ).all()
    done_today = bool(recent) and recent[0].local_date == today
    mood_points = [(c.local_date, c.mood) for c in recent]
    return render_template(
        "patient/home.html",
        patient=current_user.patient,
        today=today,
        done_today=done_today,
        recent=recent[:7],
        missing=missing_days(db.session, current_user, now),
        progress=charts.mood_progress_summary(mood_points, today, request_language()),
        has_chart=len(mood_points) >= 2,
        progress_size=charts.PROGRESS_CSS,  # the CSS size it is drawn for, so it is shown unscaled
        day_label=lambda d: day_label(d, today),
        questionnaires_due=[instruments.ALL[key] for key in due_instruments(db.session, current_user.patient, now)],
        session_cards=session_cards_for_home(),
        # KET-R2: the loss-of-response flag is for the clinician; the patient sees only a neutral word.
        team_may_check_in=db.session.scalar(
            select(Alert.id).where(
                Alert.patient_id == current_user.id, Alert.kind == "booster_review", Alert.acknowledged_at.is_(None)
            )
        )
        is not None,
    )


@bp.get("/home/progress.png")
@roles_required(Role.PATIENT)
def progress_chart():
    today = local_today(current_user, utcnow())
    rows = db.session.execute(
        select(CheckIn.local_date, CheckIn.mood).where(
            CheckIn.patient_id == current_user.id, CheckIn.local_date > today - timedelta(days=RECENT_DAYS)
        )
    ).all()
    png = charts.mood_progress_png([(d, m) for d, m in rows], today, RECENT_DAYS)
    response = current_app.response_class(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/checkin")
@roles_required(Role.PATIENT)
def checkin_today():
    return redirect(url_for("patient.checkin", day=local_today(current_user, utcnow()).isoformat()))


@bp.get("/checkin/offline-form")
@roles_required(Role.PATIENT)
def offline_checkin_form():
    """Today's check-in with no answers in it: the copy the service worker keeps for this sign-in only, so the
    patient can check in without a connection. The page picks the day when Save is pressed."""
    now = utcnow()
    today = local_today(current_user, now)
    return _render_form(current_user.patient, today, today, MultiDict(), {}, offline=True)


@bp.route("/checkin/<day>", methods=["GET", "POST"])
@roles_required(Role.PATIENT)
def checkin(day: str):
    """The daily check-in for one local date: today, or a missed day up to a week back."""
    the_day = _day_or_404(day)
    now = utcnow()
    patient = current_user.patient
    today = local_today(current_user, now)
    try:
        timing_for(the_day, current_user, now, EntrySource.PATIENT)
    except CheckInError as error:
        return render_template("error.html", code=404, message=error.message), 404, {"X-Journal-Outcome": "invalid"}
    existing = get_checkin(db.session, current_user.id, the_day)
    if request.method == "GET":
        if existing is not None and not _editable_today(existing, today):
            return redirect(url_for("patient.checkin_saved", day=day))
        values = checkin_form_values(existing, ZoneInfo(current_user.timezone)) if existing else MultiDict()
        return _render_form(patient, the_day, today, values, {}, existing)

    # A POST always goes to save_checkin: a retried submission is recognised there, anything else that may
    # not change the day is refused with 409. Never answer a POST with a success it did not have.
    # X-Journal-Outcome tells the page's offline queue what became of an entry it sent.
    author = request.form.get("author")
    if author is not None and not hmac.compare_digest(author, device.queue_owner(current_user)):
        message = "This check-in was filled in on this phone by someone else signed in, so it cannot be saved for you."
        return render_template("error.html", code=403, message=message), 403, {"X-Journal-Outcome": "other-account"}
    try:
        data = CheckInSchema().load(checkin_form_input(request.form, patient, the_day))
        _save_retrying_a_race(patient, the_day, data, now)
    except ValidationError as error:
        db.session.rollback()
        errors, status, outcome = checkin_form_errors(error.messages, patient), 400, "invalid"
    except StaleCheckIn as error:
        # The day already holds an answer saved after this one (a queue sent late): it is kept, and shown.
        db.session.rollback()
        page = _saved_page(error.stored, today, superseded=True)
        return page, 409, {"X-Journal-Outcome": "stale"}
    except CheckInError as error:
        db.session.rollback()
        errors = checkin_form_errors({error.field: [error.message]}, patient)
        status, outcome = (409, "locked") if error.status == 409 else (400, "invalid")
    else:
        return redirect(url_for("patient.checkin_saved", day=day))
    page = _render_form(patient, the_day, today, request.form, errors, existing)
    return page, status, {"X-Journal-Outcome": outcome}


def _save_retrying_a_race(patient, day: date, data: dict, now) -> None:
    """Save and commit. Two first saves of one day racing: the loser meets the unique key, and is run again
    against the winner's entry, so it gets the answer it would have had second (saved, repeated or stale)."""
    for attempt in range(2):
        try:
            save_checkin(db.session, patient, day, data, now, entered_by=current_user)
            db.session.commit()
            return
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise


def _render_form(patient, day: date, today: date, values, errors: dict, existing=None, offline: bool = False):
    return render_template(
        "patient/checkin.html",
        patient=patient,
        day=day,
        label=day_label(day, today),
        kind=day_kind(day, today),
        retrospective=day < today,
        words=day_words(day, today, offline=offline, language=request_language()),
        editing=existing is not None,
        offline=offline,
        values=values,
        errors=errors,
        submission_id=request.form.get("submission_id") or uuid.uuid4().hex,
        author=device.queue_owner(current_user),
        substances=translated(SUBSTANCES),
        frequencies=translated(CRAVING_FREQUENCIES),
        side_effects=translated(SIDE_EFFECTS),
        urinary_symptoms=translated(URINARY_SYMPTOMS),
        # Asked when due, and kept on the form when editing a day that answered it.
        ask_urinary=urinary_check_due(db.session, patient, day) or bool(existing and existing.urinary is not None),
        qualities=translated(SLEEP_QUALITY),
        note_promise=(current_user.clinic.note_review_promise, current_user.clinic.note_review_promise_es),
    )


def _editable_today(checkin: CheckIn, today: date) -> bool:
    zone = ZoneInfo(current_user.timezone)
    return checkin.source == EntrySource.PATIENT and checkin.created_at.astimezone(zone).date() == today


@bp.get("/checkin/<day>/saved")
@roles_required(Role.PATIENT)
def checkin_saved(day: str):
    the_day = _day_or_404(day)
    checkin = get_checkin(db.session, current_user.id, the_day)
    if checkin is None:
        return redirect(url_for("patient.checkin", day=day))
    return _saved_page(checkin, local_today(current_user, utcnow()))


def _saved_page(checkin: CheckIn, today: date, superseded: bool = False) -> str:
    """The stored answers of a day; ``superseded`` when the save just sent was older than them."""
    metrics = sleep_metrics(checkin.sleep) if checkin.sleep else None
    return render_template(
        "patient/saved.html",
        checkin=checkin,
        label=day_label(checkin.local_date, today),
        date_label=localized_long_date(checkin.local_date),
        when=day_words(checkin.local_date, today, language=request_language()).when,
        superseded=superseded,
        slept=describe_duration(metrics.tst_min) if metrics else None,
        metrics=metrics,
        editable=_editable_today(checkin, today),
        substances=translated(SUBSTANCES),
        note_promise=(current_user.clinic.note_review_promise, current_user.clinic.note_review_promise_es),
    )


@bp.get("/sw.js")
def service_worker():
    """Served from the root so that it may control every page of the journal."""
    script = (Path(current_app.static_folder) / "sw.js").read_bytes()
    return current_app.response_class(script, mimetype="text/javascript")


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: the name a phone gives the journal when it is added to the home screen, in the
    language of whoever adds it (the link is on patients' pages only, base.html)."""
    name = gettext("Journal")
    document = {
        "name": name,
        "short_name": name,
        "lang": current_locale(),
        "start_url": "/home",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f3f5f8",
        "theme_color": "#1f5f8b",
        "icons": [{"src": url_for("static", filename="icon.svg"), "sizes": "any", "type": "image/svg+xml",
                   "purpose": "any"}],
    }  # fmt: skip
    return current_app.response_class(json.dumps(document), mimetype="application/manifest+json")


@bp.get("/offline")
def offline():
    """What the service worker shows for a page it has no copy of, when there is no connection.

    The worker stores this page once, fetched without cookies, for everyone who uses the phone (static/sw.js):
    whoever reads it next may read the other language, so it says its few words in every language, the browser's
    first, each marked with its lang."""
    return render_template("offline.html", sections=in_every_language("_offline_words.html"))
