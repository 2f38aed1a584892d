"""Every string a patient sees on the translated pages comes from the catalogue, and has its Spanish.

Pages covered (each rendered as a Spanish-speaking patient, and as an English-speaking one for comparison):
  - the sign-in page (before sign-in, by the browser's Accept-Language), with its error summary;
  - the patient home, with a check-in, a missed day, a questionnaire due and the progress sentence;
  - the daily check-in, empty and with its errors (missing answers, sleep times that cannot be right), and the
    saved check-in with its sleep summary and a warning;
  - the crisis screen after PHQ-9 item 9 = 1, and the "Need help now?" page (with the clinic's phone);
  - the reminder settings, with the text-message opt-in and an error.
The questionnaire pages' own wording (the instruments are the published Spanish version where one is verified,
else English: tests/test_spanish_instruments.py), session checks and preparation:
tests/test_translations_questionnaires.py. Contact details, password and invitation pages, your data (and the own
CSV), error and offline pages: tests/test_translations_account.py. E-mails, push and texts in both languages:
tests/test_messages.py, tests/test_sms.py, tests/test_outbox_language.py. What the phone's script says:
tests/browser/test_spanish_pages.py.

Three checks: the Spanish catalogue has every entry a patient can see translated (not empty, not fuzzy, the same
placeholders; entries marked only on staff pages, STAFF_ONLY, may stay English);
extraction is up to date (every marked string is in the catalogue, and nothing else); and on each page above no
visible text is the same in Spanish as in English, except the data (names, numbers) and the clinic's own words,
which are marked lang="en" on a Spanish page. That last check is what fails when a string was never marked."""

from __future__ import annotations

import re
from datetime import timedelta
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from journal import ROOT
from journal.checkins import local_today
from journal.db import db, utcnow
from journal.i18n import LANGUAGES
from tests.conftest import csrf_token

CATALOGUE = ROOT / "journal" / "translations" / "es" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalogue():
    with CATALOGUE.open("rb") as file:
        return read_po(file, locale="es")


# Staff pages stay English (journal/i18n.py): their strings are in the catalogue, marked so that the pages can be
# translated one day, but need no Spanish. Paths from the project's root, as globs.
STAFF_ONLY = (
    "templates/admin/*.html",
    "templates/clinician/*.html",
    "templates/mfa/*.html",
    "templates/people/edit.html",
    "templates/_overview.html",
)


def _extracted():
    """Every marked string, with the files it is marked in (paths from the project's root)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str, set[str]] = {}
    for file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        found.setdefault(message if isinstance(message, str) else message[0], set()).add(Path(file).as_posix())
    return found


def _staff_only(files: set[str]) -> bool:
    return bool(files) and all(any(fnmatch(file, pattern) for pattern in STAFF_ONLY) for file in files)


def test_every_entry_of_the_spanish_catalogue_is_translated_with_the_same_placeholders():
    """Every entry a patient can see has its Spanish, with the same placeholders. An entry marked only in staff
    templates (STAFF_ONLY) may keep an empty translation: gettext then shows the English, as staff pages do; if
    it is translated, its placeholders are checked all the same. An entry also marked anywhere else (a patient
    page, the code) needs its Spanish, as it may reach a patient."""
    catalogue = _catalogue()
    extracted = _extracted()
    problems = []
    for message in catalogue:
        if not message.id:
            continue  # the header
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not any(strings) and not message.fuzzy and _staff_only(extracted.get(ids[0], set())):
            continue  # English on purpose
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
        elif any(set(PLACEHOLDER.findall(s)) != set(PLACEHOLDER.findall(ids[-1])) for s in strings[1:] or strings):
            problems.append(f"placeholders differ: {ids[0]!r}")
    assert not problems, "\n".join(problems)
    assert len([m for m in catalogue if m.id]) > 150  # the catalogue is the real one, not an empty file


def test_staff_only_entries_are_those_marked_only_in_staff_templates():
    assert _staff_only({"templates/clinician/dashboard.html", "templates/admin/staff.html"})
    assert not _staff_only({"templates/clinician/dashboard.html", "templates/patient/home.html"})
    assert not _staff_only({"journal/views/clinician.py"})
    assert not _staff_only({"templates/people/contact.html"})  # a patient's own contact details
    assert not _staff_only(set())  # no longer marked anywhere: not excused (the extraction test names it)


def test_extraction_is_up_to_date_with_the_catalogue():
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    extracted = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
        )
    }
    in_catalogue = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalogue() if m.id}
    assert sorted(extracted - in_catalogue) == [], "marked but not in the catalogue: run make translations"
    assert sorted(in_catalogue - extracted) == [], "in the catalogue but no longer marked: run make translations"


# --- The pages ------------------------------------------------------------------------------------------------


class _VisibleText(HTMLParser):
    """The text a person sees or hears on a page: text nodes and alt / aria-label / title, outside script and
    style, and outside anything marked lang="en" (the clinic's own words, an English-only questionnaire)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, bool]] = []  # (tag, inside something skipped)
        self.texts: set[str] = set()

    def _skipped(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        # lang="en" inside the page (not on <html>): words intentionally left in English on a Spanish page.
        skipped = self._skipped() or tag in ("script", "style", "head") or (tag != "html" and attrs.get("lang") == "en")
        if not skipped:
            for name in ("alt", "aria-label", "title"):
                if attrs.get(name):
                    self._add(attrs[name])
        if tag not in self.VOID:
            self.stack.append((tag, skipped))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not self._skipped():
            self._add(data)

    def _add(self, text):
        text = " ".join(text.split())
        if re.search(r"[A-Za-z]{2,}", text):  # words, not numbers or punctuation
            self.texts.add(text)


def _visible(html: str) -> set[str]:
    parser = _VisibleText()
    parser.feed(html)
    return parser.texts


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


# The same in both languages by nature: people's names, words Spanish shares, instrument and language names.
def _same_in_both(people) -> set[str]:
    return {
        people.pat.name.split()[0],
        people.alice.name,
        "Alcohol",
        "Cannabis",
        "No",
        "PHQ-9",
        "GAD-7",
        "STOP",
        *LANGUAGES.values(),
    }


@pytest.fixture
def spanish_setup(people):
    """Pat, on alice's team, with pain and sleep in the programme, the clinic's phone set, a check-in two days
    ago (so yesterday is a missed day) and a PHQ-9 due."""
    patient = people.pat.patient
    patient.tracks_pain = True
    patient.sleep_detail = True
    people.clinic.clinic_phone = "(617) 555-0100"
    db.session.commit()
    return people


def _in_language(people, code: str) -> None:
    people.pat.patient.language = code
    db.session.commit()


def _both(people, render) -> dict[str, str]:
    """The page in each language: ``render()`` is called once as a Spanish patient, once as an English one."""
    pages = {}
    for code in ("es", "en"):
        _in_language(people, code)
        pages[code] = render()
    return pages


def _assert_all_translated(pages: dict[str, str], people, what: str) -> None:
    assert _lang(pages["es"]) == "es" and _lang(pages["en"]) == "en", what
    untranslated = (_visible(pages["es"]) & _visible(pages["en"])) - _same_in_both(people)
    assert not untranslated, f"{what}: the same in Spanish as in English: {sorted(untranslated)}"


def test_the_sign_in_page_and_its_errors_are_in_spanish_for_a_spanish_browser(client, auth, people):
    pages = {
        code: client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
        for code, header in (("es", "es-US,es;q=0.9"), ("en", "en-US"))
    }
    _assert_all_translated(pages, people, "sign-in")
    assert "Iniciar sesión" in pages["es"]
    wrong = {"email": people.pat.email, "password": "not the password"}
    pages = {
        code: auth.client.post(
            "/login", data={**wrong, "csrf_token": csrf_token(client)}, headers={"Accept-Language": header}
        ).get_data(as_text=True)
        for code, header in (("es", "es-US,es;q=0.9"), ("en", "en-US"))
    }
    _assert_all_translated(pages, people, "sign-in with an error")
    assert "El correo electrónico o la contraseña no son correctos." in pages["es"]


def test_the_patient_home_is_in_spanish(client, auth, spanish_setup):
    people = spanish_setup
    auth.login(people.pat)
    today = local_today(people.pat, utcnow())
    form = {"mood": "6", "craving-alcohol": "2", "used-alcohol": "no", "pain": "3"}
    auth.post(f"/checkin/{(today - timedelta(days=2)).isoformat()}", form)
    pages = _both(people, lambda: client.get("/home").get_data(as_text=True))
    _assert_all_translated(pages, people, "home")
    assert "Hoy" in pages["es"] and "Mi progreso" in pages["es"]


def test_the_check_in_and_its_errors_are_in_spanish(client, auth, spanish_setup):
    people = spanish_setup
    auth.login(people.pat)
    day = local_today(people.pat, utcnow()).isoformat()
    pages = _both(people, lambda: client.get(f"/checkin/{day}").get_data(as_text=True))
    _assert_all_translated(pages, people, "check-in")
    bad = {"into_bed": "23:00", "tried_sleep": "22:00", "final_wake": "07:00", "out_of_bed": "07:30", "sol_min": "x"}
    pages = _both(people, lambda: auth.post(f"/checkin/{day}", bad).get_data(as_text=True))
    _assert_all_translated(pages, people, "check-in with errors")
    assert "Hay un problema" in pages["es"] and "Elija un número del 0 al 10." in pages["es"]


def test_the_saved_check_in_is_in_spanish(client, auth, spanish_setup):
    people = spanish_setup
    auth.login(people.pat)
    day = local_today(people.pat, utcnow()).isoformat()
    form = {
        "mood": "6",
        "craving-alcohol": "2",
        "used-alcohol": "yes",
        "pain": "3",
        "into_bed": "22:30",
        "tried_sleep": "23:00",
        "final_wake": "06:30",
        "out_of_bed": "07:00",
        "sol_min": "20",
        "awakenings": "0",
        "waso_min": "15",  # awake time with no awakenings: the diary's warning shows
        "quality": "good",
        "note": "A quiet day.",
    }
    assert auth.post(f"/checkin/{day}", form).status_code == 302
    pages = _both(people, lambda: client.get(f"/checkin/{day}/saved").get_data(as_text=True))
    _assert_all_translated(pages, people, "saved check-in")
    assert "Su registro de hoy está guardado." in pages["es"] and "sí consumió hoy" in pages["es"]
    assert "Anotó tiempo despierto durante la noche" in pages["es"]


def test_the_crisis_screen_and_help_page_are_complete_in_spanish_with_the_988_spanish_option(
    client, auth, spanish_setup
):
    people = spanish_setup
    auth.login(people.pat)
    _in_language(people, "es")
    answers = {f"item-{n}": "0" for n in range(1, 9)} | {"item-9": "1"}
    response = auth.post("/assessments/phq9", answers)
    assert response.status_code == 302
    support = response.headers["Location"]
    pages = _both(people, lambda: client.get(support).get_data(as_text=True))
    _assert_all_translated(pages, people, "crisis screen")
    assert "llame al 988 y oprima el 2, o envíe la palabra AYUDA por mensaje de texto al 988" in pages["es"]
    assert 'href="tel:988"' in pages["es"] and 'href="sms:988"' in pages["es"] and 'href="tel:911"' in pages["es"]
    pages = _both(people, lambda: client.get("/help").get_data(as_text=True))
    _assert_all_translated(pages, people, "help")


def test_the_reminder_settings_are_in_spanish(client, auth, spanish_setup):
    people = spanish_setup
    auth.login(people.pat)
    pages = _both(people, lambda: client.get("/settings/reminders").get_data(as_text=True))
    _assert_all_translated(pages, people, "reminders")
    assert "Recordatorios" in pages["es"]
    _in_language(people, "es")
    saved = auth.post("/settings/reminders", {"time": "20:00", "channels": "email"}, follow_redirects=True)
    assert "Se guardó la configuración de los recordatorios." in saved.get_data(as_text=True)  # the flash too


@pytest.mark.parametrize(
    ("instrument", "first_item"),
    [("peg", "What number best describes your pain"), ("pcl5", "Repeated, disturbing, and unwanted memories")],
)
def test_a_questionnaire_without_a_verified_spanish_version_is_shown_in_english_with_a_spanish_sentence_saying_why(
    client, auth, people, instrument, first_item
):
    """Validated questionnaires are never machine-translated: only the PHQ-9 and GAD-7 have their published Spanish
    versions in the journal (tests/test_spanish_instruments.py); the others stay English, and the page says why in
    Spanish."""
    people.pat.patient.indications = ["ptsd", "chronic_pain"]
    auth.login(people.pat)
    _in_language(people, "es")
    page = client.get(f"/assessments/{instrument}").get_data(as_text=True)
    assert "el diario todavía no tiene una versión verificada en su idioma" in page
    assert '<form method="post" lang="en"' in page
    assert first_item in page  # the published English item, unchanged


def test_the_catalogue_file_is_committed_and_its_compiled_form_is_not():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert CATALOGUE.is_file() and "*.mo" in ignored
    assert Path(CATALOGUE.with_suffix(".mo")).exists(), "run make install (it compiles the catalogues)"


def test_reminder_setting_errors_are_in_spanish_including_those_with_values_and_list_items(client, auth, spanish_setup):
    """The schema's messages (a time, a channel that is not one, quiet hours with one end) and the message with the
    patient's own times in it, all on one Spanish page: nothing left in English, and no list index shown."""
    people = spanish_setup
    auth.login(people.pat)
    bad = {"time": "25:99", "channels": "carrier-pigeon", "quiet_start": "22:00"}
    pages = _both(people, lambda: auth.post("/settings/reminders", bad).get_data(as_text=True))
    _assert_all_translated(pages, people, "reminders with schema errors")
    assert "Escriba una hora con el formato HH:MM, por ejemplo 20:00." in pages["es"]
    assert "Elija correo electrónico, notificaciones o mensajes de texto." in pages["es"]
    assert 'id="channels-error">0' not in pages["es"]
    quiet = {"time": "23:15", "channels": "email", "quiet_start": "22:00", "quiet_end": "07:00"}
    pages = _both(people, lambda: auth.post("/settings/reminders", quiet).get_data(as_text=True))
    _assert_all_translated(pages, people, "reminders inside quiet hours")
    assert "La hora 23:15 está dentro de sus horas de silencio (de 22:00 a 07:00)" in pages["es"]


def test_marshmallows_own_messages_marked_for_the_catalogue_are_still_marshmallows_words():
    """A field without a message of its own shows marshmallow's, translated through the catalogue: if an upgrade
    rewords one, the marked copy would no longer match and the page would show it in English."""
    from marshmallow import Schema, fields

    from journal.schemas import MARSHMALLOW_MESSAGES

    kinds = (fields.Field, fields.String, fields.Integer, fields.Number, fields.Boolean, fields.List, fields.Date)
    kinds += (fields.Email, fields.Nested)
    defaults = {message for cls in kinds for message in cls.default_error_messages.values()}
    defaults |= set(Schema._default_error_messages.values())
    assert set(MARSHMALLOW_MESSAGES) <= defaults, sorted(set(MARSHMALLOW_MESSAGES) - defaults)
    spanish = {m.id: m.string for m in _catalogue()}
    assert all(spanish.get(message) for message in MARSHMALLOW_MESSAGES)


def test_a_language_without_its_compiled_catalogue_is_logged_at_start_up(app, monkeypatch, caplog, tmp_path):
    """gettext falls back to English without a word: the start-up log must say so, or a Spanish-speaking patient
    would silently get English."""
    from journal import i18n

    monkeypatch.setattr(i18n, "CATALOGUES", tmp_path)
    with caplog.at_level("ERROR"):
        i18n._log_missing_catalogues(app)
    assert "No compiled catalogue for 'es'" in caplog.text
    caplog.clear()
    monkeypatch.setattr(i18n, "CATALOGUES", CATALOGUE.parents[2])
    with caplog.at_level("ERROR"):
        i18n._log_missing_catalogues(app)
    assert "No compiled catalogue" not in caplog.text
