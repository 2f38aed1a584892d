"""The patient's own pages, made for a phone."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from ..models import Role
from ..security import roles_required

bp = Blueprint("patient", __name__)


@bp.get("/home")
@roles_required(Role.PATIENT)
def home():
    return render_template("patient/home.html", patient=current_user.patient)
