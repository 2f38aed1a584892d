"""Translation: which language a request is answered in, and the catalogues (Flask-Babel, gettext).

A signed-in patient gets the language stored with them (``Patient.language``); anyone not signed in gets the best
match of the browser's ``Accept-Language`` among ``LANGUAGES``; staff pages are English. The catalogues are
``journal/translations/<lang>/LC_MESSAGES/messages.po`` (committed); the ``.mo`` files are compiled from them by
the Makefile (a prerequisite of ``make install``, so of ``run`` and ``test``) and never committed.
"""

from __future__ import annotations

from datetime import date

from flask import Flask, has_request_context, render_template, request
from flask_babel import Babel, force_locale, format_date, format_decimal, get_locale, gettext, refresh
from flask_login import current_user
from markupsafe import Markup, escape

from .wording import CATALOGUES, ENGLISH, Language, Wording

DEFAULT_LANGUAGE = "en"
# The languages a patient can choose, named in themselves (as a language picker shows them).
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
# The locale each language is shown in: US conventions (a decimal point in Spanish too, as US Spanish writes it).
# The catalogue is looked up as es_US, then es.
LOCALES: dict[str, str] = {"en": "en_US", "es": "es_US"}
# How a day is named to a patient when "today" could mislead (CLDR patterns): "Monday 30 November",
# "lunes 30 de noviembre".
LONG_DATE_PATTERNS = {"en": "EEEE d MMMM", "es": "EEEE d 'de' MMMM"}
FULL_DATE_PATTERNS = {"en": "d MMMM y", "es": "d 'de' MMMM 'de' y"}  # "2 December 2026", "2 de diciembre de 2026"


def select_locale() -> str:
    """The language of this request's pages: the patient's own, else the browser's best match, else English.
    Outside a request (the scheduler's jobs) English: a message to a patient names its language itself."""
    if not has_request_context():
        return LOCALES[DEFAULT_LANGUAGE]
    if current_user and current_user.is_authenticated:
        if current_user.role != "patient":  # asked first: staff have no patient row to load
            return LOCALES[DEFAULT_LANGUAGE]  # staff pages stay English for now (translatable, not translated)
        patient = current_user.patient
        return LOCALES[patient.language if patient is not None and patient.language in LANGUAGES else DEFAULT_LANGUAGE]
    return LOCALES[request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE)]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    # Flask-Babel keeps the locale it chose on ``g``, which outlives a request where an application context was
    # already open (the tests, a CLI command): choose afresh for every request, after the user is known.
    app.before_request(refresh)
    app.add_template_global(current_locale)
    app.add_template_global(clinic_words)
    app.add_template_global(script_words)
    app.add_template_global(LANGUAGES, "languages")
    app.add_template_filter(full_date)
    # A message made away from the page (a schema's error, marked with wording.N_), in the page's language.
    app.add_template_filter(translate)
    _log_missing_catalogues(app)


def translate(message: str) -> str:
    """A marked message in this request's language; a ``Wording`` with its values filled in after."""
    if isinstance(message, Wording):
        return message.translated(gettext)
    return gettext(str(message))


def _log_missing_catalogues(app: Flask) -> None:
    """A language whose catalogue is not compiled falls back to English without a word (gettext's way): say so
    once at start-up, so that a deployment that skipped ``make install`` is noticed in its log."""
    for code in LANGUAGES:
        if code != DEFAULT_LANGUAGE and not (CATALOGUES / code / "LC_MESSAGES" / "messages.mo").is_file():
            app.logger.error("No compiled catalogue for %r: its speakers get English. Run make install.", code)


def script_words() -> dict[str, str]:
    """What static/js/journal.js tells a person (the check-ins waiting on the phone, turning on notifications), in
    this request's language: given to the script with the page (base.html, data-words) so that it has no English
    of its own to show. ``%(day)s`` is filled in by the script with the day in the page's language."""
    return {
        "waiting": gettext("Your check-in for %(day)s is saved on this phone and waiting to be sent."),
        "sent": gettext("Your check-in for %(day)s has been sent."),
        "stale": gettext("A newer answer for %(day)s was kept."),
        "too_late": gettext(
            "The check-in for %(day)s saved on this phone was not sent: that day's entry can no longer be changed."
        ),
        "invalid": gettext("The check-in for %(day)s saved on this phone was not accepted. Please enter it again."),
        "sign_out_one": gettext(
            "A check-in saved on this phone has not been sent yet (%(days)s). Signing out deletes it. Sign out anyway?"
        ),
        # More than one: the script fills in the number (Spanish and English have the same two plural forms).
        "sign_out_many": gettext(
            "%(count)s check-ins saved on this phone have not been sent yet (%(days)s). Signing out deletes them. "
            "Sign out anyway?"
        ),
        "no_push": gettext("This browser cannot show notifications from the journal."),
        "push_refused": gettext("Notifications are not allowed for this app."),
        "push_not_saved": gettext("The journal could not save this device."),
        "push_on": gettext("Notifications are on for this device. Tick “Notification on my devices” above and save."),
        "push_failed": gettext("Notifications could not be turned on."),
    }


def current_locale() -> str:
    """The language code of this request (``<html lang>``)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def clinic_words(english: str, spanish: str | None = None) -> Markup:
    """A clinic's own words (its hours, its promises), in this request's language when the clinic wrote them in it;
    otherwise as it wrote them in English, marked as English on a page in another language so that a screen reader
    reads them in English. Never translated by the journal: they are promises only the clinic can make."""
    code = current_locale()
    if code == DEFAULT_LANGUAGE:
        return escape(english)
    if code == "es" and spanish:
        return escape(spanish)
    return Markup('<span lang="en">%s</span>') % english


def request_language() -> Language:
    """This request's language for the domain modules' patient wording (journal/wording.py)."""
    code = current_locale()
    if code == DEFAULT_LANGUAGE:
        return ENGLISH
    return Language(
        gettext=gettext,
        long_date=long_date,
        weekday=lambda day: format_date(day, "EEEE"),
        one_decimal=lambda number: format_decimal(number, "0.0"),
    )


def long_date(day: date) -> str:
    """The day named in this request's language: "Monday 30 November", "lunes 30 de noviembre"."""
    return format_date(day, LONG_DATE_PATTERNS.get(current_locale(), LONG_DATE_PATTERNS[DEFAULT_LANGUAGE]))


def full_date(day: date) -> str:
    """A date with its year in this request's language (a datetime: its UTC date, as Flask-Babel's default)."""
    return format_date(day, FULL_DATE_PATTERNS.get(current_locale(), FULL_DATE_PATTERNS[DEFAULT_LANGUAGE]))


def translated(names: dict[str, str]) -> dict[str, str]:
    """A dictionary of marked names (journal/wording.py N_) with each name in this request's language."""
    return {code: gettext(name) for code, name in names.items()}


def in_every_language(template: str, **context) -> list[tuple[str, Markup]]:
    """``template`` rendered once in each language, this request's first: for a page stored once for everyone on
    a shared phone (the offline page), whose next reader may read the other language. The template is given
    ``first`` (true for this request's language), e.g. to make only the first heading the page's h1."""
    first = current_locale()
    codes = [first, *(code for code in LANGUAGES if code != first)]
    rendered = []
    for code in codes:
        with force_locale(LOCALES[code]):
            html = render_template(template, first=code == first, **context)
        rendered.append((code, Markup(html)))  # noqa: S704  # our own template, escaped as it was rendered
    return rendered
