"""Contact details and programme: the patient's phone, emergency contact and time zone (theirs to change), and
for the care team also the programme, with its history."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("people", __name__)
