"""Server-rendered pages, one blueprint per audience."""

from __future__ import annotations

import re

from flask import Flask


def sentence(text: str) -> str:
    """First letter upper-case, the rest as written (Jinja's capitalize would turn "November" into "november")."""
    return text[:1].upper() + text[1:]


def tel(number: str) -> str:
    """A phone number as a tel: or sms: link wants it: digits and a leading + only."""
    return re.sub(r"[^0-9+]", "", number)


def init_app(app: Flask) -> None:
    app.add_template_filter(sentence)
    app.add_template_filter(tel)
    from . import admin, auth, clinician, health, patient, questionnaires, settings

    for module in (auth, patient, questionnaires, settings, clinician, admin, health):
        app.register_blueprint(module.bp)
