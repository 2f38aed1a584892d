"""The patient's pages around a session: how to prepare for it (SPEC 7.5: shown only here, inside the app,
never in a message) and the side-effect checks the morning after and three days after it (KET-R3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from ..checkins import SIDE_EFFECTS
from ..db import db, utcnow
from ..i18n import long_date, translated
from ..models import DosingSession, Role, SessionStatus, SideEffectCheck
from ..schemas import SideEffectCheckSchema
from ..security import roles_required
from ..sessions import (
    CheckState,
    SessionError,
    check_changeable,
    check_closes_at,
    check_due_at,
    check_state,
    preparation_for,
    save_side_effect_check,
    session_cards,
    side_effect_check,
)
from ..wording import N_

bp = Blueprint("patient_sessions", __name__)

CHECK_TITLES = {"morning_after": N_("The morning after your session"), "72h": N_("Three days after your session")}
DROVE_QUESTION = N_("Did you drive or operate machinery on the day of the session?")
YES_NO = {"no": N_("No"), "yes": N_("Yes")}
CHECK_THE_ANSWERS = N_("Please check the answers marked below.")


def when(instant: datetime, zone: ZoneInfo) -> str:
    """'Tuesday 3 March at 10:00' ('martes 3 de marzo a las 10:00'), in the patient's own zone and language."""
    local = instant.astimezone(zone)
    return gettext("%(day)s at %(time)s", day=long_date(local.date()), time=local.strftime("%H:%M"))


def check_window() -> timedelta:
    """How long a post-session check stays open at the patient's clinic (Clinic.check_window_hours)."""
    return timedelta(hours=current_user.clinic.check_window_hours)


def _own_session_or_404(session_id: int) -> DosingSession:
    record = db.session.get(DosingSession, session_id)
    if record is None or record.patient_id != current_user.id:
        abort(404)
    return record


@bp.get("/sessions/<id:session_id>/prepare")
@roles_required(Role.PATIENT)
def prepare(session_id: int):
    """Where the evening-before message leads: when the session is, and what to do before it."""
    record = _own_session_or_404(session_id)
    return render_template(
        "patient/session_prepare.html",
        record=record,
        statuses=SessionStatus,
        starts=when(record.start, ZoneInfo(current_user.timezone)),
        steps=[gettext(step) for step in preparation_for(record.route)],
    )


@bp.route("/sessions/<id:session_id>/check/<any(morning_after,72h):kind>", methods=["GET", "POST"])
@roles_required(Role.PATIENT)
def check(session_id: int, kind: str):
    """KET-R3: each item 0-10 with nothing chosen beforehand, all optional but the driving question; or skip.
    A second submission within a day of the first replaces it (a mistaken skip can be undone)."""
    record = _own_session_or_404(session_id)
    if record.status == SessionStatus.CANCELLED:
        abort(404)  # a cancelled session has no checks, ever
    now = utcnow()
    zone = ZoneInfo(current_user.timezone)
    window = check_window()
    state = check_state(record, kind, zone, now, window)
    existing = side_effect_check(db.session, record.id, kind)
    if state == CheckState.CLOSED and existing is None:
        closed = when(check_closes_at(record.start, kind, zone, window), zone)
        page = render_template("patient/session_check_closed.html", title=gettext(CHECK_TITLES[kind]), closed=closed)
        return page, 409 if request.method == "POST" else 200
    if state in (CheckState.NOT_YET, CheckState.NOT_GIVEN):
        opens = when(check_due_at(record.start, kind, zone), zone) if record.status == SessionStatus.GIVEN else None
        page = render_template("patient/session_check_not_yet.html", title=gettext(CHECK_TITLES[kind]), opens=opens)
        return page, 409 if request.method == "POST" else 200
    if request.method == "GET" and existing is not None and request.args.get("change") != "1":
        return _done(record, kind, existing, now)
    if request.method == "GET" and existing is not None and not check_changeable(existing, now):
        return redirect(url_for("patient_sessions.check", session_id=session_id, kind=kind))

    errors: dict[str, list[str]] = {}
    status = 200
    values = _stored_values(existing) if existing is not None else {}
    if request.method == "POST":
        values = request.form
        try:
            answers = None if request.form.get("action") == "skip" else _load(request.form)
            saved = save_side_effect_check(db.session, record, kind, answers, now, zone, window)
            db.session.commit()
        except ValidationError as error:
            db.session.rollback()
            errors = {name: list(messages) for name, messages in error.messages.items()}
            errors["form"] = [CHECK_THE_ANSWERS]  # translated where it is shown, as the schema's messages
            status = 400
        except SessionError as error:
            db.session.rollback()
            return _done(record, kind, existing, now, refused=gettext(error.message)), error.status
        except IntegrityError:  # the same check sent twice at once: the first one stands
            db.session.rollback()
            return redirect(url_for("patient_sessions.check", session_id=session_id, kind=kind))
        else:
            return redirect(url_for("patient_sessions.check", session_id=saved.session_id, kind=kind))
    return render_template(
        "patient/session_check.html",
        record=record,
        kind=kind,
        title=gettext(CHECK_TITLES[kind]),
        session_day=long_date(record.start.astimezone(zone).date()),
        items=translated(SIDE_EFFECTS),
        drove_question=gettext(DROVE_QUESTION),
        yes_no=translated(YES_NO),
        values=values,
        errors=errors,
    ), status


def _load(form) -> dict:
    """The form's fields in the schema's shape: a chosen number as a number, yes/no as a boolean; anything else
    is passed on as sent, for the schema to name the problem."""
    data: dict = {}
    for name in SIDE_EFFECTS:
        value = form.get(name, "").strip()
        if value:
            data[name] = int(value) if re.fullmatch(r"\d{1,3}", value) else value
    drove = form.get("drove", "").strip()
    if drove:
        data["drove"] = {"yes": True, "no": False}.get(drove, drove)
    return SideEffectCheckSchema().load(data)


def _stored_values(check: SideEffectCheck) -> dict[str, str]:
    """A stored check as the form shows it when the patient changes their answers."""
    values = {name: str(value) for name, value in check.answers.items() if name in SIDE_EFFECTS}
    if "drove" in check.answers:
        values["drove"] = "yes" if check.answers["drove"] else "no"
    return values


def _done(record: DosingSession, kind: str, check: SideEffectCheck, now: datetime, refused: str | None = None):
    return render_template(
        "patient/session_check_done.html",
        record=record,
        kind=kind,
        title=gettext(CHECK_TITLES[kind]),
        check=check,
        changeable=check_changeable(check, now),
        refused=refused,
        clinic=current_user.clinic,
    )


@dataclass(frozen=True)
class HomeCheck:
    session_id: int
    kind: str
    title: str
    session_day: str


def session_cards_for_home() -> dict:
    """The home page's cards about sessions, in the patient's language: the next planned one, and any due,
    unanswered check."""
    zone = ZoneInfo(current_user.timezone)
    cards = session_cards(db.session, current_user, utcnow(), check_window())
    upcoming = cards.next_planned
    checks = [
        HomeCheck(
            due.session_id, due.kind, gettext(CHECK_TITLES[due.kind]), long_date(due.start.astimezone(zone).date())
        )
        for due in cards.due_checks
    ]
    next_when = None
    if upcoming is not None:
        start = upcoming.start.astimezone(zone)
        next_when = gettext("%(day)s at %(time)s", day=long_date(start.date()), time=start.strftime("%H:%M"))
    return {"next_id": upcoming.id if upcoming is not None else None, "next_when": next_when, "checks": checks}
