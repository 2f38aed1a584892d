"""The patient's account, data and error pages are complete in Spanish, as tests/test_translations.py checks the
daily pages: each rendered for a Spanish-speaking patient (or, before sign-in, a browser asking for Spanish) and for
an English-speaking one, and no visible text may be the same in both except the data (names, addresses, the time
zone names, which are IANA identifiers).

Covered: the contact details page with its phone-number errors and its flash; the password change, forgotten
password (request, sent, the e-mailed link, a link no longer valid) and invitation pages with their errors; the page
for a link opened while someone else is signed in; "Your data" and the header of the patient's own CSV; the error
pages (404, 405, an expired form, 429, 500); and the offline page, which is stored once for everyone on the phone
and so says its words in both languages.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from werkzeug.exceptions import InternalServerError, TooManyRequests

from journal import errors, export
from journal.accounts import PatientDetails, enrol_patient, request_password_reset
from journal.checkins import local_today
from journal.db import db, utcnow
from tests.conftest import PASSWORD, bearer, csrf_token
from tests.test_translations import _assert_all_translated, _both, _in_language, _same_in_both, _visible

SPANISH = "es-US,es;q=0.9"
ENGLISH = "en-US,en;q=0.9"
NEW_PASSWORD = "lantern orchard pebble harbor"  # nosec B105 # a test password


ZONE_CHOICES = re.compile(r'<select id="timezone".*?</select>', re.S)


def _assert_pages_translated(pages: dict[str, str], people, what: str, *data: str) -> None:
    """tests/test_translations.py's check, without the time zone choices (IANA names, the same in every language)
    and without ``data``: what the person typed or is called (an address), shown as it is."""
    cleaned = {}
    for code, page in pages.items():
        page = ZONE_CHOICES.sub("", page)
        for value in data:
            page = page.replace(value, "")
        cleaned[code] = page
    _assert_all_translated(cleaned, people, what)


def _by_browser(request) -> dict[str, str]:
    """``request(headers)`` once with a browser asking for Spanish, once for English: the pages before sign-in."""
    return {
        code: request({"Accept-Language": header}).get_data(as_text=True)
        for code, header in (("es", SPANISH), ("en", ENGLISH))
    }


# --- Contact details ------------------------------------------------------------------------------------------


def test_the_contact_details_page_is_in_spanish(client, auth, people):
    auth.login(people.pat)
    pages = _both(people, lambda: client.get("/settings/contact").get_data(as_text=True))
    _assert_pages_translated(pages, people, "contact details")
    assert "Contacto de emergencia" in pages["es"] and "Zona horaria" in pages["es"]


def test_the_phone_number_errors_are_in_spanish_with_their_values(client, auth, people):
    auth.login(people.pat)
    form = {
        "phone": "call me",  # letters
        "emergency_contact_name": "x" * 121,  # too long: a message with its number in it
        "emergency_contact_phone": "12",  # too short
        "timezone": "America/New_York",
    }

    def post():
        response = auth.post("/settings/contact", {**form, "language": people.pat.patient.language})
        assert response.status_code == 400
        return response.get_data(as_text=True)

    pages = _both(people, post)
    _assert_pages_translated(pages, people, "contact details with errors")
    assert "Hay un problema" in pages["es"]
    assert "Use solo dígitos, con espacios, paréntesis o guiones si quiere (las letras no se leen)." in pages["es"]
    assert "Escriba un nombre de 120 caracteres como máximo." in pages["es"]
    assert "Give a name of at most 120 characters." in pages["en"]  # English as it was


def test_an_emergency_contact_without_a_number_is_refused_in_spanish(client, auth, people):
    auth.login(people.pat)
    _in_language(people, "es")
    form = {"phone": "", "emergency_contact_name": "Sam", "emergency_contact_phone": "", "timezone": "UTC"}
    page = auth.post("/settings/contact", {**form, "language": "es"}).get_data(as_text=True)
    assert "Escriba el nombre y el número de teléfono del contacto de emergencia, o ninguno de los dos." in page


def test_saved_contact_details_are_confirmed_in_the_language_just_chosen(client, auth, people):
    auth.login(people.pat)
    _in_language(people, "en")
    form = {"phone": "", "emergency_contact_name": "", "emergency_contact_phone": "", "timezone": "UTC"}
    saved = auth.post("/settings/contact", {**form, "language": "es"}, follow_redirects=True).get_data(as_text=True)
    assert "Sus datos están guardados." in saved and '<html lang="es">' in saved


# --- Passwords and invitations --------------------------------------------------------------------------------


def test_the_password_change_page_and_its_errors_are_in_spanish(client, auth, people):
    auth.login(people.pat)
    pages = _both(people, lambda: client.get("/settings/password").get_data(as_text=True))
    _assert_pages_translated(pages, people, "password change")
    assert "Cambiar su contraseña" in pages["es"]
    bad = {"current_password": "not it at all", "new_password": "short", "new_password_confirm": "other"}
    pages = _both(people, lambda: auth.post("/settings/password", bad).get_data(as_text=True))
    _assert_pages_translated(pages, people, "password change with errors")
    assert "Use una contraseña de al menos 10 caracteres." in pages["es"]
    wrong = {"current_password": "not it at all", "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    pages = _both(people, lambda: auth.post("/settings/password", wrong).get_data(as_text=True))
    _assert_pages_translated(pages, people, "password change with a wrong current password")
    assert "Esta no es su contraseña actual." in pages["es"]


def test_a_changed_password_is_confirmed_in_spanish(client, auth, people):
    auth.login(people.pat)
    _in_language(people, "es")
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    page = auth.post("/settings/password", form, follow_redirects=True).get_data(as_text=True)
    assert "Su contraseña cambió. Se cerró la sesión en los demás dispositivos." in page


def test_the_forgotten_password_pages_follow_the_browsers_language(client, people):
    pages = _by_browser(lambda headers: client.get("/password-reset", headers=headers))
    _assert_pages_translated(pages, people, "forgotten password")
    token = csrf_token(client, "/password-reset")
    pages = _by_browser(
        lambda headers: client.post(
            "/password-reset", data={"email": "not an address", "csrf_token": token}, headers=headers
        )
    )
    _assert_pages_translated(pages, people, "forgotten password with an error")
    assert "No es un correo electrónico válido." in pages["es"]
    pages = _by_browser(
        lambda headers: client.post(
            "/password-reset", data={"email": "nobody@patient.test", "csrf_token": token}, headers=headers
        )
    )
    _assert_pages_translated(pages, people, "reset link sent")
    assert "El enlace funciona una sola vez, durante 60 minutos." in pages["es"]


def test_the_emailed_reset_link_and_its_errors_follow_the_browsers_language(app, client, people):
    _user, token = request_password_reset(db.session, people.pat.email, utcnow(), minutes=60)
    db.session.commit()
    path = f"/password-reset/{token}"
    pages = _by_browser(lambda headers: client.get(path, headers=headers))
    _assert_pages_translated(pages, people, "new password", people.pat.email)
    form = {"password": NEW_PASSWORD, "password_confirm": "different", "csrf_token": csrf_token(client, path)}
    pages = _by_browser(lambda headers: client.post(path, data=form, headers=headers))
    _assert_pages_translated(pages, people, "new password with errors", people.pat.email)
    assert "Las dos contraseñas no son iguales." in pages["es"]
    pages = _by_browser(lambda headers: client.get("/password-reset/not-a-token", headers=headers))
    _assert_pages_translated(pages, people, "reset link not valid")
    assert "Este enlace no es válido" in pages["es"]


def _invited(people, days_ago: int = 0) -> tuple:
    """Robin, enrolled by alice ``days_ago`` days ago and not yet signed in: the account and the link's token."""
    details = PatientDetails(name="Robin Reed", email="robin@patient.test", timezone="America/Chicago", substances=[])
    user, token = enrol_patient(db.session, people.alice, details, utcnow() - timedelta(days=days_ago), 7)
    db.session.commit()
    return user, token


def test_the_invitation_pages_and_their_errors_follow_the_browsers_language(app, client, people):
    robin, token = _invited(people)
    path = f"/invite/{token}"
    pages = _by_browser(lambda headers: client.get(path, headers=headers))
    _assert_pages_translated(pages, people, "invitation", robin.email)
    assert "Le damos la bienvenida, Robin Reed" in pages["es"]
    form = {"password": "short", "password_confirm": "short", "csrf_token": csrf_token(client, path)}
    pages = _by_browser(lambda headers: client.post(path, data=form, headers=headers))
    _assert_pages_translated(pages, people, "invitation with an error", robin.email)
    assert "Use una contraseña de al menos 10 caracteres." in pages["es"]
    pages = _by_browser(lambda headers: client.get("/invite/not-a-token", headers=headers))
    _assert_pages_translated(pages, people, "invitation not valid")


def test_a_link_for_another_account_is_explained_in_the_signed_in_patients_language(app, client, auth, people):
    _robin, token = _invited(people)
    _, reset = request_password_reset(db.session, people.quinn.email, utcnow(), minutes=60)
    db.session.commit()
    auth.login(people.pat)
    for path in (f"/invite/{token}", f"/password-reset/{reset}"):
        pages = _both(people, lambda path=path: client.get(path).get_data(as_text=True))
        _assert_pages_translated(pages, people, f"another account's link {path}", people.pat.name)
        assert "Este enlace es para otra persona" in pages["es"]


# --- Your data and the own CSV ----------------------------------------------------------------------------------


def test_your_data_page_is_in_spanish(client, auth, people):
    auth.login(people.pat)
    pages = _both(people, lambda: client.get("/settings/data").get_data(as_text=True))
    _assert_pages_translated(pages, people, "your data")
    assert "Descargar CSV" in pages["es"] and "Su contenido está en inglés" in pages["es"]


def test_the_own_csv_has_its_header_and_words_in_the_patients_language(client, auth, people):
    auth.login(people.pat)
    today = local_today(people.pat, utcnow()).isoformat()
    saved = auth.post(f"/checkin/{today}", {"mood": "6", "craving-alcohol": "2", "used-alcohol": "yes"})
    assert saved.status_code == 302
    files = _both(people, lambda: client.get("/settings/export.csv").get_data(as_text=True))
    spanish_header = files["es"].removeprefix("\ufeff").split("\r\n", 1)[0].split(",")
    english_header = files["en"].removeprefix("\ufeff").split("\r\n", 1)[0].split(",")
    assert tuple(english_header) == export.COLUMN_NAMES  # the English file is the machine file, unchanged
    assert spanish_header[:3] == ["tipo_de_dato", "paciente_id", "id"]
    assert len(spanish_header) == len(english_header)
    assert not set(spanish_header) & set(english_header) - {"id", "total", "item9"}
    assert export.read_csv(files["en"])  # still read back
    assert "\r\ncheckin," in files["en"] and "\r\nregistro," in files["es"]  # the record type
    assert ",true," in files["en"] and ",sí," in files["es"] and ",true," not in files["es"]  # used: yes


def test_the_api_download_keeps_the_machine_words_for_a_spanish_patient(client, people):
    _in_language(people, "es")
    text = client.get("/api/v1/me/export.csv", headers=bearer(client, people.pat)).get_data(as_text=True)
    assert text.removeprefix("\ufeff").startswith("record_type,patient_id")
    export.read_csv(text)  # reads without an error


# --- Error pages -------------------------------------------------------------------------------------------------


def test_error_pages_are_in_the_patients_language(client, auth, people):
    auth.login(people.pat)
    pages = _both(people, lambda: client.get("/no-such-page").get_data(as_text=True))
    _assert_pages_translated(pages, people, "404")
    assert "Aquí no hay nada." in pages["es"]
    pages = _both(people, lambda: client.post("/home").get_data(as_text=True))
    _assert_pages_translated(pages, people, "405")
    pages = _both(people, lambda: client.post("/settings/contact", data={"phone": ""}).get_data(as_text=True))
    _assert_pages_translated(pages, people, "expired form")
    assert "Este formulario había vencido." in pages["es"]
    # A staff page, to a patient: a 404 in their language, as if it did not exist.
    pages = _both(people, lambda: client.get("/clinician/patients").get_data(as_text=True))
    _assert_pages_translated(pages, people, "staff page")


def test_error_pages_before_sign_in_follow_the_browser(client, people):
    pages = _by_browser(lambda headers: client.get("/no-such-page", headers=headers))
    _assert_pages_translated(pages, people, "404 before sign-in")


@pytest.mark.parametrize(
    ("error", "spanish"),
    [
        (TooManyRequests(), "Demasiados intentos en poco tiempo."),
        (InternalServerError(), "Algo falló de nuestro lado."),
    ],
)
def test_too_many_attempts_and_a_server_error_are_told_in_the_browsers_language(app, people, error, spanish):
    pages = {}
    for code, header in (("es", SPANISH), ("en", ENGLISH)):
        with app.test_request_context("/home", headers={"Accept-Language": header}):
            app.preprocess_request()
            body, status, _headers = errors._handle_http_exception(error)
            assert status == error.code
            pages[code] = body
    _assert_pages_translated(pages, people, str(error.code))
    assert spanish in pages["es"]


# --- The offline page ------------------------------------------------------------------------------------------


def test_the_offline_page_says_its_words_in_both_languages_the_browsers_first(client, people):
    pages = _by_browser(lambda headers: client.get("/offline", headers=headers))
    assert '<html lang="es">' in pages["es"] and '<html lang="en">' in pages["en"]
    assert re.search(r"<h1>\s*Sin conexión\s*</h1>", pages["es"]) and re.search(r"<h2>\s*No connection", pages["es"])
    assert re.search(r"<h1>\s*No connection\s*</h1>", pages["en"]) and re.search(r"<h2>\s*Sin conexión", pages["en"])
    for page in pages.values():  # each language's words inside an element that names it
        assert '<div lang="es"' in page and '<div lang="en"' in page
        assert page.count('href="tel:988"') == 2
    # Outside the English part, the Spanish page says nothing in English (as the other pages' check).
    english_only = _visible(pages["en"].replace('<div lang="es"', '<div lang="en"'))
    left = (_visible(pages["es"]) & english_only) - _same_in_both(people)
    assert not left, f"offline: English outside lang=en: {sorted(left)}"
    assert "Llamar al 911" in pages["es"] and "Call 911" in pages["es"]


def test_an_invitation_opened_too_late_is_explained_in_the_browsers_language(app, client, people):
    _robin, token = _invited(people, days_ago=8)
    page = client.get(f"/invite/{token}", headers={"Accept-Language": SPANISH}).get_data(as_text=True)
    assert "Es posible que ya se haya usado, o que tenga más de 7 días." in page


def test_the_pause_after_failed_sign_ins_is_told_in_the_browsers_language(client, people):
    """The wrong-password sentence and the pause it causes are two messages, each translated."""
    wrong = {"email": people.pat.email, "password": "not the password"}
    for _ in range(4):
        client.post("/login", data={**wrong, "csrf_token": csrf_token(client)})
    fifth = client.post(
        "/login", data={**wrong, "csrf_token": csrf_token(client)}, headers={"Accept-Language": SPANISH}
    ).get_data(as_text=True)
    assert (
        "El correo electrónico o la contraseña no son correctos. Demasiados intentos. Espere 1 minuto e inténtelo de "
        "nuevo, o cree una contraseña nueva." in fifth
    )


def test_the_home_screen_name_is_in_the_patients_language(client, auth, people):
    """The web app manifest names the journal on a phone's home screen: in the language of whoever adds it."""
    auth.login(people.pat)
    for code, name in (("es", "Diario"), ("en", "Journal")):
        _in_language(people, code)
        response = client.get("/manifest.webmanifest")
        assert response.mimetype == "application/manifest+json"
        manifest = response.get_json(force=True)
        assert (manifest["name"], manifest["short_name"], manifest["lang"]) == (name, name, code)
        assert manifest["start_url"] == "/home" and manifest["icons"][0]["src"] == "/static/icon.svg"
    page = client.get("/home").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
