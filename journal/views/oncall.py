"""The clinic's on-call rota (SAFE-R3), kept by its admins: who receives high-priority alerts first, and who
backs them up."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("oncall", __name__, url_prefix="/admin/on-call")
