"""Marking patient-visible wording for translation, free of Flask.

``N_`` marks a string defined away from a request (a module constant, a schema's error message) so that
``make translations`` extracts it; it is translated where it is shown, in the patient's language (the form macros
in templates/_forms.html translate each error message; views translate the names in the dictionaries they pass).
The API and staff pages show the English as written.

``Language`` carries what a domain module needs to word something for a patient (the day of a check-in): a
gettext and locale-aware date names. ``ENGLISH`` is the default, so that domain code and its tests need no Flask;
journal/i18n.py builds the request's one.

``catalogue`` is the compiled catalogue of one language, for what is worded away from any request, in the
recipient's language rather than the request's: the e-mails, push notifications and texts the outbox sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

CATALOGUES = Path(__file__).parent / "translations"


def N_(message: str) -> str:
    """The message unchanged: marked for extraction, translated where it is shown."""
    return message


class Wording(str):
    """A message with values in it, translatable where it is shown: as a string it is the English with the values
    filled in (the API, logs and staff pages show that); ``template`` is the marked text with named placeholders
    (``%(count)d``), which the page translates before filling them in (journal/i18n.py's ``translate`` filter).
    A translator needs the whole sentence with its placeholders: an English sentence with a number already in it
    matches no catalogue entry."""

    template: str
    values: dict

    def __new__(cls, template: str, **values) -> Wording:
        made = super().__new__(cls, template % values)
        made.template = template
        made.values = values
        return made

    def format(self, *_args, **_kwargs) -> Wording:
        # marshmallow's validators fill their own placeholders ({min}, {input}) into an error with str.format:
        # this message has its values already, and must stay a Wording to be translated.
        return self

    def __reduce__(self):
        return (_wording, (self.template, self.values))

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of ``gettext``, its values filled in."""
        return gettext(self.template) % self.values


def _wording(template: str, values: dict) -> Wording:
    return Wording(template, **values)


def english_long_date(day: date) -> str:
    """ "Monday 30 November": how the journal names a day to a patient when "today" could mislead."""
    return day.strftime("%A %-d %B")


@dataclass(frozen=True)
class Language:
    gettext: Callable[[str], str] = N_
    long_date: Callable[[date], str] = english_long_date
    weekday: Callable[[date], str] = lambda day: day.strftime("%A")
    one_decimal: Callable[[float], str] = lambda number: f"{number:.1f}"


ENGLISH = Language()


@lru_cache(maxsize=8)
def catalogue(language: str) -> NullTranslations:
    """The compiled catalogue of ``language`` ("en", "es"), for wording made away from a request (what the outbox
    sends: it is rendered by the scheduler, for a recipient whose language is not the request's). English, the
    language the strings are written in, has none; nor has a language whose catalogue is not compiled."""
    if language == "en":
        return NullTranslations()
    return Translations.load(str(CATALOGUES), [language])
