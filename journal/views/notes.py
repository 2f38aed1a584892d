"""The care team's notes inbox: marking a patient's unseen check-in notes as seen."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user

from .. import diary
from ..access import get_patient_or_404, patient_in_path_required
from ..db import db, utcnow
from ..models import Role
from ..security import roles_required

bp = Blueprint("notes", __name__, url_prefix="/clinician")


@bp.post("/patients/<id:patient_id>/notes/seen")
@roles_required(Role.CLINICIAN)
@patient_in_path_required
def mark_seen(patient_id: int):
    """Mark every note of the patient's that the care team has not opened as seen by this clinician (each one
    audited as ``note.seen``, as opening its day would), then back to the patient's days."""
    patient = get_patient_or_404(current_user, patient_id, action=None)  # each note is audited as it is marked
    count = diary.mark_all_seen(db.session, current_user, patient, utcnow())
    db.session.commit()
    if count:
        flash(f"{count} new note{'s' if count != 1 else ''} marked seen.", "success")
    else:
        flash("There were no new notes to mark seen.", "info")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="days"))
