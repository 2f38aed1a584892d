"""Server-rendered pages, one blueprint per audience."""

from __future__ import annotations

from flask import Flask


def sentence(text: str) -> str:
    """First letter upper-case, the rest as written (Jinja's capitalize would turn "November" into "november")."""
    return text[:1].upper() + text[1:]


def init_app(app: Flask) -> None:
    app.add_template_filter(sentence)
    from . import admin, auth, clinician, health, patient, settings

    for module in (auth, patient, settings, clinician, admin, health):
        app.register_blueprint(module.bp)
