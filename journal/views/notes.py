"""The care team's notes inbox: marking a patient's unseen check-in notes as seen."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notes", __name__, url_prefix="/clinician")
