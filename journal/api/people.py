"""People: a patient changes their own time zone, phone and emergency contact (PATCH /me); the care team those
and the programme (PATCH /patients/{id})."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("api_people", __name__, url_prefix="/api/v1", description="Contact details and programme")
