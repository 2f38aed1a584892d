"""Server-rendered pages, one blueprint per audience."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import admin, auth, clinician, health, patient, settings

    for module in (auth, patient, settings, clinician, admin, health):
        app.register_blueprint(module.bp)
