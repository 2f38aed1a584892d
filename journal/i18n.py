"""Translation: which language a request is answered in, and the catalogues (Flask-Babel, gettext).

A signed-in patient gets the language stored with them (``Patient.language``); anyone not signed in gets the best
match of the browser's ``Accept-Language`` among ``LANGUAGES``; staff pages are English. The catalogues are
``journal/translations/<lang>/LC_MESSAGES/messages.po`` (committed); the ``.mo`` files are compiled from them by
``make translations-compile`` (a prerequisite of ``make install``, ``run`` and ``test``) and never committed.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale, refresh
from flask_login import current_user

DEFAULT_LANGUAGE = "en"
# The languages a patient can choose, named in themselves (as a language picker shows them).
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}


def select_locale() -> str:
    """The language of this request's pages: the patient's own, else the browser's best match, else English.
    Outside a request (the scheduler's jobs) English: a message to a patient names its language itself."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if current_user and current_user.is_authenticated:
        patient = getattr(current_user, "patient", None)
        if current_user.role == "patient" and patient is not None and patient.language in LANGUAGES:
            return patient.language
        return DEFAULT_LANGUAGE  # staff pages stay English for now (translatable, not translated)
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    # Flask-Babel keeps the locale it chose on ``g``, which outlives a request where an application context was
    # already open (the tests, a CLI command): choose afresh for every request, after the user is known.
    app.before_request(refresh)
    app.add_template_global(current_locale)
    app.add_template_global(LANGUAGES, "languages")


def current_locale() -> str:
    """The language code of this request (``<html lang>``)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE
