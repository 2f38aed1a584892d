"""The clinic's on-call rota (SAFE-R3), kept by its admins: who receives high-priority alerts first, and who
backs them up. Times are entered and shown in the admin's own time zone; an admin sees and changes only their
own clinic's rota. The rota names staff only, never a patient."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import audit
from ..db import db, utcnow
from ..models import Role
from ..oncall import MAX_SHIFT, ShiftError, add_shift, current_and_upcoming, delete_future_shift, eligible_clinicians
from ..security import roles_required
from . import local_time

bp = Blueprint("oncall", __name__, url_prefix="/admin/on-call")

FIELDS = ("clinician", "backup", "starts_at", "ends_at")


def _zone() -> ZoneInfo:
    return ZoneInfo(current_user.timezone)


def local_instant(text: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """A wall-clock time from a ``datetime-local`` field, as an instant in ``zone``; or the message saying why
    not. In the hour repeated when the clocks go back, the first of the two is meant (fold=0)."""
    text = (text or "").strip()
    if not text:
        return None, "Give a date and a time."
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None, "Give a date and a time, such as 2026-03-02 18:00."
    if naive.tzinfo is not None:
        return None, "Give a date and a time, such as 2026-03-02 18:00."
    local = naive.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        return None, f"This time does not exist in {zone.key}: the clocks went forward then."
    return local.astimezone(UTC), None


def _chosen_id(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def _render(values: dict, errors: dict, status: int = 200):
    now = utcnow()
    shifts = current_and_upcoming(db.session, current_user.clinic_id, now)
    return render_template(
        "admin/on_call.html",
        shifts=shifts,
        clinicians=eligible_clinicians(db.session, current_user.clinic_id),
        values=values,
        errors=errors,
        now=now,
        zone=_zone(),
        max_days=MAX_SHIFT.days,
        local_time=local_time,
    ), status


@bp.get("")
@roles_required(Role.ADMIN)
def rota():
    """The clinic's current and upcoming shifts, and the form to add one."""
    audit.record(current_user, "rota.list")
    db.session.commit()
    return _render({}, {})


@bp.post("")
@roles_required(Role.ADMIN)
def add():
    """Add a shift; every problem is reported at its field and nothing is saved."""
    form = {name: request.form.get(name, "") for name in FIELDS}
    zone = _zone()
    errors: dict[str, list[str]] = {}
    clinician_id = _chosen_id(form["clinician"])
    if clinician_id is None:
        errors["clinician"] = ["Choose the clinician on call."]
    backup_id = _chosen_id(form["backup"])
    if form["backup"].strip() and backup_id is None:
        errors["backup"] = ["Choose a clinician, or no backup."]
    starts_at, problem = local_instant(form["starts_at"], zone)
    if problem:
        errors["starts_at"] = [problem]
    ends_at, problem = local_instant(form["ends_at"], zone)
    if problem:
        errors["ends_at"] = [problem]
    if not errors:
        now = utcnow()
        try:
            shift = add_shift(
                db.session,
                current_user.clinic_id,
                clinician_id=clinician_id,
                backup_id=backup_id,
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=current_user,
                now=now,
            )
        except ShiftError as error:
            db.session.rollback()
            errors[error.field] = [error.message]
        else:
            backup = f"backup user {shift.backup_id}" if shift.backup_id else "no backup"
            audit.record(
                current_user,
                "rota.add",
                detail=(
                    f"shift {shift.id}; user {shift.clinician_id} on call; {backup}; "
                    f"{shift.starts_at.isoformat()} to {shift.ends_at.isoformat()}"
                ),
            )
            db.session.commit()
            flash("The shift is added to the rota.", "success")
            return redirect(url_for("oncall.rota"))
    audit.record(current_user, "rota.list")
    db.session.commit()
    return _render(form, errors, 400)


@bp.post("/<id:shift_id>/delete")
@roles_required(Role.ADMIN)
def delete(shift_id: int):
    """Delete a shift that has not started. One of another clinic, or already started, is a 404."""
    shift = delete_future_shift(db.session, current_user.clinic_id, shift_id, utcnow())
    if shift is None:
        abort(404)
    audit.record(current_user, "rota.delete", detail=f"shift {shift_id}; user {shift.clinician_id} on call")
    db.session.commit()
    flash("The shift is deleted.", "success")
    return redirect(url_for("oncall.rota"))
